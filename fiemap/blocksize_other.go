//go:build !unix

package fiemap

import "os"

// BlockSize returns an error wrapping errors.ErrUnsupported: this system
// has neither FIGETBSZ nor st_blksize.
func BlockSize(f *os.File) (int64, error) {
	return 0, notHere(f, "blocksize", "FIGETBSZ and st_blksize")
}
