//go:build unix && !linux

package fiemap

import "os"

// BlockSize returns the block size of f's filesystem: fstat's st_blksize,
// as bmaptool does when FIGETBSZ, which only Linux has, fails.
func BlockSize(f *os.File) (int64, error) { return blockSizeOf(f, statBlockSize) }
