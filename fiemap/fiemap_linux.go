package fiemap

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// From include/uapi/linux/fiemap.h and include/uapi/linux/fs.h; x/sys/unix
// defines none of them.
const (
	fsIocFiemap      = 0xC020660B // FS_IOC_FIEMAP = _IOWR('f', 11, struct fiemap)
	fiemapFlagSync   = 0x1        // FIEMAP_FLAG_SYNC: write back dirty data before mapping
	fiemapExtentLast = 0x1        // FIEMAP_EXTENT_LAST: last extent of the file
	fiemapMaxOffset  = ^uint64(0) // FIEMAP_MAX_OFFSET
)

// fiemapHeader mirrors struct fiemap of include/uapi/linux/fiemap.h, less
// the flexible array fm_extents that follows it in memory.
type fiemapHeader struct {
	start         uint64 // fm_start: first byte to map (in)
	length        uint64 // fm_length: bytes to map (in)
	flags         uint32 // fm_flags: FIEMAP_FLAG_* (in/out)
	mappedExtents uint32 // fm_mapped_extents: extents returned (out)
	extentCount   uint32 // fm_extent_count: room in fm_extents (in)
	_             uint32 // fm_reserved
}

// fiemapExtent mirrors struct fiemap_extent of include/uapi/linux/fiemap.h.
type fiemapExtent struct {
	logical  uint64 // fe_logical: byte offset in the file
	physical uint64 // fe_physical: byte offset on the device
	length   uint64 // fe_length: bytes
	_        [2]uint64
	flags    uint32 // fe_flags: FIEMAP_EXTENT_*
	_        [3]uint32
}

const (
	fiemapHeaderSize = int(unsafe.Sizeof(fiemapHeader{}))
	fiemapExtentSize = int(unsafe.Sizeof(fiemapExtent{}))
)

// fiemapExtents maps [0, size) of f with FS_IOC_FIEMAP, n extents per call.
// The result is clipped to size but not normalized.
func fiemapExtents(f *os.File, size int64, n int) ([]Extent, error) {
	// The kernel wants the header directly followed by n extents; a []uint64
	// gives one 8-byte-aligned allocation (the structs hold no pointers).
	buf := make([]uint64, (fiemapHeaderSize+n*fiemapExtentSize)/8)
	hdr := (*fiemapHeader)(unsafe.Pointer(&buf[0]))
	exts := unsafe.Slice((*fiemapExtent)(unsafe.Pointer(&buf[fiemapHeaderSize/8])), n)
	var out []Extent
	err := control(f, func(fd int) error {
		// At least one call, so that an empty file on a filesystem without
		// FIEMAP still reports EOPNOTSUPP.
		for start := uint64(0); ; {
			*hdr = fiemapHeader{start: start, length: fiemapMaxOffset, flags: fiemapFlagSync, extentCount: uint32(n)}
			_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), fsIocFiemap, uintptr(unsafe.Pointer(hdr)))
			if errno != 0 {
				return os.NewSyscallError("ioctl(FS_IOC_FIEMAP)", errno)
			}
			m := min(int(hdr.mappedExtents), n)
			if m == 0 {
				return nil
			}
			for _, e := range exts[:m] {
				if e.logical < uint64(size) {
					out = append(out, Extent{int64(e.logical), int64(min(e.length, uint64(size)-e.logical))})
				}
			}
			last := exts[m-1]
			next := last.logical + last.length
			if last.flags&fiemapExtentLast != 0 || next >= uint64(size) {
				return nil
			}
			if next <= start {
				return fmt.Errorf("FS_IOC_FIEMAP made no progress at byte %d", start)
			}
			start = next
		}
	})
	if err != nil {
		return nil, &os.PathError{Op: "fiemap", Path: f.Name(), Err: err}
	}
	return out, nil
}

// unsupported reports whether err from extentsWith(f, m) means that f's
// filesystem lacks method m, so that the next method should be tried.
func unsupported(m Method, err error) bool {
	switch m {
	case MethodFIEMAP:
		return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL)
	case MethodSeek:
		return noSeekData(err)
	}
	return false
}
