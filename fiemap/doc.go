// Package fiemap reports which byte ranges of a file hold data, so that a
// block map can skip the holes of a sparse image.
//
// # Model
//
// A regular file of size N is the byte range [0, N); each byte lies either in
// a data extent or in a hole, and holes read as zeros. Extents asks the
// filesystem for the data extents, trying three methods in turn:
//
//	N := fstat(f).Size
//	ioctl(FS_IOC_FIEMAP, FIEMAP_FLAG_SYNC) from 0,          -> MethodFIEMAP
//	    each call resuming at the end of the last extent,
//	    until FIEMAP_EXTENT_LAST, no extents, or N
//	  on EOPNOTSUPP, ENOTTY, EINVAL (tmpfs, some network fs):
//	lseek(SEEK_DATA) / lseek(SEEK_HOLE) until ENXIO          -> MethodSeek
//	  on EINVAL (no SEEK_DATA support):
//	[{0, N}]                                                 -> MethodWhole
//	then sort, merge adjacent or overlapping extents, clip to [0, N)
//
// # Invariants
//
// The extents returned by Extents and ExtentsMethod satisfy:
//   - 0 <= e.Offset, e.Length > 0 and e.End() <= N;
//   - they are sorted and separated by holes: e[i].End() < e[i+1].Offset;
//   - every byte written to the file (and not punched out since) lies in an
//     extent. The converse does not hold: filesystems allocate whole blocks
//     and may preallocate, so extents usually begin and end at multiples of
//     BlockSize (except the last, which is clipped to N) and can cover bytes
//     that were never written;
//   - no extents means the file is empty or all hole.
//
// # Unwritten extents
//
// FIEMAP extent flags are ignored, as bmaptool ignores them: unwritten
// (fallocated) and delayed-allocation extents count as data. SEEK_DATA
// differs here: ext4, XFS and tmpfs report clean unwritten extents as holes,
// so MethodSeek can report fewer bytes than MethodFIEMAP on the same file.
// Both are safe for imaging, since unwritten ranges read as zeros.
//
// # Limits
//
// The result is a snapshot: a file changed concurrently may no longer match
// it. MethodSeek moves the file offset and restores it before returning, so
// do not call Extents concurrently with Read or Seek on the same *os.File
// (ReadAt is fine). A filesystem that implements lseek but not holes reports
// the whole file as data under MethodSeek, which is the MethodWhole answer.
//
// FIEMAP and FIGETBSZ are Linux's. On macOS and FreeBSD, Extents starts
// with lseek(SEEK_DATA) (MethodSeek) and BlockSize is fstat's st_blksize,
// as in bmaptool's fallback; on other systems Extents reports the whole file
// as one data extent (MethodWhole), and where there is no st_blksize
// (Windows, Plan 9, wasm) BlockSize returns an error wrapping
// errors.ErrUnsupported.
package fiemap
