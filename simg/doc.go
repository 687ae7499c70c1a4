// Package simg reads and writes Android sparse images (simg), the format
// of AOSP libsparse (sparse_format.h) that fastboot, U-Boot's
// "mmc swrite", NXP uuu and Qualcomm qdl flash, and converts them to and
// from raw images with a block map.
//
// # Format
//
// An simg is a block map and the image's data in one file, little-endian:
//
//	file header (28 bytes, or more):
//	  magic ed26ff3a, major 1, minor 0, file header size 28, chunk header
//	  size 12, block size (a multiple of 4), blocks, chunks, checksum (0)
//	chunks, in image order, each a header (12 bytes, or more):
//	  type, reserved, blocks covered, total size (header included)
//	  then by type:
//	    RAW       cac1  the blocks' bytes
//	    FILL      cac2  4 bytes, repeated over the blocks
//	    DONT_CARE cac3  nothing: a hole
//	    CRC32     cac4  the CRC-32 of the image so far (holes as zeros);
//	                    covers no blocks
//
// The image is blocks × block size bytes: a sparse image holds whole
// blocks, so an image whose size is not a multiple of the block size
// comes back from img2simg (and from Writer) padded with zeros.
//
// # Reading
//
// Chunk headers are spread through the file, so the map of the image is
// known up front only where the file can be sought over:
//
//	random access   ReadMap(file, size) walks the chunk headers, seeking
//	                over the data, checks the structure and returns the
//	                *bmap.Map (RAW and FILL mapped, DONT_CARE holes).
//	stream          NewReader(r) checks the file header, which gives the
//	                image size and block size; Next then returns the
//	                chunks one by one (image offset and length, type), so
//	                the map comes chunk by chunk, in image order, each
//	                chunk's header just before its data; Map returns the
//	                map of the chunks seen.
//
// A Reader is also an io.Reader of the whole image (RAW data, FILL
// patterns, zeros for DONT_CARE) with a Discard method that skips holes
// for free, which is the source a copy engine reading ranges in order
// wants. Every chunk is checked when reached: its type, that its total
// size is what its type and block count make it, that it stays inside
// the image; at the end, that the chunks cover exactly the declared
// blocks and that nothing follows them; CRC32 chunks against the bytes
// before them. Errors are *FormatError values naming the chunk (its
// index) and its offset in the sparse file, and what was expected; a
// truncated file wraps io.ErrUnexpectedEOF. As with compress/gzip, data
// returned by Read is tentative until Read returns io.EOF.
//
// A bmap of the raw image the sparse image was made from may describe
// fewer bytes than the sparse image holds, which is padded to whole
// blocks: Truncate cuts that padding off (it must be zeros, and is still
// read and checked), so that the image read ends where the bmap's does.
//
// FILL chunks of zeros are data: a device may hold old data there. Where
// the destination already reads as zeros (a new regular file),
// MapOptions.ZeroFillIsHole leaves them out of the map; img2simg writes
// every zero block as one, holes included.
//
// # Writing and converting
//
// Writer makes a sparse image from image bytes and holes: each whole
// block that is one 4-byte pattern repeated becomes FILL, other data RAW,
// holes DONT_CARE, neighbours of one kind one chunk. FromRaw feeds it a
// raw image and its bmap, checking the bmap's range checksums as it
// reads. ToRaw expands a sparse image into a sparse file and returns its
// bmap with SHA-256 range checksums, equal to what "bmap create" makes
// of that file when the filesystem's block size is the image's.
//
// The package imports only bmap from this module: decompression happens
// before (package decompress yields the raw bytes of a compressed simg),
// and writing to devices after (package flash).
package simg
