package verify

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// t0 is the fixed "now" of the go-crypto tests.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func cfgAt(t time.Time) *packet.Config {
	return &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: at(t)}
}

// newEntity makes an ed25519 key (with go-crypto's default encryption
// subkey) created at created, expiring after lifetime (0: never).
func newEntity(t testing.TB, name, email string, created time.Time, lifetime time.Duration) *openpgp.Entity {
	t.Helper()
	cfg := cfgAt(created)
	cfg.KeyLifetimeSecs = uint32(lifetime / time.Second)
	e, err := openpgp.NewEntity(name, "", email, cfg)
	if err != nil {
		t.Fatalf("NewEntity: %v", err)
	}
	return e
}

// publicKeys serializes the public parts of es (binary, as gpg --export).
func publicKeys(t testing.TB, es ...*openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&buf); err != nil {
			t.Fatalf("Serialize: %v", err)
		}
	}
	return buf.Bytes()
}

func armoredKeys(t testing.TB, es ...*openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(publicKeys(t, es...))
	w.Close()
	return buf.Bytes()
}

// keyringOf round-trips the public keys of es through ParseKeyring.
func keyringOf(t testing.TB, es ...*openpgp.Entity) *Keyring {
	t.Helper()
	kr, err := ParseKeyring("test", publicKeys(t, es...))
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return kr
}

func detachSign(t testing.TB, e *openpgp.Entity, data []byte, when time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := openpgp.DetachSign(&buf, e, bytes.NewReader(data), cfgAt(when)); err != nil {
		t.Fatalf("DetachSign: %v", err)
	}
	return buf.Bytes()
}

func armoredDetachSign(t testing.TB, e *openpgp.Entity, data []byte, when time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, e, bytes.NewReader(data), cfgAt(when)); err != nil {
		t.Fatalf("ArmoredDetachSign: %v", err)
	}
	return buf.Bytes()
}

func clearSign(t testing.TB, e *openpgp.Entity, data []byte, when time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, e.PrivateKey, cfgAt(when))
	if err != nil {
		t.Fatalf("clearsign.Encode: %v", err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkErr asserts that err wraps want and reads as one lower-case line
// without a final period, and that it contains every string in has.
func checkErr(t testing.TB, err, want error, has ...string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	msg := err.Error()
	t.Log(msg)
	if strings.ContainsAny(msg, "\n\r") || strings.HasSuffix(msg, ".") {
		t.Errorf("message %q is not one line without a final period", msg)
	}
	if r := []rune(msg)[0]; unicode.IsUpper(r) {
		t.Errorf("message %q starts upper case", msg)
	}
	for _, h := range has {
		if !strings.Contains(msg, h) {
			t.Errorf("message %q lacks %q", msg, h)
		}
	}
}
