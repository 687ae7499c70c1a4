// Package blockdev describes Linux block devices as the kernel sees them,
// for the checks that run before a device is written: which disk a node
// (or a /dev/disk/by-id/... link) is, whether it is removable or read-only,
// and what uses it — a mounted filesystem on it or on one of its
// partitions, swap, or a device built on it (LVM, RAID, dm-crypt).
//
// It only reads sysfs, /proc/self/mountinfo and /proc/swaps; it opens
// nothing for writing and decides nothing: the caller turns a Use into a
// refusal. Opening a device exclusively (O_EXCL) stays the last word, since
// a device can be taken between the check and the open.
//
// Off Linux, Inspect fails with errors.ErrUnsupported.
package blockdev
