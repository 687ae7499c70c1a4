package job

import (
	"fmt"
	"os"
	"strings"

	"github.com/bmap-tools/bmap/blockdev"
)

// DestPolicy is what a destination must be to be written.
type DestPolicy struct {
	// RemovableOnly refuses anything but a removable disk (SD cards in
	// MMC readers count as removable).
	RemovableOnly bool
	// Force skips the in-use checks (a mounted filesystem, swap, a device
	// built on it) for when they are wrong. The kernel's exclusive open
	// still refuses a device that is really in use, and the running
	// system's root filesystem is always refused.
	Force bool
}

// checkDestination refuses, before anything is opened for writing, a block
// device that is read-only, in use or holds the running system (and, with
// RemovableOnly, one that is not removable). It returns the path to open:
// symlinks such as /dev/disk/by-id/... resolved.
func checkDestination(log Logger, dest string, p DestPolicy) (string, error) {
	fi, err := os.Stat(dest)
	if err != nil || fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		if p.RemovableOnly {
			return "", fmt.Errorf("destination file %s is not a block device, but --removable-device was given", dest)
		}
		return dest, nil // flash.OpenTarget handles files, character devices and missing paths
	}
	d, err := blockdev.Inspect(dest)
	if err != nil {
		return "", fmt.Errorf("cannot inspect destination: %w", err)
	}
	if d.Path != dest {
		log.Debugf("%s is %s", dest, d.Path)
	}
	if p.RemovableOnly && !d.Removable {
		return "", fmt.Errorf("destination file %s (%s) is not a removable block device, but --removable-device was given", dest, d.Disk)
	}
	if d.ReadOnly {
		return "", fmt.Errorf("refusing to write %s: the device is read-only (a write-protect switch on the card or its adapter? a read-only loop device?)", dest)
	}
	uses, err := d.Uses()
	if err != nil {
		return "", fmt.Errorf("cannot tell whether %s is in use: %w", dest, err)
	}
	for _, u := range uses {
		if u.Root {
			return "", fmt.Errorf("refusing to write %s: %s, the running system's root filesystem", dest, u)
		}
	}
	if len(uses) == 0 {
		return d.Path, nil
	}
	var what, hints []string
	for _, u := range uses {
		what = append(what, u.String())
		if h := u.Remedy(); h != "" && !contains(hints, h) {
			hints = append(hints, h)
		}
	}
	if p.Force {
		log.Warnf("%s is in use: %s; trying anyway (--force)", dest, strings.Join(what, "; "))
		return d.Path, nil
	}
	return "", fmt.Errorf("refusing to write %s: it is in use: %s (%s first)", dest, strings.Join(what, "; "), strings.Join(hints, ", "))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
