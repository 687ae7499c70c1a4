//go:build purego

package zstd

// copy16 copies the 16 bytes at src[s:] to dst[d:], both within their
// slice's capacity, with bounds checks: the twin of copy_unsafe.go's for
// builds without unsafe (go test -tags purego runs the tests on it).
func copy16(dst []byte, d int, src []byte, s int) {
	*(*[16]byte)(dst[d:cap(dst)]) = *(*[16]byte)(src[s:cap(src)])
}
