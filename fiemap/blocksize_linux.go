package fiemap

import (
	"os"

	"golang.org/x/sys/unix"
)

const figetbsz = 2 // FIGETBSZ = _IO(0x00, 2), include/uapi/linux/fs.h

// BlockSize returns the block size of f's filesystem: the FIGETBSZ ioctl,
// else fstat's st_blksize (as bmaptool does).
func BlockSize(f *os.File) (int64, error) {
	return blockSizeOf(f, func(fd int) (int64, error) {
		if n, err := unix.IoctlGetInt(fd, figetbsz); err == nil && n > 0 {
			return int64(n), nil
		}
		return statBlockSize(fd)
	})
}
