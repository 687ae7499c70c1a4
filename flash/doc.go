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
// CopyTo writes to several destinations at once (cards in a hub of
// readers): the image is read, decoded and verified once, and the write
// stage is one goroutine per destination, each with its own queue, writer
// and flushes. Every hashed chunk goes to every queue with a count of the
// destinations yet to write it; its buffer goes back to read when the last
// has written it. The buffers are the same whatever the number of
// destinations, so memory stays bounded: the slowest destination sets the
// pace, and the others run ahead of it by the buffers only. A destination
// whose write fails is dropped (Options.Dropped is told) and gives the
// chunks back unwritten from then on; the others go on, and the copy stops
// only when none is left. Work of one destination (a writer that compares
// before it writes) belongs in its WriterAt, which runs on its goroutine.
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
// Decoding, hashing and writing overlap, so a copy takes about as long as
// its slowest stage; Stats says how long each stage was busy. Copy returns
// after all stages have stopped. A failure stops the stages before it, not
// those after: what the destination holds after a failed copy depends on
// the image, not on how the goroutines ran.
//
//   - A read failure (a short or damaged image, trailing garbage after a
//     compressed stream) stops reading; every chunk read before it is
//     hashed and written.
//   - A checksum mismatch stops reading; the chunks hashed before it are
//     written, the bad range's last chunk and whatever follows it in its
//     lane are not. A range's first bytes may be written before its last
//     bytes are hashed, so a range longer than a buffer is written in part.
//   - A failed write drops its destination; the last destination's
//     failed write, or the caller's cancel, stops every stage at once.
//
// On one lane (every stream) each destination not dropped then holds the
// image's mapped ranges up to the failure, in full and verified, and the
// start of the range being read, unverified; the error says which blocks
// those are and which were not written. Data is tentative until Copy returns nil. After
// the last range Copy reads the source to its end: it must hold exactly
// ImageSize bytes (which also makes a decoder check its trailing CRC), and
// the blocks written must add up to MappedBlocksCount.
//
// Target opens a destination: a regular file (replaced, sized to the image
// and written sparse), a block device (exclusive, size checked, O_DIRECT) or
// a character device such as /dev/null. Block devices are Linux's: elsewhere
// OpenTarget refuses them (errors.ErrUnsupported). On macOS, F_NOCACHE
// stands in for O_DIRECT; other systems write through the cache.
package flash
