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
// the failing member; truncation wraps io.ErrUnexpectedEOF. Discard skips output without
// copying it, so the buffers' cache lines stay with the decoding core: a
// bmap copy of the benchmark image, which discards its holes (2.7 of its 4
// GiB), went from 3.58 to 3.04 s (medians of 5 alternated runs).
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
// Measured on the 2-core VM (Go 1.26; noisy, other work running: each
// figure is the best of 2-5 runs, and runs minutes apart differed by up to
// 1.6x), decoding to io.Discard (BenchmarkDecode):
//
//	4 GiB ext4 image, pigz -6 (399 MB; 1.29 GB of data, the rest zeros):
//	  ours 2.24-2.64 s, klauspost/compress/gzip 4.05-4.68 s
//	1 GiB of zeros, pigz -6: ours 0.11 s, klauspost 0.20 s
//	32 MiB sample (pieces of /usr files, zeros, random bytes):
//	  gzip -6: ours 719-926 MB/s, klauspost 547-566 MB/s
//	  pigz -6: ours 688-974 MB/s, klauspost 498-542 MB/s
//
// Why not klauspost/compress/gzip, which the project used before: it
// decodes on the caller's goroutine (no overlap with hashing and
// writing), through a 32 KiB ring-buffer dictionary that is copied out
// (ours writes the output once, linearly), writes literals one call at a
// time and copies matches through more bounds decisions.
//
// Parallel decoding of pigz output (rapidgzip's method: chunks cut at
// candidate sync flushes, decoded without their window and resolved in
// order) was built and measured: on the disk image, with a consumer that
// hashes as bmap copy does, it was about even with sequential decoding on
// 2 cores, for 1 more CPU-second and 50 MiB more memory, so it was
// removed. It is in git history at commit d621c37.
package gz
