//go:build !linux

package fiemap

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// fiemapExtents fails: FS_IOC_FIEMAP is Linux's, so ExtentsMethod goes on
// to MethodSeek.
func fiemapExtents(f *os.File, size int64, n int) ([]Extent, error) {
	return nil, notHere(f, "fiemap", "FS_IOC_FIEMAP")
}

// unsupported reports whether err from extentsWith(f, m) means that f's
// filesystem or this system lacks method m, so that the next method should
// be tried.
func unsupported(m Method, err error) bool {
	return errors.Is(err, errors.ErrUnsupported) || m == MethodSeek && noSeekData(err)
}

// notHere is the error of a method this system does not have; it wraps
// errors.ErrUnsupported.
func notHere(f *os.File, op, feature string) error {
	return &os.PathError{Op: op, Path: f.Name(), Err: fmt.Errorf("%s on %s: %w", feature, runtime.GOOS, errors.ErrUnsupported)}
}
