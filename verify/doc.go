// Package verify checks OpenPGP signatures over bmap files. It knows
// OpenPGP (through github.com/ProtonMail/go-crypto) and nothing of bmaps,
// and imports no other package of this module.
//
// # Trust model
//
// A bmap carries a checksum of every mapped block range of the image, and
// a checksum of the bmap file itself. A good signature over the bmap
// therefore vouches for every byte that is flashed: the copy engine refuses
// any range whose data does not hash to the signed checksum. The image
// itself is not signed and needs no signature.
//
// Every key in the Keyring is trusted; there is no web of trust and no
// trust database (bmaptool's gpgv and --keyring paths behave the same way).
// Options.Fingerprint narrows the trust to one key. Verification happens
// entirely in memory, so the CLI can finish it before it opens the
// destination:
//
//	kr, path, err := verify.DefaultKeyring()           // or verify.LoadKeyring(--keyring)
//	if verify.IsClearSigned(bmapFile) {
//		bmapFile, signer, err = verify.ClearSigned(kr, bmapFile, opts)
//	} else if sig != nil {                             // --bmap-sig, else <bmap>.asc, .sig, .gpg
//		signer, err = verify.Detached(kr, bmapFile, sig, opts)
//	}
//	log("successfully verified bmap file signature of %s", signer)
//
// # What is refused
//
// Detached and ClearSigned return a *SignatureError wrapping one sentinel:
//
//   - ErrBadSignature: the data does not match (one changed byte is enough),
//     or the signature cannot be checked (unsupported algorithm, unknown
//     critical notation).
//   - ErrUnknownSigner: no key in the keyring for the issuer the signature
//     names (the message gives its key id and fingerprint), or the key is
//     there but not valid for signing.
//   - ErrKeyExpired, ErrKeyRevoked: the primary key or the signing subkey
//     has expired or been revoked, or the primary user id has been revoked,
//     as of Options.Now. gpg --verify exits 0 for a signature by an expired
//     key (status EXPKEYSIG); this package does not accept it.
//   - ErrSignatureExpired, ErrNotYetValid: the signature or a self-signature
//     has expired, or was made after Options.Now (a wrong clock).
//   - ErrWeakHash: the signature uses MD5, SHA-1 or RIPEMD-160. go-crypto's
//     v1 API does not reject SHA-1 message signatures and silently skips MD5
//     ones it cannot parse, so the hash algorithm is read from the raw
//     signature packet before go-crypto is asked to verify.
//   - ErrFingerprintMismatch: a good signature, but by a key other than
//     Options.Fingerprint (primary or signing subkey); both are named.
//   - ErrNoSignature, ErrMalformed: the input is not a signature, or is a
//     broken one.
//
// When a detached signature holds several signature packets (gpg -u A -u B),
// the first one whose issuer is in the keyring is checked (go-crypto's rule).
//
// # Clearsigned text
//
// bmaptool checks the bmap's own checksum over the text gpg prints for a
// clearsigned bmap, so ClearSigned and ClearSignedText return exactly that
// text (tested against gpg 2.2 --decrypt, which prints the same as
// gpg --verify --output - and gpgv --output -):
//
//   - each line of the signed text loses its "- " dash escape, then its
//     trailing spaces, tabs and carriage returns;
//   - each line, the last one included, ends in CR LF if it ended in CR LF
//     in the message, else in LF. Because gpg --clearsign writes a final
//     line break only when the input lacks one, a signed file ending in a
//     newline comes back byte for byte, and one without gains a newline.
//
// The signed (hashed) text is the same lines joined by CR LF, without the
// final line break (RFC 9580, section 7.2). go-crypto's clearsign.Decode
// differs in three ways, which is why this package parses the cleartext
// itself: its Plaintext drops the final newline and turns CR LF into LF, and
// it does not strip a CR before trailing blanks ("a\r \n"), so it rejects
// some messages gpg accepts. The Hash armor header must list the
// signature's hash algorithm (gpg refuses a mismatch too); only white space
// may follow the signature block, so no unsigned text rides along.
//
// # Keyrings
//
// LoadKeyring detects the format from the content: a GnuPG keybox (below),
// a binary keyring (gpg --export, or a GnuPG 1.x pubring.gpg with trust
// packets), or ASCII armor (gpg --export -a; several blocks may be
// concatenated, with text around them). gpg 2.x writes keybox format even to
// a new file called pubring.gpg, so names mean nothing. DefaultKeyring
// follows gpg: $GNUPGHOME or ~/.gnupg, pubring.kbx first, then pubring.gpg.
// Keys kept by keyboxd (GnuPG 2.4 use-keyboxd) are not readable.
//
// A keybox (kbx/keybox-blob.c in GnuPG) is a sequence of blobs, all
// integers big-endian:
//
//	blob:   u32 length (including these 4 bytes) | u8 type | u8 version | ...
//	type 1  header blob, first in the file, 32 bytes: u16 flags, "KBXf" at byte 8
//	type 2  OpenPGP: u16 flags at byte 6 (bit 1 = ephemeral),
//	        u32 keyblock offset at byte 8, u32 keyblock length at byte 12
//	        (offsets from the blob start), then key and user id tables,
//	        the keyblock (a binary transferable public key), SHA-1 checksum
//	type 3  X.509 certificate (gpgsm)
//	type 0  empty: GnuPG deletes a key by zeroing its type byte
//
// Like GnuPG, the parser skips empty, X.509, unknown and stray header blobs,
// ephemeral OpenPGP blobs (keys seen while searching, never imported) and
// blobs over GnuPG's 5 MiB limit. It does not check the blob checksum:
// GnuPG rewrites flag bytes in place without updating it and never checks
// it when reading. Structural damage (a length that runs past the end of
// the file, a keyblock outside its blob, a missing header blob) is a
// *KeyringError naming the file and byte offset. Keyblocks go-crypto cannot
// use are listed in Keyring.Skipped and the rest of the keyring is loaded.
package verify
