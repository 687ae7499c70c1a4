//go:build !linux

package flash

import (
	"errors"
	"fmt"
	"os"
)

func openBlockDevice(path string, imageSize int64) (*Target, error) {
	return nil, fmt.Errorf("%s: writing block devices: %w on this system", path, errors.ErrUnsupported)
}

func dropCache(*os.File) {}

// RereadPartitions is only implemented on Linux.
func (t *Target) RereadPartitions() error { return nil }
