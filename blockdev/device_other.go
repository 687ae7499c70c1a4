//go:build !linux

package blockdev

import (
	"errors"
	"fmt"
)

// Inspect is only implemented on Linux.
func Inspect(path string) (*Device, error) {
	return nil, fmt.Errorf("%s: inspecting block devices: %w on this system", path, errors.ErrUnsupported)
}

// Uses is only implemented on Linux.
func (d *Device) Uses() ([]Use, error) { return nil, errors.ErrUnsupported }
