//go:build !linux && !darwin && !freebsd

package fiemap

import "os"

// seekExtents fails: this system has no lseek(SEEK_DATA) (or x/sys/unix
// does not name it), so ExtentsMethod maps the whole file (MethodWhole).
func seekExtents(f *os.File, size int64) ([]Extent, error) {
	return nil, notHere(f, "fiemap", "lseek(SEEK_DATA)")
}

func noSeekData(error) bool { return false }
