//go:build linux || darwin || freebsd

package fiemap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// seekExtents maps [0, size) of f with lseek(SEEK_DATA) and lseek(SEEK_HOLE),
// restoring the file offset afterwards.
func seekExtents(f *os.File, size int64) ([]Extent, error) {
	var out []Extent
	err := control(f, func(fd int) (err error) {
		cur, err := unix.Seek(fd, 0, io.SeekCurrent)
		if err != nil {
			return os.NewSyscallError("lseek", err)
		}
		defer func() {
			if _, serr := unix.Seek(fd, cur, io.SeekStart); serr != nil && err == nil {
				err = os.NewSyscallError("lseek", serr)
			}
		}()
		// At least one call, so that an empty file on a filesystem without
		// SEEK_DATA still reports EINVAL.
		for off := int64(0); off == 0 || off < size; {
			data, err := unix.Seek(fd, off, unix.SEEK_DATA)
			if errors.Is(err, unix.ENXIO) { // no data at or after off
				break
			}
			if err != nil {
				return os.NewSyscallError("lseek(SEEK_DATA)", err)
			}
			hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
			if errors.Is(err, unix.ENXIO) { // truncated meanwhile
				break
			}
			if err != nil {
				return os.NewSyscallError("lseek(SEEK_HOLE)", err)
			}
			if hole <= data {
				return fmt.Errorf("lseek(SEEK_HOLE) made no progress at byte %d", data)
			}
			out = append(out, Extent{data, hole - data})
			off = hole
		}
		return nil
	})
	if err != nil {
		return nil, &os.PathError{Op: "fiemap", Path: f.Name(), Err: err}
	}
	return out, nil
}

// noSeekData reports whether err from lseek(SEEK_DATA) means that the
// filesystem does not implement it: EINVAL (Linux, FreeBSD); a macOS
// filesystem without it may answer ENOTTY or ENOTSUP instead.
func noSeekData(err error) bool {
	if errors.Is(err, unix.EINVAL) {
		return true
	}
	return runtime.GOOS == "darwin" && (errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.ENOTSUP))
}
