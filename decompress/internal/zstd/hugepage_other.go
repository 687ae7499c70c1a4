//go:build !linux

package zstd

// adviseHugePages is only implemented on Linux.
func adviseHugePages(b []byte) {}
