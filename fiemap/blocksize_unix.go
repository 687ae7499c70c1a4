//go:build unix

package fiemap

import (
	"os"

	"golang.org/x/sys/unix"
)

// statBlockSize returns fstat's st_blksize of the open file fd: bmaptool's
// fallback when FIGETBSZ, which only Linux has, fails.
func statBlockSize(fd int) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, os.NewSyscallError("fstat", err)
	}
	if st.Blksize <= 0 {
		return 0, os.NewSyscallError("fstat", unix.EINVAL)
	}
	return int64(st.Blksize), nil
}

// blockSizeOf runs size on f's descriptor and names f in its error.
func blockSizeOf(f *os.File, size func(fd int) (int64, error)) (int64, error) {
	var bs int64
	err := control(f, func(fd int) error {
		var err error
		bs, err = size(fd)
		return err
	})
	if err != nil {
		return 0, &os.PathError{Op: "blocksize", Path: f.Name(), Err: err}
	}
	return bs, nil
}
