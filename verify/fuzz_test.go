package verify

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// fuzzSeeds returns a small keyring in every supported format.
func fuzzSeeds(f *testing.F) (binary, armored, kbx []byte) {
	e := newEntity(f, "Fuzz", "fuzz@example.com", t0, 0)
	binary = publicKeys(f, e)
	armored = armoredKeys(f, e)
	kbx = append(kbxHeaderBlob(), kbxBlob(kbxTypePGP, 0, binary)...)
	kbx = append(kbx, kbxBlob(kbxTypeEmpty, 0, binary)...)
	kbx = append(kbx, kbxBlob(kbxTypePGP, kbxFlagEphemeral, binary)...)
	return binary, armored, kbx
}

func FuzzLoadKeyring(f *testing.F) {
	binary, armored, kbx := fuzzSeeds(f)
	for _, s := range [][]byte{binary, armored, kbx, kbx[:len(kbx)/2], kbxHeaderBlob(), nil, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kr, err := ParseKeyring("fuzz", data)
		if err == nil && kr.Len() == 0 {
			t.Fatalf("ParseKeyring: no error and no keys")
		}
		if err != nil && kr != nil {
			t.Fatalf("ParseKeyring: keyring and error %v", err)
		}
	})
}

func FuzzKeybox(f *testing.F) {
	_, _, kbx := fuzzSeeds(f)
	f.Add(kbx)
	f.Add(kbxHeaderBlob())
	f.Add(append(kbxHeaderBlob(), 0, 0, 0, 4, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		blocks, _, err := parseKeybox("fuzz", data)
		if err != nil {
			var ke *KeyringError
			if !errors.As(err, &ke) || ke.Offset < 0 || ke.Offset > int64(len(data)) {
				t.Fatalf("parseKeybox error %v has no offset in the file", err)
			}
			return
		}
		prev := int64(-1)
		for _, b := range blocks {
			if b.blob <= prev || b.offset < b.blob+kbxPGPFixedLen || len(b.image) == 0 ||
				!bytes.Equal(data[b.offset:b.offset+int64(len(b.image))], b.image) {
				t.Fatalf("bad keyblock %+v after blob %d", b, prev)
			}
			prev = b.blob
		}
	})
}

// FuzzSignature feeds arbitrary detached signatures and clearsigned
// messages, the untrusted inputs, to the verifier.
func FuzzSignature(f *testing.F) {
	e := newEntity(f, "Fuzz", "fuzz@example.com", t0.Add(-time.Hour), 0)
	if err := e.AddSigningSubkey(cfgAt(t0.Add(-time.Hour))); err != nil {
		f.Fatal(err)
	}
	kr, err := ParseKeyring("fuzz", publicKeys(f, e))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(detachSign(f, e, bmapText, t0))
	f.Add(armoredDetachSign(f, e, bmapText, t0))
	f.Add(clearSign(f, e, bmapText, t0))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n- a\n-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n"))
	opts := Options{Now: at(t0)}
	f.Fuzz(func(t *testing.T, sig []byte) {
		s, err := Detached(kr, bmapText, sig, opts)
		if (s == nil) == (err == nil) {
			t.Fatalf("Detached = %v, %v", s, err)
		}
		text, s, err := ClearSigned(kr, sig, opts)
		if (s == nil) == (err == nil) || (err != nil && text != nil) {
			t.Fatalf("ClearSigned = %q, %v, %v", text, s, err)
		}
		plain, perr := ClearSignedText(sig)
		if err == nil && (perr != nil || !bytes.Equal(plain, text)) {
			t.Fatalf("ClearSignedText = %q, %v; ClearSigned gave %q", plain, perr, text)
		}
		if perr == nil && !IsClearSigned(sig) {
			t.Fatalf("ClearSignedText accepted a message IsClearSigned refuses")
		}
	})
}
