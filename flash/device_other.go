//go:build !linux

package flash

import (
	"errors"
	"fmt"
)

// InspectDevice is only implemented on Linux.
func InspectDevice(path string) (*Device, error) {
	return nil, fmt.Errorf("%s: inspecting block devices: %w on this system", path, errors.ErrUnsupported)
}

// Uses is only implemented on Linux.
func (d *Device) Uses() ([]Use, error) { return nil, errors.ErrUnsupported }

// RereadPartitions is only implemented on Linux.
func (t *Target) RereadPartitions() error { return nil }
