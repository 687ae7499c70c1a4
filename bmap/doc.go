// Package bmap reads and writes block maps (.bmap files), the XML format of
// bmaptool that lists which blocks of a sparse disk image hold data.
//
// A block map describes an image of ImageSize bytes cut into BlocksCount
// blocks of BlockSize bytes (the last block may be partial). Ranges lists the
// mapped blocks as inclusive block numbers [First, Last]; every other block is
// a hole that need not be copied. From format 1.3 on, each range may carry a
// checksum of its bytes, and the file carries a checksum of itself.
//
// Parse reads every version bmaptool ever wrote:
//
//	version   range checksum        file checksum        checksum type
//	1.0-1.2   none (sha1= ignored)  none                 none
//	1.3       sha1="hex"            <BmapFileSHA1>       sha1
//	1.4, 2.x  chksum="hex"          <BmapFileChecksum>   <ChecksumType>
//
// and checks it strictly: the file checksum (computed as bmaptool does: the
// first occurrence of the stored hex digest is replaced by ASCII zeros and
// the whole file is hashed), BlocksCount = ceil(ImageSize/BlockSize), ranges
// in ascending order, disjoint and inside the image, MappedBlocksCount equal
// to the blocks the ranges cover, checksums of the right length. A Map
// returned by Parse satisfies the invariants documented on Map, so the copy
// engine can trust its arithmetic.
//
// Encode writes a Map byte for byte as bmaptool 3.9 "create" does (format
// 2.0, its comments and padding), so bmaps made by either tool are
// interchangeable and comparable with cmp(1). Create builds a Map from a
// sparse file: package fiemap finds the data, and ranges are hashed in
// parallel.
package bmap
