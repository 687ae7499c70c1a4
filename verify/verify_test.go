package verify

import (
	"bytes"
	"crypto"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var bmapText = []byte(`<?xml version="1.0" ?>
<bmap version="2.0">
    <ImageSize> 4194304 </ImageSize>
    <BmapFileChecksum> 0000000000000000000000000000000000000000000000000000000000000000 </BmapFileChecksum>
</bmap>
`)

func fpr(e *openpgp.Entity) string { return fprString(e.PrimaryKey.Fingerprint) }

func TestDetachedGood(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0.Add(-time.Hour), 0)
	kr := keyringOf(t, alice)
	for name, sig := range map[string][]byte{
		"binary":  detachSign(t, alice, bmapText, t0),
		"armored": armoredDetachSign(t, alice, bmapText, t0),
	} {
		t.Run(name, func(t *testing.T) {
			s, err := Detached(kr, bmapText, sig, Options{Now: at(t0)})
			if err != nil {
				t.Fatalf("Detached: %v", err)
			}
			want := Signer{UserID: "Alice <alice@example.com>", Fingerprint: fpr(alice), SigningKeyFingerprint: fpr(alice), Created: t0}
			if !s.Created.Equal(want.Created) || s.UserID != want.UserID || s.Fingerprint != want.Fingerprint || s.SigningKeyFingerprint != want.SigningKeyFingerprint {
				t.Errorf("signer = %+v, want %+v", *s, want)
			}
			if got, want := s.String(), "Alice <alice@example.com> (fingerprint "+fpr(alice)+")"; got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		})
	}
}

func TestDetachedRefused(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0.Add(-time.Hour), 0)
	mallory := newEntity(t, "Mallory", "mallory@example.com", t0.Add(-time.Hour), 0)
	old := newEntity(t, "Old", "old@example.com", t0.Add(-48*time.Hour), 24*time.Hour)
	revoked := newEntity(t, "Revoked", "rev@example.com", t0.Add(-time.Hour), 0)
	revokedSig := detachSign(t, revoked, bmapText, t0.Add(-30*time.Minute))
	if err := revoked.RevokeKey(packet.KeyCompromised, "lost laptop", cfgAt(t0.Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	kr := keyringOf(t, alice, old, revoked)

	tampered := bytes.Clone(bmapText)
	tampered[10] ^= 1
	mallorySig := detachSign(t, mallory, bmapText, t0)

	tests := []struct {
		name string
		data []byte
		sig  []byte
		opts Options
		want error
		has  []string
	}{
		{"tampered", tampered, detachSign(t, alice, bmapText, t0), Options{}, ErrBadSignature, []string{"the data does not match the signature by Alice <alice@example.com> (fingerprint " + fpr(alice) + ")"}},
		{"unknown signer", bmapText, mallorySig, Options{}, ErrUnknownSigner, []string{keyIDString(mallory.PrimaryKey.KeyId), fpr(mallory)}},
		{"expired key", bmapText, detachSign(t, old, bmapText, t0.Add(-47*time.Hour)), Options{}, ErrKeyExpired, []string{"primary key of Old <old@example.com>", "expired " + stamp(t0.Add(-24*time.Hour))}},
		{"revoked key", bmapText, revokedSig, Options{}, ErrKeyRevoked, []string{"primary key of Revoked", "key compromised: lost laptop"}},
		{"future signature", bmapText, detachSign(t, alice, bmapText, t0.Add(time.Hour)), Options{}, ErrNotYetValid, []string{"signature by Alice", "after the current time"}},
		{"fingerprint mismatch", bmapText, detachSign(t, alice, bmapText, t0), Options{Fingerprint: fpr(old)}, ErrFingerprintMismatch, []string{"signed by Alice <alice@example.com> (fingerprint " + fpr(alice) + "), want " + fpr(old)}},
		{"bad fingerprint option", bmapText, detachSign(t, alice, bmapText, t0), Options{Fingerprint: "1234ABCD"}, ErrInvalidFingerprint, []string{`"1234ABCD"`}},
		{"empty signature", bmapText, nil, Options{}, ErrNoSignature, []string{"empty"}},
		{"text", bmapText, []byte("hello\n"), Options{}, ErrNoSignature, []string{"neither armored nor binary"}},
		{"key block", bmapText, armoredKeys(t, alice), Options{}, ErrNoSignature, []string{"PGP PUBLIC KEY BLOCK"}},
		{"binary key", bmapText, publicKeys(t, alice), Options{}, ErrNoSignature, []string{"packet type 6"}},
		{"clearsigned", bmapText, clearSign(t, alice, bmapText, t0), Options{}, ErrNoSignature, []string{"clearsigned"}},
		{"truncated", bmapText, detachSign(t, alice, bmapText, t0)[:40], Options{}, ErrMalformed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Now == nil {
				tc.opts.Now = at(t0)
			}
			s, err := Detached(kr, tc.data, tc.sig, tc.opts)
			if s != nil {
				t.Errorf("signer = %v, want nil", s)
			}
			checkErr(t, err, tc.want, tc.has...)
		})
	}

	// The expired key was fine when it signed, and at that time.
	sig := detachSign(t, old, bmapText, t0.Add(-47*time.Hour))
	if _, err := Detached(kr, bmapText, sig, Options{Now: at(t0.Add(-46 * time.Hour))}); err != nil {
		t.Errorf("Detached before expiry: %v", err)
	}
	// The SignatureError carries the signer of a good but refused signature.
	_, err := Detached(kr, bmapText, sig, Options{Now: at(t0)})
	var se *SignatureError
	if !errors.As(err, &se) || se.Signer == nil || se.Signer.Fingerprint != fpr(old) || se.KeyID != keyIDString(old.PrimaryKey.KeyId) {
		t.Errorf("SignatureError = %+v, want signer %s", se, fpr(old))
	}
}

func TestSubkeys(t *testing.T) {
	now := t0
	bob := newEntity(t, "Bob", "bob@example.com", now.Add(-72*time.Hour), 0)
	if err := bob.AddSigningSubkey(cfgAt(now.Add(-71 * time.Hour))); err != nil {
		t.Fatal(err)
	}
	sub := bob.Subkeys[len(bob.Subkeys)-1]
	subFpr := fprString(sub.PublicKey.Fingerprint)
	sig := detachSign(t, bob, bmapText, now)
	kr := keyringOf(t, bob)

	s, err := Detached(kr, bmapText, sig, Options{Now: at(now)})
	if err != nil {
		t.Fatalf("Detached: %v", err)
	}
	if s.SigningKeyFingerprint != subFpr || s.Fingerprint != fpr(bob) {
		t.Fatalf("signer = %+v, want subkey %s of %s", s, subFpr, fpr(bob))
	}
	if want := "Bob <bob@example.com> (fingerprint " + fpr(bob) + ", subkey " + subFpr + ")"; s.String() != want {
		t.Errorf("String() = %q, want %q", s.String(), want)
	}

	spaced := func(f string) string {
		var b strings.Builder
		for i := 0; i < len(f); i += 4 {
			b.WriteString(strings.ToLower(f[i:i+4]) + " ")
		}
		return b.String()
	}
	for _, f := range []string{fpr(bob), subFpr, spaced(fpr(bob)), spaced(subFpr), "0x" + strings.ToLower(subFpr)} {
		if _, err := Detached(kr, bmapText, sig, Options{Now: at(now), Fingerprint: f}); err != nil {
			t.Errorf("Fingerprint %q: %v", f, err)
		}
	}
	other := newEntity(t, "Other", "o@example.com", now.Add(-time.Hour), 0)
	_, err = Detached(kr, bmapText, sig, Options{Now: at(now), Fingerprint: spaced(fpr(other))})
	checkErr(t, err, ErrFingerprintMismatch, fpr(bob), subFpr, fpr(other))

	t.Run("revoked subkey", func(t *testing.T) {
		e := newEntity(t, "Carol", "carol@example.com", now.Add(-72*time.Hour), 0)
		if err := e.AddSigningSubkey(cfgAt(now.Add(-71 * time.Hour))); err != nil {
			t.Fatal(err)
		}
		sig := detachSign(t, e, bmapText, now.Add(-2*time.Hour))
		sk := &e.Subkeys[len(e.Subkeys)-1]
		if err := e.RevokeSubkey(sk, packet.KeyRetired, "rotated", cfgAt(now.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
		_, err := Detached(keyringOf(t, e), bmapText, sig, Options{Now: at(now)})
		checkErr(t, err, ErrKeyRevoked, "signing subkey of Carol", "key retired: rotated")
	})
	t.Run("expired subkey", func(t *testing.T) {
		e := newEntity(t, "Dave", "dave@example.com", now.Add(-72*time.Hour), 0)
		cfg := cfgAt(now.Add(-71 * time.Hour))
		cfg.KeyLifetimeSecs = 3600
		if err := e.AddSigningSubkey(cfg); err != nil {
			t.Fatal(err)
		}
		sig := detachSign(t, e, bmapText, now.Add(-71*time.Hour+time.Minute))
		_, err := Detached(keyringOf(t, e), bmapText, sig, Options{Now: at(now)})
		checkErr(t, err, ErrKeyExpired, "signing subkey of Dave", "expired "+stamp(now.Add(-70*time.Hour)))
	})
}

// sha1Sign makes a detached v4 signature with SHA-1, which go-crypto's
// DetachSign refuses to do.
func sha1Sign(t *testing.T, e *openpgp.Entity, data []byte, when time.Time) []byte {
	t.Helper()
	pk := e.PrimaryKey
	sig := &packet.Signature{
		Version: 4, SigType: packet.SigTypeBinary, PubKeyAlgo: pk.PubKeyAlgo, Hash: crypto.SHA1,
		CreationTime: when, IssuerKeyId: &pk.KeyId, IssuerFingerprint: pk.Fingerprint,
	}
	cfg := cfgAt(when)
	no := false
	cfg.NonDeterministicSignaturesViaNotation = &no // its salt has no SHA-1 size
	h, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatalf("PrepareSign: %v", err)
	}
	h.Write(data)
	if err := sig.Sign(h, e.PrivateKey, cfg); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	var buf bytes.Buffer
	if err := sig.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bodyOffset returns the length of the packet header go-crypto writes
// before a signature packet body.
func bodyOffset(t *testing.T, sig []byte) int {
	t.Helper()
	switch {
	case sig[0] == 0xc2 && sig[1] < 192: // new format, one-octet length
		return 2
	case sig[0] == 0xc2 && sig[1] < 224: // new format, two-octet length
		return 3
	}
	t.Fatalf("unexpected packet header %x", sig[:3])
	return 0
}

func TestOddSignatures(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0.Add(-time.Hour), 0)
	kr := keyringOf(t, alice)

	// A key whose self-signature drops the signing flag after it signed.
	cert := newEntity(t, "Cert Only", "cert@example.com", t0.Add(-time.Hour), 0)
	sig := detachSign(t, cert, bmapText, t0.Add(-time.Minute))
	for _, id := range cert.Identities {
		ss := id.SelfSignature
		ss.FlagSign = false
		ss.CreationTime = t0.Add(-time.Minute)
		if err := ss.SignUserId(id.UserId.Id, cert.PrimaryKey, cert.PrivateKey, cfgAt(t0.Add(-time.Minute))); err != nil {
			t.Fatal(err)
		}
		id.Signatures = []*packet.Signature{ss}
	}
	_, err := Detached(keyringOf(t, cert), bmapText, sig, Options{Now: at(t0)})
	checkErr(t, err, ErrUnknownSigner, keyIDString(cert.PrimaryKey.KeyId), "is in the keyring but not valid for signing")

	// An unknown public-key algorithm (the byte after the signature type).
	odd := detachSign(t, alice, bmapText, t0)
	odd[bodyOffset(t, odd)+2] = 99
	_, err = Detached(kr, bmapText, odd, Options{Now: at(t0)})
	checkErr(t, err, ErrBadSignature, "unsupported signature by key id "+keyIDString(alice.PrimaryKey.KeyId), "public key algorithm 99")
}

func TestWeakHash(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0.Add(-time.Hour), 0)
	kr := keyringOf(t, alice)

	sig := sha1Sign(t, alice, bmapText, t0)
	_, err := Detached(kr, bmapText, sig, Options{Now: at(t0)})
	checkErr(t, err, ErrWeakHash, "signature by Alice <alice@example.com> (fingerprint "+fpr(alice)+") uses SHA1")

	// go-crypto cannot parse an MD5 signature at all; patch the hash
	// algorithm byte (offset 3 of a v4 signature body) of a good one.
	md5 := detachSign(t, alice, bmapText, t0)
	md5[bodyOffset(t, md5)+3] = 1
	_, err = Detached(kr, bmapText, md5, Options{Now: at(t0)})
	checkErr(t, err, ErrWeakHash, "signature by key id "+keyIDString(alice.PrimaryKey.KeyId)+" (fingerprint "+fpr(alice)+") uses MD5")
}

func TestClearSignedGoCrypto(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0.Add(-time.Hour), 0)
	kr := keyringOf(t, alice)
	// go-crypto signs its input literally: a final newline would become an
	// extra empty line of the message (gpg --clearsign drops it instead).
	msg := clearSign(t, alice, bytes.TrimSuffix(bmapText, []byte("\n")), t0)

	text, s, err := ClearSigned(kr, msg, Options{Now: at(t0), Fingerprint: fpr(alice)})
	if err != nil {
		t.Fatalf("ClearSigned: %v", err)
	}
	if !bytes.Equal(text, bmapText) || s.Fingerprint != fpr(alice) {
		t.Errorf("ClearSigned = %q, %v; want %q by %s", text, s, bmapText, fpr(alice))
	}
	if got, err := ClearSignedText(msg); err != nil || !bytes.Equal(got, bmapText) {
		t.Errorf("ClearSignedText = %q, %v; want %q", got, err, bmapText)
	}

	i := bytes.Index(msg, []byte("4194304"))
	tampered := bytes.Clone(msg)
	tampered[i] = '5'
	_, _, err = ClearSigned(kr, tampered, Options{Now: at(t0)})
	checkErr(t, err, ErrBadSignature, "does not match the signature by Alice")

	wrongHeader := bytes.Replace(msg, []byte("Hash: SHA256"), []byte("Hash: SHA512"), 1)
	_, _, err = ClearSigned(kr, wrongHeader, Options{Now: at(t0)})
	checkErr(t, err, ErrMalformed, "hash header lists SHA512 but the signature uses SHA256")

	_, _, err = ClearSigned(keyringOf(t, newEntity(t, "X", "x@example.com", t0, 0)), msg, Options{Now: at(t0)})
	checkErr(t, err, ErrUnknownSigner, keyIDString(alice.PrimaryKey.KeyId))

	_, _, err = ClearSigned(kr, bmapText, Options{Now: at(t0)})
	checkErr(t, err, ErrNoSignature, "not a clearsigned message")
}

func TestClearSignedMalformed(t *testing.T) {
	alice := newEntity(t, "Alice", "alice@example.com", t0.Add(-time.Hour), 0)
	msg := string(clearSign(t, alice, []byte("a\nb\n"), t0))
	sigAt := strings.Index(msg, beginSig)
	tests := []struct {
		name, msg string
		has       string
	}{
		{"bad begin line", strings.Replace(msg, "MESSAGE-----", "MESSAGE----- x", 1), "bad begin line"},
		{"other header", strings.Replace(msg, "Hash: SHA256\n", "Hash: SHA256\nComment: hi\n", 1), `unsupported armor header "Comment: hi"`},
		{"unknown hash", strings.Replace(msg, "Hash: SHA256", "Hash: FOO", 1), `unknown hash "FOO"`},
		{"ends in headers", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n", "message ends in the armor headers"},
		{"no signature", msg[:sigAt], "no " + beginSig + " line after the text"},
		{"no end", strings.Replace(msg, endSig, "", 1), "no " + endSig + " line"},
		{"text after end", strings.Replace(msg, endSig, endSig+" x", 1), "text after " + endSig},
		{"trailing data", msg + "\nsmuggled\n", "unsigned data after the signature"},
		{"second message", msg + "\n" + msg, "unsigned data after the signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ClearSignedText([]byte(tc.msg))
			checkErr(t, err, ErrMalformed, tc.has)
		})
	}
	// Only white space may follow the signature.
	if _, err := ClearSignedText([]byte(msg + "\r\n\n  \n")); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
}

func TestClearSignedCanonical(t *testing.T) {
	// Bodies that gpg accepts for the same signed text "a\r\nb", and the
	// text gpg prints for each (checked against gpg 2.2.40, see
	// TestGPGClearSignVariants for the live comparison).
	tests := []struct{ body, text string }{
		{"a\nb\n", "a\nb\n"},
		{"a \r\nb\t\n", "a\r\nb\n"},
		{"a\r \nb\n", "a\nb\n"},
		{"a\r\r\nb\n", "a\r\nb\n"},
		{"- a\n- b\n", "a\nb\n"},
		{"a\nb\r\n", "a\nb\r\n"},
		{"a\nb  \n", "a\nb\n"},
	}
	alice := newEntity(t, "Alice", "alice@example.com", t0.Add(-time.Hour), 0)
	kr := keyringOf(t, alice)
	msg := string(clearSign(t, alice, []byte("a\nb"), t0))
	head := msg[:strings.Index(msg, "\n\n")+2]
	sig := msg[strings.Index(msg, beginSig):]
	for _, tc := range tests {
		m := []byte(head + tc.body + sig)
		text, _, err := ClearSigned(kr, m, Options{Now: at(t0)})
		if err != nil || string(text) != tc.text {
			t.Errorf("body %q: ClearSigned = %q, %v; want %q", tc.body, text, err, tc.text)
		}
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	const f = "0123456789ABCDEF0123456789ABCDEF01234567"
	for _, in := range []string{f, strings.ToLower(f), "0x" + f, "0123 4567 89ab cdef 0123  4567 89AB CDEF 0123 4567", "\t" + f + " "} {
		if got, err := NormalizeFingerprint(in); err != nil || got != f {
			t.Errorf("NormalizeFingerprint(%q) = %q, %v; want %q", in, got, err, f)
		}
	}
	for _, in := range []string{"", "0123456789ABCDEF", f + "0", "G" + f[1:], "0x"} {
		if got, err := NormalizeFingerprint(in); !errors.Is(err, ErrInvalidFingerprint) {
			t.Errorf("NormalizeFingerprint(%q) = %q, %v; want ErrInvalidFingerprint", in, got, err)
		}
	}
}

func TestSignerString(t *testing.T) {
	s := &Signer{UserID: "Eve\n<eve@example.com>\x1b[31m", Fingerprint: "AA", SigningKeyFingerprint: "AA"}
	if got, want := s.String(), `Eve\x0a<eve@example.com>\x1b[31m (fingerprint AA)`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	s = &Signer{Fingerprint: "AA", SigningKeyFingerprint: "BB"}
	if got, want := s.String(), "key without user id (fingerprint AA, subkey BB)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestNilKeyring(t *testing.T) {
	_, err := Detached(nil, nil, nil, Options{})
	checkErr(t, err, ErrNoKeyring)
	_, _, err = ClearSigned(nil, nil, Options{})
	checkErr(t, err, ErrNoKeyring)
}
