//go:build !linux

package fiemap

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// fiemapExtents is Linux-only; ExtentsMethod falls through to MethodWhole.
func fiemapExtents(f *os.File, size int64, n int) ([]Extent, error) {
	return nil, notLinux(f, "fiemap", "FS_IOC_FIEMAP")
}

// seekExtents is Linux-only; ExtentsMethod falls through to MethodWhole.
func seekExtents(f *os.File, size int64) ([]Extent, error) {
	return nil, notLinux(f, "fiemap", "lseek(SEEK_DATA)")
}

func unsupported(m Method, err error) bool { return errors.Is(err, errors.ErrUnsupported) }

// BlockSize returns an error wrapping errors.ErrUnsupported: FIGETBSZ is
// Linux-only.
func BlockSize(f *os.File) (int64, error) {
	return 0, notLinux(f, "blocksize", "FIGETBSZ")
}

func notLinux(f *os.File, op, feature string) error {
	return &os.PathError{Op: op, Path: f.Name(), Err: fmt.Errorf("%s on %s: %w", feature, runtime.GOOS, errors.ErrUnsupported)}
}
