// Package gz decodes gzip files (RFC 1952: members of DEFLATE data, RFC
// 1951, each followed by the CRC-32 and length of its output), from a
// plain io.Reader, with its own DEFLATE decoder.
//
// Model. A decoding goroutine (seqDecoder, seq.go) reads the input
// through a 1 MiB buffer and inflates into output buffers of 32 KiB of
// history plus 1 MiB: when one is full, its new part goes to Read over a
// channel and the last 32 KiB are copied to the start of a free buffer (4
// in all, made on demand), so decoding overlaps whatever the caller does
// with the output (bmap copy hashes and writes it). Members follow each
// other; after the last, anything but the end of the input is trailing
// data (fault.ErrTrailingData); each member's CRC-32 and length are
// checked at its end, so its output is tentative until then (as with
// compress/gzip). Errors are *fault.Error, naming the compressed offset of
// the failing structure; truncation wraps io.ErrUnexpectedEOF. Discard
// skips output without copying it, so the buffers' cache lines stay with
// the decoding core: a copy that skips a disk image's holes is faster.
//
// The decoder (inflate.go, huffman.go): a 64-bit bit buffer refilled 8
// bytes at a time without branches; Huffman tables of 2^11 (literal/length)
// and 2^8 (distance) entries plus subtables, each entry giving the codeword
// length and the symbol pre-decoded (literal byte, or length/distance base
// and extra bits, consumed together); a fast loop that runs while at least
// 16 input bytes and 290 bytes of output room are left, so it checks
// neither per symbol; up to three literals per refill; the next symbol's
// entry looked up before a match is copied; matches copied 16 or 8 bytes
// at a time, short distances by a period-preserving 8-byte step, distance
// 1 as a fill, and runs of zeros (a disk image's free space: length-258
// distance-1 matches) with clear, at memory speed.
//
// Why not klauspost/compress/gzip, which the project used before: it
// decodes on the caller's goroutine (no overlap with hashing and
// writing), through a 32 KiB ring-buffer dictionary that is copied out
// (ours writes the output once, linearly), writes literals one call at a
// time and copies matches through more bounds decisions. Ours decodes a
// disk image in a little over half its time.
//
// Parallel decoding of pigz output (rapidgzip's method: chunks cut at
// candidate sync flushes, decoded without their window and resolved in
// order) was built: on 2 cores it gained nothing, for more CPU time and
// memory, so it was removed. It is in git history at commit d621c37.
//
// The measurements behind these choices are in README.md, next to this
// file; BenchmarkDecode repeats them.
package gz
