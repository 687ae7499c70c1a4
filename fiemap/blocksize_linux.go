package fiemap

import (
	"os"

	"golang.org/x/sys/unix"
)

const figetbsz = 2 // FIGETBSZ = _IO(0x00, 2), include/uapi/linux/fs.h

// BlockSize returns the block size of f's filesystem: the FIGETBSZ ioctl,
// else fstat's st_blksize (as bmaptool does).
func BlockSize(f *os.File) (int64, error) {
	var bs int64
	err := control(f, func(fd int) error {
		if n, err := unix.IoctlGetInt(fd, figetbsz); err == nil && n > 0 {
			bs = int64(n)
			return nil
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return os.NewSyscallError("fstat", err)
		}
		if st.Blksize <= 0 {
			return os.NewSyscallError("fstat", unix.EINVAL)
		}
		bs = int64(st.Blksize)
		return nil
	})
	if err != nil {
		return 0, &os.PathError{Op: "blocksize", Path: f.Name(), Err: err}
	}
	return bs, nil
}
