//go:build !purego

package zstd

import "unsafe"

// copy16 copies the 16 bytes at src[s:] to dst[d:] through unsafe
// pointers, without bounds checks: the caller has made sure that both
// lie within their slice's capacity (see execute). The purego build tag
// selects a twin with the checks (copy_purego.go).
func copy16(dst []byte, d int, src []byte, s int) {
	*(*[16]byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(dst)), d)) =
		*(*[16]byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(src)), s))
}
