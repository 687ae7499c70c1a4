// Package decompress turns a possibly compressed or archived image stream
// into the raw image bytes, in process, for the copy engine to read
// sequentially and hash.
//
// # Model
//
//	r (file, stdin, URL body)
//	  └─ counter ─ bufio 1 MiB ─┬─ sniff magic (Peek) + name suffix → Format
//	                            └─ codec (gzip|bzip2|xz|lzma|zstd|lz4|lzo) or zip member
//	                                 └─ bufio 4 KiB ─┬─ sniff ustar at 257 (+ name) → tar member
//	                                                 └─ Reader.Read
//
// NewReader reads at most a few KiB of input before returning (the magic, a
// codec header, the first 512 decoded bytes). Data returned by Read is
// tentative until Read returns io.EOF, as with compress/gzip: the CRC,
// Adler-32, xxHash, CRC-64 or SHA-256 covering a stream or member is only
// checked at its end, and io.EOF comes only after everything was checked
// (see "After the image"). Discard skips bytes as Read would return them,
// with the same checks, for a reader that skips an image's holes: gzip and
// zstd skip their output without copying it (zstd does not even write its
// runs of zeros), the other codecs' output is read into a small scratch
// buffer. Close releases the decoder;
// it does not close r.
//
// # Detection
//
//  1. Magic bytes: gzip 1f 8b, bzip2 "BZh1".."BZh9", xz fd "7zXZ" 00,
//     zstd 28 b5 2f fd, lz4 04 22 4d 18 (legacy 02 21 4c 18), lzop
//     89 "LZO" 00 0d 0a 1a 0a, zip "PK" 03 04 (or 05 06, 07 08). Skippable
//     frames (pzstd writes one first) are stepped over to the real magic.
//  2. Legacy .lzma (LZMA_Alone) has no magic: a .lzma or .tar.lzma name
//     says it, else its 13-byte header must look as liblzma's own format
//     detection asks (lc+lp <= 4, a dictionary of 2^n or 2^n+2^(n-1)
//     bytes, at least 4 KiB, a size of -1 or under 256 GiB, a zero first
//     range-coder byte) and its first 64 KiB must decode. Disk images start
//     with zeros or boot code, which fail the header check; random data
//     fails the decode. So a renamed or piped .lzma is found.
//  3. Otherwise the name's suffix (KindFromName): bmaptool's .gz .gzip .bz2
//     .xz .lzo .lz4 .zst .zip .tar .tar.* .tgz .tbz .tbz2 .tb2 .txz .tzo
//     .tlz4 .tzst, plus .lzma and .tar.lzma.
//  4. Otherwise, or for an empty or short stream with no such name: Raw.
//
// Where name and data disagree, the data decides, but never silently:
//
//   - Data with another known magic (x.img.gz that is really xz) is decoded
//     by its magic, with a note. The codec's own checks still apply.
//   - A name that promises compression the data lacks (x.img.gz holding raw
//     bytes, or an HTML error page saved under the image's name) is an
//     error, ErrWrongFormat, showing the first bytes; an empty file or one
//     cut inside the magic is io.ErrUnexpectedEOF. Writing such data to a
//     disk is almost never wanted, and bmaptool would have failed in gzip
//     too. The user can rename the file or pipe it in to write it as is.
//
// Then, if the name says tar or the decoded data starts with a valid ustar
// or GNU header (checksum included), the image is a regular file of the
// archive; directories, links, pax and GNU long-name headers are skipped.
// GNU and PAX sparse members (tar -S, every --sparse-version) are expanded
// by archive/tar with zeros in the holes, as GNU tar -O does; that is
// correct output, so they are read rather than refused. Uncompressed tar is
// detected by its header even without a .tar name (with a note).
//
// A zip's image is a file (not a directory) too. If r is an io.ReaderAt
// and io.Seeker of known size (a regular *os.File, *bytes.Reader), the
// central directory is used (archive/zip, zip64 included). Otherwise the
// zip is read as a stream from its local headers: store and deflate, data
// descriptors with or without signature and with 4- or 8-byte sizes, zip64
// extra fields.
//
// Which file, when an archive holds several (a README beside the image):
// the first one of Options.ImageSize, the image size the caller's bmap
// gives; an archive with none is an error that names every file and its
// size. Without a size: the largest, where all are known before reading (a
// zip through its central directory), else the first (a stream cannot go
// back). A note names the file used, why, and the others (those after it
// in a stream once Read has returned io.EOF).
//
// An image that is itself compressed (a gzip inside a tar, an .xz inside a
// .gz) is refused with ErrUnsupported rather than written compressed.
//
// # After the image
//
// A disk flasher must never produce a short image silently. So:
//
//   - Concatenated streams of the same format are one image, as with the
//     command-line tools: gzip members (cat a.gz b.gz), pbzip2 and
//     concatenated bzip2 streams, xz streams with their 4-byte-multiple zero
//     padding, zstd frames and skippable frames, lz4 frames, lzop files.
//   - Zero bytes after the last stream (a file padded to a block size) are
//     accepted after gzip, bzip2, lzop and zstd streams, with a note
//     ("decompression OK, trailing zero bytes ignored", as gzip says):
//     gzip -d, bzip2 -d and lzop -d accept them, and zstd -d refuses them
//     only because it looks for another frame. After xz they are stream
//     padding in multiples of 4, as xz takes them; after lz4 and lzma they
//     are refused, as lz4 -d and xz refuse them.
//   - Anything else after the last stream is an error (ErrTrailingData for
//     gzip, bzip2, xz, lzma, zstd and lzo; the library's "bad magic number"
//     for lz4). gzip -d and lzop -d only warn about trailing garbage and
//     bzip2 -d ignores it; xz, zstd and lz4 fail. We fail, because a damaged
//     second member looks exactly like garbage and ignoring it would cut the
//     image short.
//   - A tar is read to its end after the image and the codec to its end
//     after the tar, so their checks run; other regular files get a note.
//     A raw (uncompressed) tar cut after the image still yields the whole
//     image, which is then correct.
//   - A zip stream is read up to its central directory after the image;
//     damage after the image only adds a note, since the image's own CRC-32
//     and sizes were checked.
//   - A cut anywhere inside compressed data is an error wrapping
//     io.ErrUnexpectedEOF.
//
// # Errors
//
// Errors are *Error{Format, Offset, Err}. Format names the layer ("gzip"
// ... "tar", "zip"), each named once in the message. Our own decoders
// (gzip, bzip2, xz, zstd, lzo) name the structure that failed and Offset
// is where it starts: "bzip2: block at compressed byte 12345: corrupt data:
// mismatching block checksum". For the libraries (lz4, lzma, zip, tar)
// Offset is the compressed input consumed when the error was seen, which
// may run ahead by a buffer: "lz4: at compressed byte 12345: unexpected
// EOF". Err wraps the decoder's error, io.ErrUnexpectedEOF or a sentinel of
// this package, for errors.Is; our decoders share the sentinels
// (ErrTrailingData, ErrUnsupported), whichever found the fault. Errors from r
// come through unchanged inside it. The caller adds the file name. Errors
// are sticky.
//
// # Formats, libraries and why
//
// Each format goes to the fastest decoder we have measured; where no Go
// library was fast enough, the decoder is our own. The measurements are in
// README.md, next to this file, and in the README.md of each decoder's
// package.
//
//   - gzip: internal/gz, our own inflate on its own goroutine (so it
//     overlaps hashing and writing), faster than klauspost/compress/gzip
//     (itself faster than compress/gzip) on disk images, mostly from
//     writing the output once, linearly, and filling runs of zeros at
//     memory speed. pigz output could be decoded in parallel (rapidgzip's
//     method); on two cores that gained nothing. See its package doc.
//   - bzip2: internal/bzip2, our block-parallel decoder (lbzip2's
//     method: blocks found by their bit-aligned magics and decoded on
//     GOMAXPROCS goroutines, a false magic merged with the next segment),
//     so bzip2, pbzip2 and lbzip2 files all decode in parallel, with our
//     own block decoder (less than half the CPU time of
//     dsnet/compress/bzip2, itself faster than compress/bzip2). See its
//     package doc.
//   - xz: internal/xz, our block-parallel streaming decoder: blocks with
//     sizes in their headers (xz -T, the default since xz 5.6) decode in
//     parallel; a block too large for the memory budget (xz -T1, xz -9)
//     is decoded as it streams. See its package doc for the LZMA2 decoder.
//     All filters and check types (CRC-32, CRC-64, SHA-256), multi-stream
//     with padding.
//   - lzma: ulikunitz/xz/lzma, the only Go decoder of the legacy format.
//     The format has no checksum: corruption can go unnoticed.
//   - zstd: internal/zstd, our own decoder: klauspost/compress/zstd
//     (WithDecoderConcurrency(1), the fastest Go decoder) fills RLE blocks
//     a byte at a time, which was half its time on a disk image whose
//     zeros are RLE blocks, and hashes on its decoding goroutine. Ours
//     passes runs of zeros to Read as counts and checks the xxHash on the
//     reading goroutine. Frame checksums and content sizes are verified;
//     dictionaries are refused. See its package doc.
//   - lz4: pierrec/lz4/v4 with ConcurrencyOption(2), faster than its
//     sequential reader. Its reader goroutine reads ahead; Close waits
//     until it no longer touches r. Content and block checksums are
//     verified when present (lz4 writes the content checksum by default).
//     The legacy format (lz4 -l) has neither end marker nor checksum, so a
//     cut at a block boundary cannot be detected; such files get a note.
//   - lzo: internal/lzop parses the container (no Go library does) and
//     decodes its independent blocks on GOMAXPROCS goroutines with its own
//     LZO1X decoder (several times faster than anchore/go-lzo); Adler-32
//     and CRC-32 of decompressed and compressed blocks and of the header
//     are verified.
//   - zip: archive/zip (with klauspost's flate registered) when seekable,
//     else our local-header reader over klauspost/compress/flate.
//   - tar: archive/tar.
//
// Formats whose checks can be turned off at compression time (xz
// --check=none, zstd --no-check, lz4 --no-frame-crc, lzop -F) decode, but
// then only the bmap's per-range checksums protect the image.
//
// # Memory
//
// Dictionaries and windows are capped at 1 GiB (256 MiB on 32-bit
// platforms; xz -9 uses 64 MiB, zstd --long=30 1 GiB): a stream asking
// for more fails with ErrMemoryLimit, naming both sizes, before anything
// is reserved. Within the cap, our xz and zstd decoders reserve a window
// as the output grows, so a damaged or hostile header costs a few MiB,
// not what it asks for; the exceptions are legacy .lzma and xz blocks with
// BCJ or delta filters and no size in their header, whose libraries
// reserve the whole dictionary. The parallel decoders hold a bounded
// number of bytes in flight (see their package docs).
//
// # Refused
//
// Encrypted zip members; zip methods other than store and deflate; stored
// zip members without sizes in a zip stream (give the file instead); lzop
// filters (lzop --filter), split files and the NRV/zlib methods; bzip1;
// archives without a regular file (ErrNoImage); nested compression.
//
// # Parallel decoding
//
// Each codec is an entry in a table from Format to a constructor over the
// shared input buffer, returning an io.Reader. The parallel decoders
// (bzip2, xz, lzo) run on one ordered worker pool (internal/ordered),
// bounded by the bytes in flight rather than a count of blocks, and keep
// the same contract: sequential output, every check kept, errors at the
// failing block's offset, Close stops their goroutines.
package decompress
