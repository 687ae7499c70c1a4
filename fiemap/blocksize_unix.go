//go:build unix && !linux

package fiemap

import (
	"os"

	"golang.org/x/sys/unix"
)

// BlockSize returns the block size of f's filesystem: fstat's st_blksize,
// bmaptool's fallback when FIGETBSZ, which only Linux has, fails.
func BlockSize(f *os.File) (int64, error) {
	var bs int64
	err := control(f, func(fd int) error {
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
