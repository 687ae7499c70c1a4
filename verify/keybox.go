package verify

import (
	"encoding/binary"
	"fmt"
)

// GnuPG keybox (pubring.kbx) layout, as far as this package needs it. All
// integers are big-endian; offsets inside a blob count from the blob start.
//
//	blob      = u32 length (including itself) | u8 type | u8 version | ...
//	type 1    = header blob, first in the file: u16 flags, "KBXf" at byte 8
//	type 2    = OpenPGP blob: u16 flags at byte 6 (bit 1: ephemeral),
//	            u32 keyblock offset at byte 8, u32 keyblock length at byte 12
//	type 0    = empty (GnuPG deletes a key by zeroing the type byte)
//	type 3    = X.509 certificate (gpgsm)
const (
	kbxTypeEmpty  = 0
	kbxTypeHeader = 1
	kbxTypePGP    = 2
	kbxTypeX509   = 3

	kbxHeaderLen     = 32      // GnuPG writes and requires a 32-byte header blob
	kbxPGPFixedLen   = 20      // fixed part of an OpenPGP blob before the key table
	kbxFlagEphemeral = 1 << 1  // blob flag: ephemeral (fetched while searching, not imported)
	kbxMaxBlob       = 5 << 20 // GnuPG's IMAGELEN_LIMIT: larger blobs are skipped
	kbxMagicOffset   = 8       // offset of kbxMagic in the header blob
	kbxMagic         = "KBXf"
	kbxMinFileLen    = 12 // enough bytes to test for the magic
)

// isKeybox reports whether data starts with a keybox header blob.
func isKeybox(data []byte) bool {
	return len(data) >= kbxMinFileLen && data[4] == kbxTypeHeader &&
		string(data[kbxMagicOffset:kbxMagicOffset+4]) == kbxMagic
}

// keyblock is the OpenPGP keyblock image of one keybox blob: a binary
// transferable public key, as gpg --export writes it.
type keyblock struct {
	blob   int64  // file offset of the blob
	offset int64  // file offset of the keyblock
	image  []byte // aliases the file data
}

// parseKeybox returns the keyblocks of the usable OpenPGP blobs of a GnuPG
// keybox file, in file order, and notes on blobs it skipped that GnuPG
// skips too for being oversized. Like GnuPG it passes over empty (deleted),
// X.509, unknown-type and extra header blobs, and ephemeral OpenPGP blobs.
// It does not check the per-blob SHA-1 checksum: GnuPG rewrites flag
// fields in place without updating it and never checks it when reading.
func parseKeybox(name string, data []byte) ([]keyblock, []string, error) {
	bad := func(off int, format string, args ...any) error {
		return &KeyringError{Path: name, Offset: int64(off), Reason: "keybox: " + fmt.Sprintf(format, args...)}
	}
	var blocks []keyblock
	var skipped []string
	off := 0
	for off < len(data) {
		left := len(data) - off
		if left < 5 {
			return nil, nil, bad(off, "truncated blob: %d bytes left, a blob header needs 5", left)
		}
		n32 := binary.BigEndian.Uint32(data[off:])
		typ := data[off+4]
		if n32 < 5 {
			return nil, nil, bad(off, "blob length %d is less than 5", n32)
		}
		if uint64(n32) > uint64(left) {
			return nil, nil, bad(off, "blob length %d runs past the end of the file (%d bytes left)", n32, left)
		}
		n := int(n32)
		blob := data[off : off+n]
		if off == 0 {
			if typ != kbxTypeHeader || n < kbxHeaderLen || string(blob[kbxMagicOffset:kbxMagicOffset+4]) != kbxMagic {
				return nil, nil, bad(0, "first blob is not a %d-byte header blob with magic %q", kbxHeaderLen, kbxMagic)
			}
			off += n
			continue
		}
		if typ == kbxTypePGP {
			switch {
			case n > kbxMaxBlob:
				skipped = append(skipped, fmt.Sprintf("keybox blob at byte %d: %d bytes exceed gnupg's limit of %d, skipped", off, n, kbxMaxBlob))
			case n < kbxPGPFixedLen:
				return nil, nil, bad(off, "openpgp blob of %d bytes is shorter than its %d-byte fixed part", n, kbxPGPFixedLen)
			case binary.BigEndian.Uint16(blob[6:])&kbxFlagEphemeral != 0:
				// Ephemeral: GnuPG ignores it unless asked to search those.
			default:
				kOff := binary.BigEndian.Uint32(blob[8:])
				kLen := binary.BigEndian.Uint32(blob[12:])
				if kLen == 0 || kOff < kbxPGPFixedLen || uint64(kOff)+uint64(kLen) > uint64(n) {
					return nil, nil, bad(off, "openpgp blob of %d bytes: keyblock at blob offset %d, length %d, does not fit", n, kOff, kLen)
				}
				blocks = append(blocks, keyblock{
					blob:   int64(off),
					offset: int64(off) + int64(kOff),
					image:  blob[kOff : kOff+kLen],
				})
			}
		}
		// kbxTypeEmpty, kbxTypeHeader (a stray one), kbxTypeX509 and unknown
		// types hold no OpenPGP key: skip them as GnuPG does.
		off += n
	}
	return blocks, skipped, nil
}
