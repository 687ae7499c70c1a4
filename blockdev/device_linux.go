package blockdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Inspect resolves path (symlinks such as /dev/disk/by-id/... first)
// and describes the block device there from sysfs.
func Inspect(path string) (*Device, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Stat(real, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: real, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return nil, fmt.Errorf("%s is not a block device", path)
	}
	sys, err := filepath.EvalSymlinks(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	if err != nil {
		return nil, fmt.Errorf("%s: no sysfs entry: %w", path, err)
	}
	d := &Device{Path: real, Name: filepath.Base(sys), Disk: filepath.Base(sys)}
	if exists(filepath.Join(sys, "partition")) {
		d.Partition = true
		d.Disk = filepath.Base(filepath.Dir(sys))
	}
	if sectors, err := readInt(filepath.Join(sys, "size")); err == nil {
		d.Size = sectors * 512 // sysfs counts 512-byte sectors whatever the device's
	}
	if ro, err := readInt(filepath.Join(sys, "ro")); err == nil {
		d.ReadOnly = ro != 0
	}
	removable, _ := os.ReadFile(filepath.Join("/sys/class/block", d.Disk, "removable"))
	// SD cards in MMC readers report removable=0, yet they are what users
	// flash.
	d.Removable = strings.TrimSpace(string(removable)) == "1" || strings.HasPrefix(d.Disk, "mmcblk")
	return d, nil
}

// Uses lists why d must not be written: it, one of its partitions (for a
// whole disk) or a device built on them (LVM, RAID, dm-crypt) is mounted,
// used as swap, or holds the root filesystem. An empty list means the kernel
// knows of no user; O_EXCL at open is the last word.
func (d *Device) Uses() ([]Use, error) {
	// The devices whose use counts: d, its partitions, and their holders,
	// recursively, by "major:minor".
	devs := map[string]string{} // major:minor → kernel name
	var add func(name string)
	add = func(name string) {
		dir := filepath.Join("/sys/class/block", name)
		dev, err := os.ReadFile(filepath.Join(dir, "dev"))
		if err != nil {
			return
		}
		key := strings.TrimSpace(string(dev))
		if _, seen := devs[key]; seen {
			return
		}
		devs[key] = name
		holders, _ := os.ReadDir(filepath.Join(dir, "holders"))
		for _, h := range holders {
			add(h.Name())
		}
	}
	add(d.Name)
	if !d.Partition {
		entries, _ := os.ReadDir(filepath.Join("/sys/class/block", d.Name))
		for _, e := range entries {
			if exists(filepath.Join("/sys/class/block", d.Name, e.Name(), "partition")) {
				add(e.Name())
			}
		}
	}
	var uses []Use
	for _, name := range devs {
		if name != d.Name && !d.isPart(name) {
			uses = append(uses, Use{Device: name, What: fmt.Sprintf("built on %s (device-mapper, LVM, RAID or similar)", d.Name), Kind: Holder})
		}
	}

	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	mounts, err := parseMountinfo(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		name, ok := devs[m.dev]
		if !ok && strings.HasPrefix(m.source, "/dev/") {
			// btrfs and others show an anonymous device number; the
			// source names the real one.
			if key, err := devKey(m.source); err == nil {
				name, ok = devs[key]
			}
		}
		if ok {
			uses = append(uses, Use{Device: name, What: "mounted on " + m.point, Kind: Mounted, Root: m.point == "/"})
		}
	}

	if sf, err := os.Open("/proc/swaps"); err == nil {
		swaps, err := parseSwaps(sf)
		sf.Close()
		if err != nil {
			return nil, err
		}
		for _, s := range swaps {
			if key, err := devKey(s); err == nil {
				if name, ok := devs[key]; ok {
					uses = append(uses, Use{Device: name, What: "used as swap", Kind: Swap})
				}
			}
		}
	}
	return uses, nil
}

func (d *Device) isPart(name string) bool {
	return exists(filepath.Join("/sys/class/block", d.Disk, name, "partition"))
}

// devKey returns "major:minor" of the block device at path.
func devKey(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return "", errors.New("not a block device")
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev)), nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var n int64
	_, err = fmt.Sscan(strings.TrimSpace(string(b)), &n)
	return n, err
}
