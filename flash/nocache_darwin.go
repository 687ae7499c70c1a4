package flash

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// macOS has no O_DIRECT. fcntl(F_NOCACHE) stands in for it: reads and
// writes on the descriptor bypass the unified buffer cache, with no
// alignment rules, so a Target writes a file without filling the cache and
// a DirectReader reads back what reached the disk. The Linux logic around
// it (turned off for unaligned writes, aligned bounce buffers for reads) is
// harmless here.

// openDirect opens path and sets F_NOCACHE on it if the filesystem allows.
func openDirect(path string, flag int, perm os.FileMode) (*os.File, bool, error) {
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		return nil, false, err
	}
	return f, setDirect(f, true) == nil, nil
}

func setDirect(f *os.File, on bool) error {
	v := 0
	if on {
		v = 1
	}
	_, err := unix.FcntlInt(f.Fd(), unix.F_NOCACHE, v)
	return err
}

func isEINVAL(err error) bool { return errors.Is(err, unix.EINVAL) }
