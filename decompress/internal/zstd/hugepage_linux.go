package zstd

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHugePages asks the kernel to back the 2 MiB-aligned pages inside b
// with transparent huge pages (MADV_HUGEPAGE, which the default "madvise"
// setting honours). The window buffer is tens of MiB, written once and
// read back at random by matches: with 4 KiB pages, faulting it in costs
// thousands of trips through the kernel (and, in a VM, the hypervisor)
// and its matches miss the TLB. It is a hint; errors are ignored.
func adviseHugePages(b []byte) {
	const huge = 2 << 20
	if len(b) < 2*huge {
		return
	}
	start := (huge - int(uintptr(unsafe.Pointer(&b[0]))%huge)) % huge
	end := start + (len(b)-start)/huge*huge
	_ = unix.Madvise(b[start:end], unix.MADV_HUGEPAGE)
}
