package flash

import "unsafe"

// alignment is the memory alignment of buffers: O_DIRECT needs buffers
// aligned to the device's logical block size; a page covers every device.
const alignment = 4096

// alignedBuffer returns a slice of size bytes whose first byte is aligned to
// alignment.
func alignedBuffer(size int) []byte {
	b := make([]byte, size+alignment)
	skip := (alignment - int(addr(b)%alignment)) % alignment
	return b[skip : skip+size : skip+size]
}

func isAligned(p []byte) bool {
	return len(p) == 0 || addr(p)%alignment == 0
}

// addr is the address of p's first byte; p must not be empty.
func addr(p []byte) uintptr { return uintptr(unsafe.Pointer(&p[0])) }

// pipelineBuffers returns n buffers of size bytes (a multiple of
// alignment), each aligned to alignment, for Copy's pipeline, and the
// function that frees them once none is in use any more. Where the system
// allows, they are carved out of one mapping backed by huge pages (see
// hugeSlab); otherwise they come from the Go heap.
func pipelineBuffers(n, size int) (bufs [][]byte, release func()) {
	slab, release := hugeSlab(n * size)
	bufs = make([][]byte, n)
	for i := range bufs {
		if slab != nil {
			bufs[i] = slab[i*size : (i+1)*size : (i+1)*size]
		} else {
			bufs[i] = alignedBuffer(size)
		}
	}
	return bufs, release
}
