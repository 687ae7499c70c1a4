// Package flash is the copy engine: it writes the mapped ranges of a raw
// image stream to a destination, verifying each range's checksum.
//
// Copy takes the raw image bytes as an io.Reader (decompression happens
// before, in package decompress) and a block map that the caller already
// trusts (parsed, its own checksum and signature checked). Three stages run
// in their own goroutines, joined by channels over a fixed set of reusable,
// page-aligned buffers (on Linux, one mapping backed by transparent huge
// pages: see hugeSlab), so memory is bounded whatever the image size:
//
//	read:  for each range, skip the hole before it (Seek on a seekable
//	       source, Discard on a Discarder, else read and drop), then
//	       io.ReadFull the range's bytes into free buffers
//	   ═► hash: feed the range's hash; after the range's last byte compare
//	       it with the bmap and stop on a mismatch (a *bmap.ChecksumError)
//	   ═► write: dst.WriteAt(buf, offset), then give the buffer back to read
//
// A random-access source (an io.ReaderAt and io.Seeker, such as a raw image
// file) may run up to GOMAXPROCS lanes (at most 4) instead of one: each lane
// reads its own range with ReadAt, a buffer at a time, taking turns with the
// others, and has its own hash goroutine, so several ranges are hashed at
// once; the one write stage takes the chunks of all lanes. The copy starts
// with one lane and opens more only while hashing is what holds it back (a
// destination faster than SHA-256), so a slow destination is written in the
// image's order. Options.Verified still sees the ranges in map order, and
// the source's size is checked before anything is read.
//
// The first error cancels every stage and Copy returns it after all stages
// have stopped. Decoding, hashing and writing overlap, so a copy takes about
// as long as its slowest stage; Stats says how long each stage was busy.
//
// Data is tentative until Copy returns nil: a range's first bytes may be
// written before its last bytes are hashed, so after a checksum mismatch the
// destination holds unverified data. After the last range Copy reads the
// source to its end: it must hold exactly ImageSize bytes (which also makes a
// decoder check its trailing CRC), and the blocks written must add up to
// MappedBlocksCount.
//
// Target opens a destination: a regular file (replaced, sized to the image
// and written sparse), a block device (exclusive, size checked, O_DIRECT) or
// a character device such as /dev/null. Block devices are Linux's: elsewhere
// OpenTarget refuses them (errors.ErrUnsupported). On macOS, F_NOCACHE
// stands in for O_DIRECT; other systems write through the cache.
package flash
