package flash

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openDirect opens path with O_DIRECT if the filesystem allows it (tmpfs
// does not), else without.
func openDirect(path string, flag int, perm os.FileMode) (*os.File, bool, error) {
	f, err := os.OpenFile(path, flag|unix.O_DIRECT, perm)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return nil, false, err
	}
	f, err = os.OpenFile(path, flag, perm)
	return f, false, err
}

func setDirect(f *os.File, on bool) error {
	fd := int(f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		fl |= unix.O_DIRECT
	} else {
		fl &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
	return err
}

func isEINVAL(err error) bool { return errors.Is(err, unix.EINVAL) }

func openBlockDevice(path string, imageSize int64) (*Target, error) {
	// O_EXCL on a block device: fail with EBUSY if it is mounted or held
	// open exclusively by someone else.
	f, direct, err := openDirect(path, os.O_WRONLY|os.O_EXCL, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("%s is busy: it (or a partition on it) is mounted or in use: %w", path, err)
		}
		return nil, err
	}
	size, err := deviceSize(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if imageSize > size {
		f.Close()
		return nil, fmt.Errorf("%w: %d bytes needed, %s has %d", ErrTooSmall, imageSize, path, size)
	}
	sector := int64(512)
	if ss, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET); err == nil && ss > 0 {
		sector = int64(ss)
	}
	return &Target{f: f, path: path, kind: BlockDevice, size: size, direct: direct, canDirect: direct, sectorSize: sector}, nil
}

// deviceSize returns a block device's size in bytes (BLKGETSIZE64, which the
// kernel writes as a u64).
func deviceSize(f *os.File) (int64, error) {
	var size uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size))); errno != 0 {
		return 0, &os.PathError{Op: "get size", Path: f.Name(), Err: os.NewSyscallError("ioctl(BLKGETSIZE64)", errno)}
	}
	return int64(size), nil
}

// dropCache asks the kernel to forget f's cached pages (and, for a block
// device, its buffer cache), so reads come from the device.
func dropCache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeDevice != 0 {
		_ = unix.IoctlSetInt(int(f.Fd()), unix.BLKFLSBUF, 0)
	}
}

// RereadPartitions asks the kernel to read the device's partition table
// again (BLKRRPART), so the partitions of the new image appear. A busy
// device (EBUSY) or one that cannot be partitioned (EINVAL: a partition, a
// loop device without partscan) is not an error: the table is read at the
// next attach.
func (t *Target) RereadPartitions() error {
	if t.kind != BlockDevice {
		return nil
	}
	err := unix.IoctlSetInt(int(t.f.Fd()), unix.BLKRRPART, 0)
	if err == nil || errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EINVAL) {
		return nil
	}
	return &os.PathError{Op: "re-read partition table", Path: t.path, Err: os.NewSyscallError("ioctl(BLKRRPART)", err)}
}
