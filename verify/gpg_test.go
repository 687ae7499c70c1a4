package verify

// Interop with GnuPG: keys, signatures and keyrings made by the real gpg at
// test time (skipped when gpg is not installed). The fixture is built once
// per test binary in a temporary directory; TestMain stops the gpg-agent
// processes gpg started for it and removes the directory.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	fixture.cleanup()
	os.Exit(code)
}

type gpgFixture struct {
	once  sync.Once
	err   error
	dir   string
	homes []string
	home  string            // the main GNUPGHOME: all keys
	fpr   map[string]string // key name -> primary fingerprint
	sub   map[string]string // key name -> signing subkey fingerprint
	data  []byte            // the signed bmap text
}

var fixture gpgFixture

func (f *gpgFixture) cleanup() {
	for _, h := range f.homes {
		exec.Command("gpgconf", "--homedir", h, "--kill", "all").Run()
	}
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

// path names a file of the fixture.
func (f *gpgFixture) path(name string) string { return filepath.Join(f.dir, name) }

func (f *gpgFixture) read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(f.path(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gpgFixtureFor returns the fixture, building it on first use.
func gpgFixtureFor(t *testing.T) *gpgFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: GnuPG interop not tested (generating keys takes seconds)")
	}
	if _, err := exec.LookPath("gpg"); err != nil {
		t.Skip("gpg not installed: GnuPG interop not tested")
	}
	fixture.once.Do(func() { fixture.err = fixture.build() })
	if fixture.err != nil {
		t.Fatalf("building the gpg fixture: %v", fixture.err)
	}
	return &fixture
}

// gpg runs gpg non-interactively on home.
func gpg(home string, args ...string) ([]byte, error) {
	base := []string{"--homedir", home, "--batch", "--yes", "--no-tty", "--quiet",
		"--pinentry-mode", "loopback", "--passphrase", "", "--no-auto-check-trustdb"}
	cmd := exec.Command("gpg", append(base, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("gpg %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// fingerprints lists the fingerprints of a key: primary first, then subkeys.
func fingerprints(home, uid string) ([]string, error) {
	out, err := gpg(home, "--with-colons", "--fingerprint", "--list-keys", uid)
	if err != nil {
		return nil, err
	}
	var fprs []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Split(line, ":"); f[0] == "fpr" && len(f) > 9 {
			fprs = append(fprs, f[9])
		}
	}
	return fprs, nil
}

const past = "20200101T000000" // --faked-system-time for keys that expired long ago

func (f *gpgFixture) newHome(name string) (string, error) {
	h := filepath.Join(f.dir, name)
	if err := os.Mkdir(h, 0o700); err != nil {
		return "", err
	}
	f.homes = append(f.homes, h)
	return h, nil
}

func (f *gpgFixture) build() error {
	dir, err := os.MkdirTemp("", "verify-gpg-")
	if err != nil {
		return err
	}
	f.dir = dir
	if f.home, err = f.newHome("home"); err != nil {
		return err
	}
	f.fpr, f.sub = map[string]string{}, map[string]string{}
	f.data = bmapText
	if err := os.WriteFile(f.path("data"), f.data, 0o644); err != nil {
		return err
	}
	h := f.home
	type step struct {
		name string
		args []string
	}
	keys := []struct {
		name, uid string
		gen       []string // after the uid
		faked     string   // --faked-system-time, if any
		subkey    []string // --quick-add-key arguments after the fingerprint
	}{
		{"ed", "Ed Test <ed@example.com>", []string{"ed25519", "sign", "never"}, "", nil},
		{"rsa", "RSA Test <rsa@example.com>", []string{"rsa3072", "sign", "never"}, "", nil},
		{"sub", "Sub Test <sub@example.com>", []string{"ed25519", "cert", "never"}, "", []string{"ed25519", "sign", "never"}},
		{"old", "Old Test <old@example.com>", []string{"ed25519", "sign", "1d"}, past, nil},
		{"oldsub", "Old Sub <oldsub@example.com>", []string{"ed25519", "cert", "never"}, past, []string{"ed25519", "sign", "1d"}},
		{"rev", "Revoked Test <rev@example.com>", []string{"ed25519", "sign", "never"}, "", nil},
	}
	for _, k := range keys {
		var faked []string
		if k.faked != "" {
			faked = []string{"--faked-system-time", k.faked}
		}
		if _, err := gpg(h, append(append(faked, "--quick-gen-key", k.uid), k.gen...)...); err != nil {
			return err
		}
		fprs, err := fingerprints(h, k.uid)
		if err != nil || len(fprs) != 1 {
			return fmt.Errorf("fingerprint of %s: %v %v", k.uid, fprs, err)
		}
		f.fpr[k.name] = fprs[0]
		if k.subkey != nil {
			if _, err := gpg(h, append(append(faked, "--quick-add-key", fprs[0]), k.subkey...)...); err != nil {
				return err
			}
			fprs, err := fingerprints(h, k.uid)
			if err != nil || len(fprs) != 2 {
				return fmt.Errorf("subkey fingerprint of %s: %v %v", k.uid, fprs, err)
			}
			f.sub[k.name] = fprs[1]
		}
	}

	data := f.path("data")
	signedAt := "20200101T120000" // while the "old" keys were valid
	steps := []step{
		{"ed.asc", []string{"-u", f.fpr["ed"] + "!", "--armor", "--detach-sign", "-o", f.path("ed.asc"), data}},
		{"ed.sig", []string{"-u", f.fpr["ed"] + "!", "--detach-sign", "-o", f.path("ed.sig"), data}},
		{"ed.clear", []string{"-u", f.fpr["ed"] + "!", "--clearsign", "-o", f.path("ed.clear"), data}},
		{"rsa.asc", []string{"-u", f.fpr["rsa"] + "!", "--armor", "--detach-sign", "-o", f.path("rsa.asc"), data}},
		{"rsa.sig", []string{"-u", f.fpr["rsa"] + "!", "--detach-sign", "-o", f.path("rsa.sig"), data}},
		{"rsa-sha1.sig", []string{"-u", f.fpr["rsa"] + "!", "--digest-algo", "SHA1", "--detach-sign", "-o", f.path("rsa-sha1.sig"), data}},
		{"rsa-md5.sig", []string{"-u", f.fpr["rsa"] + "!", "--digest-algo", "MD5", "--detach-sign", "-o", f.path("rsa-md5.sig"), data}},
		{"rsa-sha1.clear", []string{"-u", f.fpr["rsa"] + "!", "--digest-algo", "SHA1", "--clearsign", "-o", f.path("rsa-sha1.clear"), data}},
		{"both.asc", []string{"-u", f.fpr["ed"] + "!", "-u", f.fpr["rsa"] + "!", "--armor", "--detach-sign", "-o", f.path("both.asc"), data}},
		{"sub.asc", []string{"-u", f.sub["sub"] + "!", "--armor", "--detach-sign", "-o", f.path("sub.asc"), data}},
		{"sub.clear", []string{"-u", f.sub["sub"] + "!", "--clearsign", "-o", f.path("sub.clear"), data}},
		{"old.sig", []string{"--faked-system-time", signedAt, "-u", f.fpr["old"] + "!", "--detach-sign", "-o", f.path("old.sig"), data}},
		{"oldsub.sig", []string{"--faked-system-time", signedAt, "-u", f.sub["oldsub"] + "!", "--detach-sign", "-o", f.path("oldsub.sig"), data}},
		{"rev.sig", []string{"-u", f.fpr["rev"] + "!", "--detach-sign", "-o", f.path("rev.sig"), data}},
		{"ed.gpg", []string{"--export", "-o", f.path("ed.gpg"), f.fpr["ed"]}},
	}
	for _, s := range steps {
		if _, err := gpg(h, s.args...); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}

	// Revoke "rev" with the certificate gpg stored when making it (its
	// armor line is prefixed with a colon against accidental import).
	rc, err := os.ReadFile(filepath.Join(h, "openpgp-revocs.d", f.fpr["rev"]+".rev"))
	if err != nil {
		return err
	}
	rc = bytes.Replace(rc, []byte(":-----BEGIN"), []byte("-----BEGIN"), 1)
	if err := os.WriteFile(f.path("rev.rev"), rc, 0o644); err != nil {
		return err
	}
	if _, err := gpg(h, "--import", f.path("rev.rev")); err != nil {
		return err
	}

	// Keyrings: armored and binary exports of everything, a keybox with a
	// single key, and a GnuPG 1.x style pubring.gpg (gpg keeps that format
	// for an existing, even empty, pubring.gpg; it holds trust packets).
	for _, s := range []step{
		{"all.asc", []string{"--export", "--armor", "-o", f.path("all.asc")}},
		{"all.gpg", []string{"--export", "-o", f.path("all.gpg")}},
	} {
		if _, err := gpg(h, s.args...); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	one, err := f.newHome("one")
	if err != nil {
		return err
	}
	if _, err := gpg(one, "--import", f.path("ed.gpg")); err != nil {
		return err
	}
	legacy, err := f.newHome("legacy")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(legacy, "pubring.gpg"), nil, 0o600); err != nil {
		return err
	}
	if _, err := gpg(legacy, "--import", f.path("all.gpg")); err != nil {
		return err
	}
	return nil
}

// gpgDecrypt returns what gpg --decrypt prints for a clearsigned file, and
// whether gpg called the signature good.
func gpgDecrypt(home, file string) ([]byte, bool) {
	cmd := exec.Command("gpg", "--homedir", home, "--batch", "--no-tty", "--status-fd", "2", "--decrypt", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ := cmd.Output()
	return out, bytes.Contains(stderr.Bytes(), []byte("[GNUPG:] GOODSIG "))
}

func TestGPGKeyrings(t *testing.T) {
	fx := gpgFixtureFor(t)
	for _, tc := range []struct {
		file string
		keys int
	}{
		{"home/pubring.kbx", 6},
		{"all.asc", 6},
		{"all.gpg", 6},
		{"legacy/pubring.gpg", 6},
		{"one/pubring.kbx", 1},
		{"ed.gpg", 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			kr, err := LoadKeyring(fx.path(tc.file))
			if err != nil {
				t.Fatalf("LoadKeyring: %v", err)
			}
			if kr.Len() != tc.keys || len(kr.Skipped) != 0 {
				t.Errorf("LoadKeyring: %d keys, skipped %q; want %d keys", kr.Len(), kr.Skipped, tc.keys)
			}
			s, err := Detached(kr, fx.data, fx.read(t, "ed.asc"), Options{})
			if err != nil || s.Fingerprint != fx.fpr["ed"] {
				t.Errorf("Detached(ed.asc) = %v, %v", s, err)
			}
		})
	}
	if kbx := fx.read(t, "legacy/pubring.gpg"); isKeybox(kbx) {
		t.Errorf("legacy/pubring.gpg is a keybox, want a GnuPG 1.x keyring")
	}
}

func TestGPGDetached(t *testing.T) {
	fx := gpgFixtureFor(t)
	kr, err := LoadKeyring(fx.path("home/pubring.kbx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig, key, signingKey, uid string
	}{
		{"ed.asc", fx.fpr["ed"], fx.fpr["ed"], "Ed Test <ed@example.com>"},
		{"ed.sig", fx.fpr["ed"], fx.fpr["ed"], "Ed Test <ed@example.com>"},
		{"rsa.asc", fx.fpr["rsa"], fx.fpr["rsa"], "RSA Test <rsa@example.com>"},
		{"rsa.sig", fx.fpr["rsa"], fx.fpr["rsa"], "RSA Test <rsa@example.com>"},
		{"sub.asc", fx.fpr["sub"], fx.sub["sub"], "Sub Test <sub@example.com>"},
		{"both.asc", fx.fpr["ed"], fx.fpr["ed"], "Ed Test <ed@example.com>"},
	} {
		t.Run(tc.sig, func(t *testing.T) {
			sig := fx.read(t, tc.sig)
			s, err := Detached(kr, fx.data, sig, Options{})
			if err != nil {
				t.Fatalf("Detached: %v", err)
			}
			if s.Fingerprint != tc.key || s.SigningKeyFingerprint != tc.signingKey || s.UserID != tc.uid {
				t.Errorf("signer = %+v, want %s, %s, %s", s, tc.uid, tc.key, tc.signingKey)
			}
			// --fingerprint accepts the primary key and the signing key,
			// in any case and spacing, and nothing else.
			for _, f := range []string{tc.key, tc.signingKey, strings.ToLower(tc.signingKey[:20]) + " " + tc.signingKey[20:]} {
				if _, err := Detached(kr, fx.data, sig, Options{Fingerprint: f}); err != nil {
					t.Errorf("Fingerprint %q: %v", f, err)
				}
			}
			_, err = Detached(kr, fx.data, sig, Options{Fingerprint: fx.fpr["old"]})
			checkErr(t, err, ErrFingerprintMismatch, tc.signingKey, fx.fpr["old"])

			tampered := bytes.Clone(fx.data)
			tampered[len(tampered)/2] ^= 0x20
			_, err = Detached(kr, tampered, sig, Options{})
			checkErr(t, err, ErrBadSignature, "the data does not match the signature by "+tc.uid)
		})
	}

	// both.asc holds signatures by ed and rsa: with only rsa's key, rsa's
	// signature is the one checked.
	rsaOnly, err := ParseKeyring("rsa", mustGPG(t, fx.home, "--export", fx.fpr["rsa"]))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Detached(rsaOnly, fx.data, fx.read(t, "both.asc"), Options{}); err != nil || s.Fingerprint != fx.fpr["rsa"] {
		t.Errorf("Detached(both.asc) with rsa's key = %v, %v", s, err)
	}
}

func mustGPG(t *testing.T, home string, args ...string) []byte {
	t.Helper()
	out, err := gpg(home, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGPGRefused(t *testing.T) {
	fx := gpgFixtureFor(t)
	kr, err := LoadKeyring(fx.path("home/pubring.kbx"))
	if err != nil {
		t.Fatal(err)
	}
	edOnly, err := LoadKeyring(fx.path("ed.gpg"))
	if err != nil {
		t.Fatal(err)
	}
	keyID := func(f string) string { return f[len(f)-16:] }
	for _, tc := range []struct {
		sig  string
		kr   *Keyring
		want error
		has  []string
	}{
		{"rsa.sig", edOnly, ErrUnknownSigner, []string{"no public key for key id " + keyID(fx.fpr["rsa"])}},
		{"sub.asc", edOnly, ErrUnknownSigner, []string{keyID(fx.sub["sub"]), fx.sub["sub"]}},
		// gpg makes the keys at a faked 2020-01-01 00:00:00, which may tick a
		// second before the key is stamped: the expiry can be :00 or :01.
		{"old.sig", kr, ErrKeyExpired, []string{"primary key of Old Test <old@example.com>", "expired 2020-01-02 00:00:0"}},
		{"oldsub.sig", kr, ErrKeyExpired, []string{"signing subkey of Old Sub", fx.sub["oldsub"], "expired 2020-01-02 00:00:0"}},
		{"rev.sig", kr, ErrKeyRevoked, []string{"primary key of Revoked Test <rev@example.com>", "was revoked on"}},
		{"rsa-sha1.sig", kr, ErrWeakHash, []string{"uses SHA1", keyID(fx.fpr["rsa"])}},
		{"rsa-md5.sig", kr, ErrWeakHash, []string{"signature by key id " + keyID(fx.fpr["rsa"]) + " (fingerprint " + fx.fpr["rsa"] + ") uses MD5"}},
	} {
		t.Run(tc.sig, func(t *testing.T) {
			s, err := Detached(tc.kr, fx.data, fx.read(t, tc.sig), Options{})
			if s != nil {
				t.Errorf("signer = %v, want nil", s)
			}
			checkErr(t, err, tc.want, tc.has...)
		})
	}
	// Judged at a time when it was valid, the expired key is accepted.
	valid := time.Date(2020, 1, 1, 18, 0, 0, 0, time.UTC)
	for _, sig := range []string{"old.sig", "oldsub.sig"} {
		if _, err := Detached(kr, fx.data, fx.read(t, sig), Options{Now: at(valid)}); err != nil {
			t.Errorf("%s at %v: %v", sig, valid, err)
		}
		_, err := Detached(kr, fx.data, fx.read(t, sig), Options{Now: at(valid.AddDate(-1, 0, 0))})
		checkErr(t, err, ErrNotYetValid)
	}
	_, _, err = ClearSigned(kr, fx.read(t, "rsa-sha1.clear"), Options{})
	checkErr(t, err, ErrWeakHash, "uses SHA1")
}

func TestGPGClearSigned(t *testing.T) {
	fx := gpgFixtureFor(t)
	kr, err := LoadKeyring(fx.path("all.asc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ed.clear", "sub.clear"} {
		t.Run(name, func(t *testing.T) {
			msg := fx.read(t, name)
			if !IsClearSigned(msg) {
				t.Fatalf("IsClearSigned = false")
			}
			want, good := gpgDecrypt(fx.home, fx.path(name))
			if !good || !bytes.Equal(want, fx.data) {
				t.Fatalf("gpg --decrypt = %q, good %v; want %q", want, good, fx.data)
			}
			text, s, err := ClearSigned(kr, msg, Options{})
			if err != nil {
				t.Fatalf("ClearSigned: %v", err)
			}
			if !bytes.Equal(text, want) {
				t.Errorf("ClearSigned text = %q, want gpg's %q", text, want)
			}
			if s.Fingerprint != fx.fpr[strings.TrimSuffix(name, ".clear")] {
				t.Errorf("signer = %v", s)
			}
			if got, err := ClearSignedText(msg); err != nil || !bytes.Equal(got, want) {
				t.Errorf("ClearSignedText = %q, %v; want %q", got, err, want)
			}

			i := bytes.Index(msg, []byte("4194304"))
			tampered := bytes.Clone(msg)
			tampered[i] = '5'
			_, _, err = ClearSigned(kr, tampered, Options{})
			checkErr(t, err, ErrBadSignature, "does not match")
		})
	}
}

// TestGPGClearSignVariants compares the text gpg --decrypt prints, and its
// verdict, with ClearSigned's on messages made by gpg --clearsign from
// awkward inputs, and on hand-edited messages whose text differs from what
// was signed only in ways the cleartext framework ignores.
func TestGPGClearSignVariants(t *testing.T) {
	fx := gpgFixtureFor(t)
	kr, err := LoadKeyring(fx.path("home/pubring.kbx"))
	if err != nil {
		t.Fatal(err)
	}
	compare := func(t *testing.T, file string, msg []byte) {
		t.Helper()
		if err := os.WriteFile(file, msg, 0o644); err != nil {
			t.Fatal(err)
		}
		want, good := gpgDecrypt(fx.home, file)
		text, _, err := ClearSigned(kr, msg, Options{})
		if good != (err == nil) {
			t.Fatalf("gpg good = %v, ClearSigned error = %v", good, err)
		}
		if good && !bytes.Equal(text, want) {
			t.Errorf("ClearSigned text = %q, gpg prints %q", text, want)
		}
		if !good && !errors.Is(err, ErrBadSignature) {
			t.Errorf("ClearSigned error = %v, want ErrBadSignature", err)
		}
	}

	inputs := []string{
		"line1\nline2\n", "line1\nline2", "", "\n", "a\n\n\n",
		"-dash\nFrom me\n- x\n--\n-----BEGIN PGP SIGNATURE-----\nend\n",
		"l1\r\nl2\r\n", "a\r\nb", "a\rb\n", "trail  \nsp\t\nx \n", "a\r\r\nb\n", "a\r \nb\n",
		"tab\t\r\n\t\n  \n", "- \n-\t\nx", "\xff\xfe bytes \x00 nul\n",
	}
	for i, in := range inputs {
		t.Run(fmt.Sprintf("gpg-clearsign-%d", i), func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "in")
			os.WriteFile(src, []byte(in), 0o644)
			mustGPG(t, fx.home, "-u", fx.fpr["ed"]+"!", "--clearsign", "-o", src+".asc", src)
			msg, _ := os.ReadFile(src + ".asc")
			compare(t, src+".asc", msg)
		})
	}

	// Hand-edited bodies around a signature over the text "a\r\nb".
	src := filepath.Join(t.TempDir(), "ab")
	os.WriteFile(src, []byte("a\nb\n"), 0o644)
	mustGPG(t, fx.home, "-u", fx.fpr["ed"]+"!", "--clearsign", "-o", src+".asc", src)
	msg, _ := os.ReadFile(src + ".asc")
	head := msg[:bytes.Index(msg, []byte("\n\n"))+2]
	sig := msg[bytes.Index(msg, []byte(beginSig)):]
	bodies := []string{
		"a\nb\n", "a \r\nb\t\n", "a\r \nb\n", "a\r\r\nb\n", "- a\n- b\n", "a\nb\r\n", "a\nb  \n",
		"-a\nb\n", "a\v\nb\n", "a\f\nb\n", "a\u00a0\nb\n", "-  a\nb\n", "--a\nb\n", "a\n\nb\n", "a\nb\n\n",
	}
	for i, body := range bodies {
		t.Run(fmt.Sprintf("edited-%d", i), func(t *testing.T) {
			m := append(append(bytes.Clone(head), body...), sig...)
			compare(t, filepath.Join(t.TempDir(), "m.asc"), m)
		})
	}
	// gpg accepts trailing white space on the armor lines, and CR LF
	// throughout.
	for i, m := range [][]byte{
		bytes.Replace(msg, []byte(beginSig), []byte(beginSig+" \t"), 1),
		bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n")),
	} {
		t.Run(fmt.Sprintf("armor-%d", i), func(t *testing.T) {
			compare(t, filepath.Join(t.TempDir(), "m.asc"), m)
		})
	}
}

func TestGPGKeyboxTruncated(t *testing.T) {
	fx := gpgFixtureFor(t)
	kbx := fx.read(t, "home/pubring.kbx")
	blocks, _, err := parseKeybox("kbx", kbx)
	if err != nil || len(blocks) != 6 {
		t.Fatalf("parseKeybox: %d blocks, %v", len(blocks), err)
	}
	// Every prefix that cuts a blob must fail, naming the blob; prefixes
	// that end on a blob boundary hold the keys before it.
	ends := map[int]bool{32: true}
	for _, b := range blocks {
		n := int(b.blob) + int(uint32(kbx[b.blob])<<24|uint32(kbx[b.blob+1])<<16|uint32(kbx[b.blob+2])<<8|uint32(kbx[b.blob+3]))
		ends[n] = true
	}
	for n := 0; n < len(kbx); n++ {
		kr, err := ParseKeyring("kbx", kbx[:n])
		switch {
		case n < kbxMinFileLen:
			if err == nil {
				t.Fatalf("prefix %d: no error", n)
			}
		case ends[n]:
			if err != nil && !errors.Is(err, ErrNoKeys) {
				t.Fatalf("prefix %d (a blob boundary): %v", n, err)
			}
		default:
			var ke *KeyringError
			if !errors.As(err, &ke) || !errors.Is(err, ErrMalformedKeyring) || ke.Offset < 0 {
				t.Fatalf("prefix %d: keyring %v, error %v; want a KeyringError with an offset", n, kr, err)
			}
		}
	}
}

func TestDefaultKeyring(t *testing.T) {
	fx := gpgFixtureFor(t)
	t.Setenv("GNUPGHOME", fx.home)
	kr, path, err := DefaultKeyring()
	if err != nil || path != filepath.Join(fx.home, "pubring.kbx") || kr.Len() != 6 {
		t.Errorf("DefaultKeyring() = %v, %q, %v", kr, path, err)
	}
	legacy := filepath.Join(fx.dir, "legacy")
	t.Setenv("GNUPGHOME", "")
	t.Setenv("HOME", t.TempDir())
	if err := os.Symlink(legacy, filepath.Join(os.Getenv("HOME"), ".gnupg")); err != nil {
		t.Fatal(err)
	}
	if kr, path, err := DefaultKeyring(); err != nil || path != filepath.Join(os.Getenv("HOME"), ".gnupg", "pubring.gpg") || kr.Len() != 6 {
		t.Errorf("DefaultKeyring() with ~/.gnupg = %v, %q, %v", kr, path, err)
	}
}

func TestDefaultKeyringMissing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GNUPGHOME", dir)
	_, _, err := DefaultKeyring()
	checkErr(t, err, ErrNoKeyring, filepath.Join(dir, "pubring.kbx"), filepath.Join(dir, "pubring.gpg"))
	os.Mkdir(filepath.Join(dir, "public-keys.d"), 0o700)
	_, _, err = DefaultKeyring()
	checkErr(t, err, ErrNoKeyring, "keyboxd")
}
