//go:build !linux

package flash

import (
	"errors"
	"fmt"
	"os"
)

func openDirect(path string, flag int, perm os.FileMode) (*os.File, bool, error) {
	f, err := os.OpenFile(path, flag, perm)
	return f, false, err
}

func setDirect(*os.File, bool) error { return errors.ErrUnsupported }

func isEINVAL(error) bool { return false }

func openBlockDevice(path string, imageSize int64) (*Target, error) {
	return nil, fmt.Errorf("%s: writing block devices: %w on this system", path, errors.ErrUnsupported)
}

func dropCache(*os.File) {}

// RereadPartitions is only implemented on Linux.
func (t *Target) RereadPartitions() error { return nil }
