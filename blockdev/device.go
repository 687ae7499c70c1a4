package blockdev

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A Device is a block device as the kernel sees it: its node, its disk and
// partitions, and what holds it.
type Device struct {
	Path      string // the device node, symlinks resolved (/dev/disk/by-id/... → /dev/sdb)
	Name      string // kernel name: "sdb", "sdb1", "mmcblk0", "loop3"
	Disk      string // the whole disk's kernel name ("sdb" for "sdb1")
	Partition bool   // Path is a partition of Disk
	Removable bool   // the disk is removable media, or an MMC/SD card
	ReadOnly  bool   // the kernel refuses writes (a write-protect switch, losetup -r, a read-only partition)
	Size      int64  // bytes
}

// A Use is a reason a device must not be overwritten.
type Use struct {
	Device string  // kernel name of the device in use: the target or one of its partitions or holders
	What   string  // "mounted on /mnt", "used as swap", "built on sdb (device-mapper, ...)"
	Kind   UseKind // what kind of use
	Root   bool    // it holds the running system's root filesystem
}

// UseKind is how a device is used.
type UseKind int

const (
	Mounted UseKind = iota
	Swap
	Holder // a device built on it: device-mapper, LVM, RAID, dm-crypt
)

func (u Use) String() string { return u.Device + " is " + u.What }

// Remedy says what frees the device from u: "unmount it", "swapoff it".
func (u Use) Remedy() string {
	switch u.Kind {
	case Swap:
		return "swapoff " + u.Device
	case Holder:
		return "stop " + u.Device + " (umount, vgchange -an, cryptsetup close or mdadm --stop)"
	}
	return "unmount " + u.Device
}

// A mount is one line of /proc/self/mountinfo.
type mount struct {
	dev    string // "major:minor"
	point  string // where it is mounted
	source string // e.g. /dev/sdb1, or "none"
	fstype string
}

// parseMountinfo reads /proc/self/mountinfo (proc(5)): "36 35 98:0 /mnt1
// /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
func parseMountinfo(r io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i, s := range f {
			if s == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("mountinfo: malformed line %q", sc.Text())
		}
		out = append(out, mount{dev: f[2], point: unescapeOctal(f[4]), fstype: f[sep+1], source: unescapeOctal(f[sep+2])})
	}
	return out, sc.Err()
}

// parseSwaps returns the file names in /proc/swaps.
func parseSwaps(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) == 0 { // the header
			continue
		}
		out = append(out, unescapeOctal(f[0]))
	}
	return out, sc.Err()
}

// unescapeOctal undoes the kernel's \040-style escaping of spaces and such
// in mount points and file names.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
