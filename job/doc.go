// Package job runs bmap's commands as library calls: Copy writes an image
// to devices or files through its bmap (several at once, from one reading
// of the image), Verify checks devices against a bmap, Create maps a
// sparse image. It is what the bmap command runs, and any Go program can
// run it the same way.
//
// A job ties the other packages together, in one direction:
//
//	source     opens the image, the bmap and the signature by name or URL
//	decompress turns the image into raw bytes
//	verify     checks the bmap's OpenPGP signature
//	bmap       parses the bmap, checking its own checksum
//	blockdev   tells whether the destination may be written
//	flash      writes the mapped ranges, checking each range's checksum
//
// Every check that can run before the destination is opened runs before
// it: a missing, broken, unsigned (when a signature is required) or
// mismatched bmap, an image in the wrong format or of the wrong size, a
// device that is read-only, in use or not removable when it must be. Such a
// refusal leaves the destination untouched; with several destinations, a
// refusal of one leaves them all untouched.
//
// A job reports to people through a Logger, in bmaptool's words where
// bmaptool has words for the event, and to programs through Hooks and
// flash.Progress. It never writes to standard output or error itself, and
// it returns its error rather than printing it: an error is one line that
// names the file, the offset or block range and what was expected.
package job
