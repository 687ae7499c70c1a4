package flash

import "unsafe"

// alignment is the memory alignment of buffers: O_DIRECT needs buffers
// aligned to the device's logical block size; a page covers every device.
const alignment = 4096

// alignedBuffer returns a slice of size bytes whose first byte is aligned to
// alignment.
func alignedBuffer(size int) []byte {
	b := make([]byte, size+alignment)
	skip := (alignment - int(uintptr(unsafe.Pointer(&b[0]))%alignment)) % alignment
	return b[skip : skip+size : skip+size]
}

func isAligned(p []byte) bool {
	return len(p) == 0 || uintptr(unsafe.Pointer(&p[0]))%alignment == 0
}
