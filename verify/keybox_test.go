package verify

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// kbxHeaderBlob returns a keybox header blob as GnuPG writes it.
func kbxHeaderBlob() []byte {
	b := make([]byte, kbxHeaderLen)
	binary.BigEndian.PutUint32(b, kbxHeaderLen)
	b[4], b[5] = kbxTypeHeader, 1
	binary.BigEndian.PutUint16(b[6:], 2) // "used for OpenPGP"
	copy(b[8:], kbxMagic)
	return b
}

// kbxBlob returns a blob of type typ holding image after a 40-byte fixed
// area (the real key and user id tables are not needed to find the
// keyblock), followed by a SHA-1 checksum like GnuPG's.
func kbxBlob(typ byte, flags uint16, image []byte) []byte {
	const imageOff = 40
	b := make([]byte, imageOff, imageOff+len(image)+20)
	b[4], b[5] = typ, 1
	binary.BigEndian.PutUint16(b[6:], flags)
	binary.BigEndian.PutUint32(b[8:], imageOff)
	binary.BigEndian.PutUint32(b[12:], uint32(len(image)))
	binary.BigEndian.PutUint16(b[16:], 1)
	b = append(b, image...)
	binary.BigEndian.PutUint32(b, uint32(len(b)+20))
	sum := sha1.Sum(b)
	return append(b, sum[:]...)
}

func TestKeyboxSkips(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0, 0)
	bob := newEntity(t, "Bob", "bob@example.com", t0, 0)
	carol := newEntity(t, "Carol", "carol@example.com", t0, 0)
	dave := newEntity(t, "Dave", "dave@example.com", t0, 0)

	stray := kbxHeaderBlob()
	kbx := bytes.Join([][]byte{
		kbxHeaderBlob(),
		kbxBlob(kbxTypePGP, 0, publicKeys(t, alice)),
		kbxBlob(kbxTypeEmpty, 0, publicKeys(t, bob)),                // deleted
		kbxBlob(kbxTypePGP, kbxFlagEphemeral, publicKeys(t, carol)), // ephemeral
		kbxBlob(kbxTypeX509, 0, []byte("\x30\x82 not parsed")),
		kbxBlob(9, 0, []byte("unknown type")),
		stray,
		kbxBlob(kbxTypePGP, 1, publicKeys(t, dave)), // "secret" flag: unused, still loaded
	}, nil)
	kr, err := ParseKeyring("test.kbx", kbx)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	var got []string
	for _, e := range kr.entities {
		got = append(got, e.PrimaryIdentity().Name)
	}
	if strings.Join(got, ", ") != "Alice <alice@example.com>, Dave <dave@example.com>" || len(kr.Skipped) != 0 {
		t.Errorf("keys = %q, skipped %q; want Alice and Dave", got, kr.Skipped)
	}

	// Oversized blobs and keyblocks go-crypto cannot read are skipped and
	// noted; the rest of the keyring stays usable.
	big := kbxBlob(kbxTypePGP, 0, make([]byte, kbxMaxBlob))
	junk := kbxBlob(kbxTypePGP, 0, []byte{0x99, 0x00, 0x01, 0x04})
	kbx = bytes.Join([][]byte{kbxHeaderBlob(), big, junk, kbxBlob(kbxTypePGP, 0, publicKeys(t, alice))}, nil)
	kr, err = ParseKeyring("test.kbx", kbx)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	if kr.Len() != 1 || len(kr.Skipped) != 2 ||
		!strings.Contains(kr.Skipped[0], "keybox blob at byte 32: ") || !strings.Contains(kr.Skipped[0], "exceed gnupg's limit") ||
		!strings.Contains(kr.Skipped[1], "keyblock at byte ") || !strings.Contains(kr.Skipped[1], "no usable key") {
		t.Errorf("keys %d, skipped %q", kr.Len(), kr.Skipped)
	}

	_, err = ParseKeyring("test.kbx", bytes.Join([][]byte{kbxHeaderBlob(), junk}, nil))
	checkErr(t, err, ErrNoKeys, "test.kbx", "no usable key")
	_, err = ParseKeyring("empty.kbx", kbxHeaderBlob())
	checkErr(t, err, ErrNoKeys, "empty.kbx")
}

func TestKeyboxMalformed(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0, 0)
	good := kbxBlob(kbxTypePGP, 0, publicKeys(t, alice))
	with := func(b []byte, f func([]byte)) []byte { b = bytes.Clone(b); f(b); return b }
	hdr := kbxHeaderBlob()
	tests := []struct {
		name   string
		data   []byte
		offset int64
		reason string
	}{
		{"short header blob", with(hdr, func(b []byte) { b[3] = 16 }), 0, "first blob is not a 32-byte header blob"},
		{"no header blob", with(hdr, func(b []byte) { b[4] = kbxTypePGP }), 0, "not an openpgp keyring"},
		{"truncated header", hdr[:20], 0, "blob length 32 runs past the end of the file (20 bytes left)"},
		{"tiny blob", append(bytes.Clone(hdr), 0, 0, 0, 4, 2), 32, "blob length 4 is less than 5"},
		{"tail", append(bytes.Clone(hdr), 0, 0, 0), 32, "truncated blob: 3 bytes left"},
		{"past end", append(bytes.Clone(hdr), good[:len(good)-1]...), 32, "runs past the end of the file"},
		{"short pgp blob", append(bytes.Clone(hdr), 0, 0, 0, 10, 2, 1, 0, 0, 0, 0), 32, "openpgp blob of 10 bytes is shorter than its 20-byte fixed part"},
		{"keyblock past blob", append(bytes.Clone(hdr), with(good, func(b []byte) { binary.BigEndian.PutUint32(b[12:], uint32(len(b))) })...), 32, "does not fit"},
		{"keyblock in header", append(bytes.Clone(hdr), with(good, func(b []byte) { binary.BigEndian.PutUint32(b[8:], 8) })...), 32, "keyblock at blob offset 8"},
		{"empty keyblock", append(bytes.Clone(hdr), with(good, func(b []byte) { binary.BigEndian.PutUint32(b[12:], 0) })...), 32, "length 0"},
		{"second blob bad", append(append(bytes.Clone(hdr), good...), 0, 0, 0x10, 0, 2), int64(32 + len(good)), "runs past the end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyring("x.kbx", tc.data)
			var ke *KeyringError
			if !errors.As(err, &ke) || !errors.Is(err, ErrMalformedKeyring) {
				t.Fatalf("err = %v, want a KeyringError", err)
			}
			t.Log(err)
			if ke.Offset != tc.offset || !strings.Contains(ke.Reason, tc.reason) || !strings.HasPrefix(err.Error(), "verify: keyring x.kbx: byte ") {
				t.Errorf("err = %v, want byte %d: %s", err, tc.offset, tc.reason)
			}
		})
	}
}

func TestParseKeyringFormats(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0, 0)
	bob := newEntity(t, "Bob", "bob@example.com", t0, 0)
	two := append(append(append([]byte("Alice's key:\n\n"), armoredKeys(t, alice)...), "\n\nBob's key:\n"...), armoredKeys(t, bob)...)
	for _, tc := range []struct {
		name string
		data []byte
		keys int
	}{
		{"binary", publicKeys(t, alice, bob), 2},
		{"armored", armoredKeys(t, alice, bob), 2},
		{"two armored blocks with text", two, 2},
		{"keybox", append(kbxHeaderBlob(), kbxBlob(kbxTypePGP, 0, publicKeys(t, alice))...), 1},
	} {
		kr, err := ParseKeyring(tc.name, tc.data)
		if err != nil || kr.Len() != tc.keys {
			t.Errorf("%s: ParseKeyring = %v keys, %v; want %d keys", tc.name, kr, err, tc.keys)
		}
	}
	sig := armoredDetachSign(t, alice, bmapText, t0)
	first := armoredKeys(t, alice)
	for _, tc := range []struct {
		name string
		data []byte
		want error
		has  string
	}{
		{"empty", nil, ErrMalformedKeyring, "file is empty"},
		{"text", []byte("hello\n"), ErrMalformedKeyring, "byte 0: not an openpgp keyring"},
		{"no end line", bytes.Split(armoredKeys(t, alice), []byte("-----END"))[0], ErrMalformedKeyring, "armored block has no end line"},
		{"signature", sig, ErrMalformedKeyring, `armored block is "PGP SIGNATURE", not a public key block`},
		{"second block broken", append(bytes.Clone(first), "\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----\n"...), ErrMalformedKeyring, fmt.Sprintf("byte %d: reading armored openpgp keys", len(first)+1)},
		{"binary junk", []byte{0x99, 0x00, 0x01, 0x04}, ErrMalformedKeyring, "reading binary openpgp keys: unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyring("k", tc.data)
			checkErr(t, err, tc.want, tc.has)
		})
	}
	_, err := LoadKeyring(filepath.Join(t.TempDir(), "missing.gpg"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.gpg") {
		t.Errorf("LoadKeyring(missing) = %v", err)
	}
}

func TestNewKeyring(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0.Add(-time.Hour), 0)
	kr := NewKeyring(openpgp.EntityList{alice})
	if s, err := Detached(kr, bmapText, detachSign(t, alice, bmapText, t0), Options{Now: at(t0)}); err != nil || s.Fingerprint != fpr(alice) {
		t.Errorf("Detached = %v, %v", s, err)
	}
}
