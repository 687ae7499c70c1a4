package main

// End-to-end tests of OpenPGP-signed bmaps in "bmap copy": keys and
// signatures are made at test time by the real gpg (in temporary
// GNUPGHOMEs whose agents are stopped when the test ends) and by
// go-crypto. Every refusal must come before the destination is opened:
// each case starts with a destination file of known content and mtime and
// checks that both are unchanged.

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/bmap-tools/bmap/bmap"
)

// sigSpec is a small sparse image: four ranges (one with a partial last
// block) and holes between them.
var sigSpec = imageSpec{
	size:   64*testBlockSize + 100,
	ranges: []blockRange{{0, 1, 't'}, {5, 5, 'r'}, {20, 29, 't'}, {64, 64, 't'}},
	seed:   7,
}

// sigFixture is what every signature case starts from.
type sigFixture struct {
	dir       string
	home      string // GNUPGHOME holding the keys ed, rsa, expired, revoked (secret and public)
	otherHome string // GNUPGHOME holding only the key other
	empty     string // an empty GNUPGHOME: no keyring at all

	fpr map[string]string // key name -> primary fingerprint
	sub map[string]string // key name -> signing subkey fingerprint (ed, rsa)

	img  *testImage
	m    *bmap.Map
	bmap []byte // the bmap of img, as bmap create wrote it
	gz   string // img compressed with gzip

	// The bmap tampered with after signing: one range's data changed in
	// the image, and that range's checksum and the bmap's own checksum
	// made valid again, so only a signature can tell.
	tBmap []byte
	tData []byte
	tGz   string

	expiredSig []byte // detached armored signature of bmap by expired, made while it was valid
	revokedSig []byte // detached armored signature of bmap by revoked, made before it was revoked
}

// sigGPG runs gpg non-interactively on home with stdin and returns its
// standard output, failing the test with its standard error.
func sigGPG(t testing.TB, home string, stdin []byte, args ...string) []byte {
	t.Helper()
	base := []string{"--homedir", home, "--batch", "--yes", "--no-tty", "--quiet",
		"--pinentry-mode", "loopback", "--passphrase", "", "--no-auto-check-trustdb", "--no-permission-warning"}
	cmd := exec.Command("gpg", append(base, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// sigHome makes an empty GNUPGHOME and stops the gpg-agent that gpg
// starts for it when the test ends (before the directory is removed).
func sigHome(t *testing.T, dir, name string) string {
	t.Helper()
	home := filepath.Join(dir, name)
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("gpgconf", "--homedir", home, "--kill", "all").CombinedOutput(); err != nil {
			t.Logf("gpgconf --homedir %s --kill all: %v: %s", home, err, out)
		}
	})
	return home
}

// sigKeyParams is a gpg --gen-key parameter block for key name (user id
// "Name <name@example.org>"), algo "ed25519" or "rsa3072", with a signing
// subkey of the same algorithm if subkey is set. The keys are unprotected
// and made with the quick random generator: the test makes keys, not
// secrets.
func sigKeyParams(name, algo string, subkey bool, expire string) string {
	var b strings.Builder
	b.WriteString("%no-protection\n%transient-key\n")
	spec := func(prefix string) {
		if algo == "rsa3072" {
			fmt.Fprintf(&b, "%s-Type: rsa\n%s-Length: 3072\n", prefix, prefix)
		} else {
			fmt.Fprintf(&b, "%s-Type: eddsa\n%s-Curve: ed25519\n", prefix, prefix)
		}
		fmt.Fprintf(&b, "%s-Usage: sign\n", prefix)
	}
	spec("Key")
	if subkey {
		spec("Subkey")
	}
	fmt.Fprintf(&b, "Name-Real: %s%s\nName-Email: %s@example.org\nExpire-Date: %s\n%%commit\n",
		strings.ToUpper(name[:1]), name[1:], name, expire)
	return b.String()
}

// sigUserID is the user id of key name, as the success message prints it.
func sigUserID(name string) string {
	return fmt.Sprintf("%s%s <%s@example.org>", strings.ToUpper(name[:1]), name[1:], name)
}

// sigKeyFingerprints returns the primary and subkey fingerprints of the
// key with the e-mail address name@example.org in home.
func sigKeyFingerprints(t *testing.T, home, name string) (primary string, subs []string) {
	t.Helper()
	out := sigGPG(t, home, nil, "--with-colons", "--list-keys", "<"+name+"@example.org>")
	last := ""
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(l, ":")
		switch {
		case f[0] == "pub" || f[0] == "sub":
			last = f[0]
		case f[0] == "fpr" && len(f) > 9:
			if last == "pub" && primary == "" {
				primary = f[9]
			} else if last == "sub" {
				subs = append(subs, f[9])
			}
			last = ""
		}
	}
	if primary == "" {
		t.Fatalf("no key for %s in %s:\n%s", name, home, out)
	}
	return primary, subs
}

// sigSetup builds the fixture: the image, its bmap, and the keys.
func sigSetup(t *testing.T) *sigFixture {
	t.Helper()
	needTools(t, "gpg", "gpgconf", "gzip")
	dir := t.TempDir()
	f := &sigFixture{dir: dir, fpr: map[string]string{}, sub: map[string]string{}}
	f.home = sigHome(t, dir, "home")
	f.otherHome = sigHome(t, dir, "other")
	f.empty = sigHome(t, dir, "empty")

	f.img = makeImage(t, dir, "disk.img", sigSpec)
	bmapPath := filepath.Join(dir, "disk.img.bmap")
	f.m = createBmap(t, f.img.path, bmapPath)
	f.bmap = readFile(t, bmapPath)
	f.gz = compress(t, formatNamed(t, "gzip"), f.img.path, dir)

	start := time.Now()
	params := filepath.Join(dir, "params")
	writeFile(t, params, []byte(sigKeyParams("ed", "ed25519", true, "0")+
		sigKeyParams("rsa", "rsa3072", true, "0")+sigKeyParams("revoked", "ed25519", false, "0")))
	sigGPG(t, f.home, nil, "--gen-key", params)
	writeFile(t, params, []byte(sigKeyParams("other", "ed25519", false, "0")))
	sigGPG(t, f.otherHome, nil, "--gen-key", params)
	// A key made ten days ago that expired a day later, and a signature
	// made while it was valid.
	then := time.Now().Add(-10 * 24 * time.Hour).Unix()
	writeFile(t, params, []byte(sigKeyParams("expired", "ed25519", false, "1d")))
	sigGPG(t, f.home, nil, "--faked-system-time", fmt.Sprint(then), "--gen-key", params)
	for _, name := range []string{"ed", "rsa", "revoked", "expired"} {
		var subs []string
		f.fpr[name], subs = sigKeyFingerprints(t, f.home, name)
		if len(subs) > 0 {
			f.sub[name] = subs[0]
		}
	}
	f.fpr["other"], _ = sigKeyFingerprints(t, f.otherHome, "other")
	if f.sub["ed"] == "" || f.sub["rsa"] == "" {
		t.Fatalf("the ed and rsa keys have no signing subkey: %v", f.sub)
	}
	f.expiredSig = sigGPG(t, f.home, f.bmap, "--faked-system-time", fmt.Sprint(then+3600),
		"--detach-sign", "--armor", "-u", f.fpr["expired"]+"!")
	// Sign, then revoke with the certificate gpg stored when it made the
	// key (its armor line is commented out with a colon).
	f.revokedSig = sigGPG(t, f.home, f.bmap, "--detach-sign", "--armor", "-u", f.fpr["revoked"]+"!")
	rev := readFile(t, filepath.Join(f.home, "openpgp-revocs.d", f.fpr["revoked"]+".rev"))
	rev = bytes.Replace(rev, []byte(":-----BEGIN PGP PUBLIC KEY BLOCK-----"), []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----"), 1)
	sigGPG(t, f.home, rev, "--import")
	if out := sigGPG(t, f.home, nil, "--with-colons", "--list-keys", f.fpr["revoked"]); !bytes.HasPrefix(out, []byte("pub:r:")) &&
		!bytes.Contains(out, []byte("\npub:r:")) {
		t.Fatalf("the key revoked is not revoked:\n%s", out)
	}
	t.Logf("made the gpg keys in %v", time.Since(start).Round(time.Millisecond))

	// The tampered image and bmap.
	var rg bmap.Range
	for _, r := range f.m.Ranges {
		if r.First == 20 {
			rg = r
		}
	}
	if rg.Last != 29 {
		t.Fatalf("the bmap has no range 20-29: %v", f.m.Ranges)
	}
	f.tData = bytes.Clone(f.img.data)
	off, n := f.m.Offset(rg), f.m.Length(rg)
	copy(f.tData[off+100:], "evil")
	sum := sha256.Sum256(f.tData[off : off+n])
	oldSum, newSum := []byte(hex.EncodeToString(rg.Checksum)), []byte(hex.EncodeToString(sum[:]))
	if bytes.Count(f.bmap, oldSum) != 1 {
		t.Fatalf("the checksum of blocks 20-29 occurs %d times in the bmap", bytes.Count(f.bmap, oldSum))
	}
	f.tBmap = fixBmapChecksum(t, bytes.Replace(f.bmap, oldSum, newSum, 1))
	if _, err := bmap.ParseBytes(f.tBmap); err != nil {
		t.Fatalf("the tampered bmap does not parse: %v", err)
	}
	tdir := filepath.Join(dir, "tampered")
	if err := os.Mkdir(tdir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tdir, "disk.img"), f.tData)
	f.tGz = compress(t, formatNamed(t, "gzip"), filepath.Join(tdir, "disk.img"), tdir)
	return f
}

// sign signs data with gpg in home; args say how (--detach-sign,
// --clearsign, --armor, -u KEY).
func (f *sigFixture) sign(t *testing.T, home string, data []byte, args ...string) []byte {
	t.Helper()
	return sigGPG(t, home, data, args...)
}

// asc is a detached armored signature of data by key (a fingerprint; a
// trailing "!" makes gpg use exactly that key or subkey).
func (f *sigFixture) asc(t *testing.T, key string, data []byte, extra ...string) []byte {
	t.Helper()
	return f.sign(t, f.home, data, append([]string{"--detach-sign", "--armor", "-u", key}, extra...)...)
}

// clearsigned is data clearsigned by key.
func (f *sigFixture) clearsigned(t *testing.T, key string, data []byte) []byte {
	t.Helper()
	return f.sign(t, f.home, data, "--clearsign", "-u", key)
}

// export writes the public keys to dir/name, armored or binary.
func (f *sigFixture) export(t *testing.T, path string, armored bool, keys ...string) {
	t.Helper()
	args := []string{"--export"}
	if armored {
		args = append(args, "--armor")
	}
	writeFile(t, path, sigGPG(t, f.home, nil, append(args, keys...)...))
}

// sigCase is one run of bmap copy: a directory with the image
// (disk.img.gz), its bmap (disk.img.bmap, found by discovery) and whatever
// else the case puts there, and a destination file holding old content.
type sigCase struct {
	dir, image, dest string
	old              []byte
	mtime            time.Time
}

var sigOldMtime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// newCase makes the case directory: the gzip image gz, the bmap text and
// the other files (name -> content).
func (f *sigFixture) newCase(t *testing.T, gz string, bmapText []byte, files map[string][]byte) *sigCase {
	t.Helper()
	dir := t.TempDir()
	c := &sigCase{dir: dir, image: filepath.Join(dir, "disk.img.gz"), dest: filepath.Join(dir, "dest.img")}
	writeFile(t, c.image, readFile(t, gz))
	writeFile(t, filepath.Join(dir, "disk.img.bmap"), bmapText)
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
	c.old = bytes.Repeat([]byte("precious destination content\n"), 1000)
	writeFile(t, c.dest, c.old)
	if err := os.Chtimes(c.dest, sigOldMtime, sigOldMtime); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(c.dest)
	if err != nil {
		t.Fatal(err)
	}
	c.mtime = fi.ModTime()
	return c
}

// path names a file of the case.
func (c *sigCase) path(name string) string { return filepath.Join(c.dir, name) }

// copy runs bmap copy with args, then IMAGE DEST.
func (c *sigCase) copy(t *testing.T, args ...string) result {
	t.Helper()
	return runBmap(t, nil, append(append([]string{"copy"}, args...), c.image, c.dest)...)
}

// untouched checks that the destination has its old content and mtime.
func (c *sigCase) untouched(t *testing.T) {
	t.Helper()
	sameBytes(t, "destination "+c.dest, readFile(t, c.dest), c.old)
	fi, err := os.Stat(c.dest)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(c.mtime) {
		t.Errorf("destination %s was modified at %v (was %v)", c.dest, fi.ModTime(), c.mtime)
	}
}

// refused checks that r failed with code and an error mentioning want,
// and that the destination was not touched.
func (c *sigCase) refused(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	wantFailure(t, r, code, want...)
	c.untouched(t)
	if strings.Contains(r.stderr, "copying image") {
		t.Errorf("the copy started before the refusal:\n%s", r.stderr)
	}
}

// succeeded checks that r succeeded, wrote data, and that stderr mentions
// every string of want.
func (c *sigCase) succeeded(t *testing.T, r result, data []byte, want ...string) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("copy failed: %v (exit %d)\nstderr:\n%s", r.err, r.code, r.stderr)
	}
	checkFile(t, c.dest, data)
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
		}
	}
}

// verified is the line a good signature by key name prints.
func (f *sigFixture) verified(name string) string {
	return fmt.Sprintf("successfully verified bmap file signature of %s (fingerprint %s)", sigUserID(name), f.fpr[name])
}

// verifiedSub is the line a good signature by key name's subkey prints.
func (f *sigFixture) verifiedSub(name string) string {
	return fmt.Sprintf("successfully verified bmap file signature of %s (fingerprint %s, subkey %s)", sigUserID(name), f.fpr[name], f.sub[name])
}

// lowerSpaced writes a fingerprint as some people paste it: lower case,
// in groups of four.
func lowerSpaced(fpr string) string {
	var groups []string
	for i := 0; i < len(fpr); i += 4 {
		groups = append(groups, strings.ToLower(fpr[i:min(i+4, len(fpr))]))
	}
	return strings.Join(groups, " ")
}

func TestCopySignatures(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: making gpg keys takes seconds")
	}
	f := sigSetup(t)
	ed, edSub, rsa, rsaSub := f.fpr["ed"]+"!", f.sub["ed"]+"!", f.fpr["rsa"]+"!", f.sub["rsa"]+"!"
	asc := f.asc(t, ed, f.bmap)
	bin := f.sign(t, f.home, f.bmap, "--detach-sign", "-u", ed)

	// Accepted signatures, with the user's keyring ($GNUPGHOME) unless a
	// case says otherwise.
	t.Run("good", func(t *testing.T) {
		tests := []struct {
			name  string
			home  string            // GNUPGHOME; "" for f.home
			bmap  []byte            // nil: the bmap
			files map[string][]byte // beside the bmap
			args  []string          // "@NAME" is the case's file NAME
			want  []string          // in stderr
		}{
			{name: "asc-discovered", files: map[string][]byte{"disk.img.bmap.asc": asc},
				want: []string{"discovered signature file for bmap '", "disk.img.bmap.asc'", f.verified("ed")}},
			{name: "sig-discovered", files: map[string][]byte{"disk.img.bmap.sig": bin},
				want: []string{"disk.img.bmap.sig'", f.verified("ed")}},
			{name: "gpg-discovered", files: map[string][]byte{"disk.img.bmap.gpg": bin},
				want: []string{"disk.img.bmap.gpg'", f.verified("ed")}},
			// .asc comes first: a bad .sig beside a good .asc is not read.
			{name: "asc-before-sig", files: map[string][]byte{"disk.img.bmap.asc": asc, "disk.img.bmap.sig": []byte("garbage")},
				want: []string{"disk.img.bmap.asc'", f.verified("ed")}},
			// --bmap-sig wins over a discovered (here: wrong) signature.
			{name: "bmap-sig", files: map[string][]byte{"signature": bin, "disk.img.bmap.asc": []byte("not a signature")},
				args: []string{"--bmap-sig", "@signature"}, want: []string{f.verified("ed")}},
			{name: "bmap-sig-armored", files: map[string][]byte{"elsewhere.txt": asc},
				args: []string{"--bmap-sig", "@elsewhere.txt"}, want: []string{f.verified("ed")}},
			// gpg picks the signing subkey by itself.
			{name: "clearsigned", bmap: f.clearsigned(t, "ed@example.org", f.bmap), want: []string{f.verifiedSub("ed")}},
			{name: "clearsigned-rsa", bmap: f.clearsigned(t, rsa, f.bmap), want: []string{f.verified("rsa")}},
			{name: "subkey-ed25519", files: map[string][]byte{"disk.img.bmap.asc": f.asc(t, edSub, f.bmap)},
				want: []string{f.verifiedSub("ed")}},
			{name: "subkey-rsa3072", files: map[string][]byte{"disk.img.bmap.asc": f.asc(t, rsaSub, f.bmap)},
				want: []string{f.verifiedSub("rsa")}},
			{name: "primary-rsa3072", files: map[string][]byte{"disk.img.bmap.sig": f.sign(t, f.home, f.bmap, "--detach-sign", "-u", rsa)},
				want: []string{f.verified("rsa")}},
			{name: "keyring-armored", home: f.empty, files: map[string][]byte{"disk.img.bmap.asc": asc, "keys.asc": nil},
				args: []string{"--keyring", "@keys.asc"}, want: []string{f.verified("ed")}},
			{name: "keyring-binary", home: f.empty, files: map[string][]byte{"disk.img.bmap.asc": asc, "keys.gpg": nil},
				args: []string{"--keyring", "@keys.gpg"}, want: []string{f.verified("ed")}},
			{name: "keyring-keybox", home: f.empty, files: map[string][]byte{"disk.img.bmap.asc": asc},
				args: []string{"--keyring", filepath.Join(f.home, "pubring.kbx")}, want: []string{f.verified("ed")}},
			{name: "fingerprint-primary", files: map[string][]byte{"disk.img.bmap.asc": asc},
				args: []string{"--fingerprint", f.fpr["ed"]}, want: []string{f.verified("ed")}},
			{name: "fingerprint-subkey", files: map[string][]byte{"disk.img.bmap.asc": f.asc(t, edSub, f.bmap)},
				args: []string{"--fingerprint", f.sub["ed"]}, want: []string{f.verifiedSub("ed")}},
			{name: "fingerprint-primary-of-subkey", files: map[string][]byte{"disk.img.bmap.asc": f.asc(t, rsaSub, f.bmap)},
				args: []string{"--fingerprint", f.fpr["rsa"]}, want: []string{f.verifiedSub("rsa")}},
			{name: "fingerprint-lowercase-spaces", files: map[string][]byte{"disk.img.bmap.asc": asc},
				args: []string{"--fingerprint", lowerSpaced(f.fpr["ed"])}, want: []string{f.verified("ed")}},
			{name: "fingerprint-clearsigned", bmap: f.clearsigned(t, ed, f.bmap),
				args: []string{"--fingerprint", f.fpr["ed"]}, want: []string{f.verified("ed")}},
			// --no-sig-verify: a bad signature is not even read, and a
			// clearsigned bmap's text is still used.
			{name: "no-sig-verify-bad-signature", files: map[string][]byte{"disk.img.bmap.asc": f.asc(t, ed, []byte("other data"))},
				args: []string{"--no-sig-verify"}},
			{name: "no-sig-verify-unknown-signer", home: f.empty,
				files: map[string][]byte{"disk.img.bmap.asc": f.sign(t, f.otherHome, f.bmap, "--detach-sign", "--armor")},
				args:  []string{"--no-sig-verify"}},
			{name: "no-sig-verify-clearsigned", home: f.empty, bmap: f.clearsigned(t, ed, f.bmap),
				args: []string{"--no-sig-verify"}, want: []string{"signature was not verified (--no-sig-verify)"}},
			// A compressed bmap: the signature may cover its text or
			// the file as stored.
			{name: "compressed-bmap-signed-text", files: map[string][]byte{"b.bmap.gz": sigGzip(t, f.bmap), "b.bmap.gz.asc": asc},
				args: []string{"--bmap", "@b.bmap.gz"}, want: []string{"b.bmap.gz.asc'", f.verified("ed")}},
			{name: "compressed-bmap-signed-file", files: map[string][]byte{"b.bmap.gz": sigGzip(t, f.bmap), "b.bmap.gz.sig": f.sign(t, f.home, sigGzip(t, f.bmap), "--detach-sign", "-u", ed)},
				args: []string{"--bmap", "@b.bmap.gz"}, want: []string{"b.bmap.gz.sig'", f.verified("ed")}},
			// An unsigned bmap needs no keyring.
			{name: "unsigned", home: f.empty},
		}
		f.export(t, filepath.Join(f.dir, "keys.asc"), true, f.fpr["ed"])
		f.export(t, filepath.Join(f.dir, "keys.gpg"), false, f.fpr["ed"])
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				home := tt.home
				if home == "" {
					home = f.home
				}
				t.Setenv("GNUPGHOME", home)
				text := tt.bmap
				if text == nil {
					text = f.bmap
				}
				files := map[string][]byte{}
				for name, data := range tt.files {
					if data == nil { // an exported keyring
						data = readFile(t, filepath.Join(f.dir, name))
					}
					files[name] = data
				}
				c := f.newCase(t, f.gz, text, files)
				var args []string
				for _, a := range tt.args {
					if name, ok := strings.CutPrefix(a, "@"); ok {
						a = c.path(name)
					}
					args = append(args, a)
				}
				r := c.copy(t, args...)
				c.succeeded(t, r, f.img.data, tt.want...)
				if slices.Contains(tt.args, "--no-sig-verify") && strings.Contains(r.stderr, "successfully verified") {
					t.Errorf("--no-sig-verify, yet a signature was verified:\n%s", r.stderr)
				}
				if tt.name == "unsigned" && strings.Contains(r.stderr, "signature") {
					t.Errorf("an unsigned bmap, yet stderr talks of signatures:\n%s", r.stderr)
				}
			})
		}
	})

	// A key made by go-crypto, not gpg: armored keyring and signature.
	t.Run("go-crypto-key", func(t *testing.T) {
		t.Setenv("GNUPGHOME", f.empty)
		cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
		ent, err := openpgp.NewEntity("Go Key", "", "go@example.org", cfg)
		if err != nil {
			t.Fatal(err)
		}
		var keyring, sig bytes.Buffer
		w, err := armor.Encode(&keyring, openpgp.PublicKeyType, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ent.Serialize(w); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if err := openpgp.ArmoredDetachSign(&sig, ent, bytes.NewReader(f.bmap), nil); err != nil {
			t.Fatal(err)
		}
		fpr := strings.ToUpper(hex.EncodeToString(ent.PrimaryKey.Fingerprint))
		c := f.newCase(t, f.gz, f.bmap, map[string][]byte{"disk.img.bmap.asc": sig.Bytes(), "go.asc": keyring.Bytes()})
		r := c.copy(t, "--keyring", c.path("go.asc"), "--fingerprint", fpr)
		c.succeeded(t, r, f.img.data, "successfully verified bmap file signature of Go Key <go@example.org> (fingerprint "+fpr+")")

		// The go-crypto key is unknown to gpg's keyring, and gpg's to
		// the go-crypto keyring.
		c = f.newCase(t, f.gz, f.bmap, map[string][]byte{"disk.img.bmap.asc": sig.Bytes()})
		t.Setenv("GNUPGHOME", f.home)
		c.refused(t, c.copy(t), exitFailure, "disk.img.bmap.asc", "signer not in keyring", fpr[24:])
		c = f.newCase(t, f.gz, f.bmap, map[string][]byte{"disk.img.bmap.asc": asc, "go.asc": keyring.Bytes()})
		c.refused(t, c.copy(t, "--keyring", c.path("go.asc")), exitFailure, "signer not in keyring", f.fpr["ed"][24:])
	})

	// Refused signatures: exit 1, the destination untouched.
	t.Run("refused", func(t *testing.T) {
		f.export(t, filepath.Join(f.dir, "keys.asc"), true, f.fpr["ed"])
		tests := []struct {
			name  string
			home  string
			gz    string // "" for f.gz
			bmap  []byte
			files map[string][]byte
			args  []string
			code  int
			want  []string
		}{
			{name: "fingerprint-mismatch", files: map[string][]byte{"disk.img.bmap.asc": asc},
				args: []string{"--fingerprint", f.fpr["rsa"]},
				want: []string{"fingerprint mismatch", f.fpr["ed"], f.fpr["rsa"]}},
			{name: "fingerprint-mismatch-clearsigned", bmap: f.clearsigned(t, ed, f.bmap),
				args: []string{"--fingerprint", f.sub["ed"]},
				want: []string{"fingerprint mismatch", f.fpr["ed"], f.sub["ed"]}},
			// A key id is not a fingerprint: refused before anything is
			// read, signed or not.
			{name: "fingerprint-key-id", files: map[string][]byte{"disk.img.bmap.asc": asc},
				args: []string{"--fingerprint", f.fpr["ed"][24:]},
				code: exitUsage, want: []string{"--fingerprint", f.fpr["ed"][24:], "40 or 64 hex digits"}},
			{name: "fingerprint-not-hex", args: []string{"--fingerprint", "Ed <ed@example.org>"},
				code: exitUsage, want: []string{"--fingerprint", "40 or 64 hex digits"}},
			// Signed by a key that is not in the keyring used.
			{name: "unknown-signer-default-keyring", files: map[string][]byte{"disk.img.bmap.asc": f.sign(t, f.otherHome, f.bmap, "--detach-sign", "--armor")},
				want: []string{"discovered a BAD GPG signature", "disk.img.bmap.asc", "signer not in keyring", f.fpr["other"][24:]}},
			{name: "unknown-signer-keyring", files: map[string][]byte{"disk.img.bmap.asc": f.asc(t, rsa, f.bmap), "keys.asc": nil},
				args: []string{"--keyring", "@keys.asc"}, home: f.empty,
				want: []string{"discovered a BAD GPG signature", "signer not in keyring", f.fpr["rsa"][24:]}},
			{name: "unknown-signer-clearsigned", bmap: f.sign(t, f.otherHome, f.bmap, "--clearsign"),
				want: []string{"discovered a BAD GPG signature", "disk.img.bmap", "signer not in keyring", f.fpr["other"][24:]}},
			// The bmap changed after it was signed, its own checksum
			// made valid again: only the signature catches it.
			{name: "tampered-detached", gz: f.tGz, bmap: f.tBmap, files: map[string][]byte{"disk.img.bmap.asc": asc},
				want: []string{"disk.img.bmap.asc", "discovered a BAD GPG signature", "bad signature", sigUserID("ed")}},
			{name: "tampered-detached-bmap-sig", gz: f.tGz, bmap: f.tBmap, files: map[string][]byte{"s": bin},
				args: []string{"--bmap-sig", "@s"}, want: []string{"discovered a BAD GPG signature", "bad signature"}},
			{name: "tampered-clearsigned", gz: f.tGz, bmap: sigTamperClearsigned(t, f.clearsigned(t, ed, f.bmap), f.bmap, f.tBmap),
				want: []string{"disk.img.bmap", "discovered a BAD GPG signature", "bad signature", sigUserID("ed")}},
			{name: "expired-key", files: map[string][]byte{"disk.img.bmap.asc": f.expiredSig},
				want: []string{"signature verification failed (fingerprint " + f.fpr["expired"], "key expired", sigUserID("expired")}},
			{name: "revoked-key", files: map[string][]byte{"disk.img.bmap.asc": f.revokedSig},
				want: []string{"signature verification failed (fingerprint " + f.fpr["revoked"], "key revoked", sigUserID("revoked")}},
			{name: "sha1", files: map[string][]byte{"disk.img.bmap.asc": f.asc(t, rsa, f.bmap, "--digest-algo", "SHA1")},
				want: []string{"weak hash", "SHA1"}},
			{name: "sha1-ed25519", files: map[string][]byte{"disk.img.bmap.sig": f.sign(t, f.home, f.bmap, "--detach-sign", "--digest-algo", "SHA1", "-u", ed)},
				want: []string{"weak hash", "SHA1"}},
			{name: "signature-of-other-data", files: map[string][]byte{"disk.img.bmap.asc": f.asc(t, ed, []byte("other data"))},
				want: []string{"discovered a BAD GPG signature", "bad signature"}},
			{name: "not-a-signature", files: map[string][]byte{"disk.img.bmap.sig": []byte("this is not a signature\n")},
				want: []string{"disk.img.bmap.sig"}},
			{name: "bmap-sig-missing", args: []string{"--bmap-sig", "@nonexistent.asc"},
				want: []string{"nonexistent.asc"}},
			// Options that ask for a signature, and no signature.
			{name: "fingerprint-unsigned", args: []string{"--fingerprint", f.fpr["ed"]},
				want: []string{"no signature found but --fingerprint given"}},
			{name: "keyring-unsigned", files: map[string][]byte{"keys.asc": nil}, args: []string{"--keyring", "@keys.asc"},
				want: []string{"no signature found but --keyring given"}},
			// Signed, and no keyring to check it with.
			{name: "no-keyring", home: f.empty, files: map[string][]byte{"disk.img.bmap.asc": asc},
				want: []string{"signed", "keyring", "--keyring", "--no-sig-verify"}},
			{name: "no-keyring-clearsigned", home: f.empty, bmap: f.clearsigned(t, ed, f.bmap),
				want: []string{"signed", "--keyring", "--no-sig-verify"}},
			{name: "keyring-missing", files: map[string][]byte{"disk.img.bmap.asc": asc},
				args: []string{"--keyring", "@nonexistent.gpg"}, want: []string{"--keyring", "nonexistent.gpg"}},
			// A good signature over a bmap whose own checksum is wrong:
			// the checksum is checked on the clearsigned text.
			{name: "clearsigned-bad-checksum", bmap: f.clearsigned(t, ed, sigBreakChecksum(t, f.bmap)),
				want: []string{"disk.img.bmap", "checksum"}},
			// Usage conflicts: exit 2.
			{name: "bmap-sig-and-no-sig-verify", files: map[string][]byte{"s": asc}, args: []string{"--bmap-sig", "@s", "--no-sig-verify"},
				code: exitUsage, want: []string{"--bmap-sig", "--no-sig-verify"}},
			{name: "no-sig-verify-and-keyring", files: map[string][]byte{"keys.asc": nil}, args: []string{"--no-sig-verify", "--keyring", "@keys.asc"},
				code: exitUsage, want: []string{"--keyring", "--no-sig-verify"}},
			{name: "no-sig-verify-and-fingerprint", args: []string{"--no-sig-verify", "--fingerprint", f.fpr["ed"]},
				code: exitUsage, want: []string{"--fingerprint", "--no-sig-verify"}},
			{name: "nobmap-and-bmap-sig", files: map[string][]byte{"s": asc}, args: []string{"--nobmap", "--bmap-sig", "@s"},
				code: exitUsage, want: []string{"--bmap-sig", "--nobmap"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				home := tt.home
				if home == "" {
					home = f.home
				}
				t.Setenv("GNUPGHOME", home)
				gz := tt.gz
				if gz == "" {
					gz = f.gz
				}
				text := tt.bmap
				if text == nil {
					text = f.bmap
				}
				files := map[string][]byte{}
				for name, data := range tt.files {
					if data == nil {
						data = readFile(t, filepath.Join(f.dir, name))
					}
					files[name] = data
				}
				c := f.newCase(t, gz, text, files)
				var args []string
				for _, a := range tt.args {
					if name, ok := strings.CutPrefix(a, "@"); ok {
						a = c.path(name)
					}
					args = append(args, a)
				}
				code := tt.code
				if code == 0 {
					code = exitFailure
				}
				c.refused(t, c.copy(t, args...), code, tt.want...)
			})
		}
	})

	// bmap verify checks the signature as copy does.
	t.Run("verify-command", func(t *testing.T) {
		t.Setenv("GNUPGHOME", f.home)
		c := f.newCase(t, f.gz, f.bmap, map[string][]byte{"disk.img.bmap.asc": asc})
		r := mustRun(t, nil, "verify", "--bmap", c.path("disk.img.bmap"), f.img.path)
		if !strings.Contains(r.stderr, f.verified("ed")) {
			t.Errorf("bmap verify does not report the signature:\n%s", r.stderr)
		}
		mustRun(t, nil, "verify", "--bmap", c.path("disk.img.bmap"), "--fingerprint", f.fpr["ed"], f.img.path)
		r = runBmap(t, nil, "verify", "--bmap", c.path("disk.img.bmap"), "--fingerprint", f.fpr["rsa"], f.img.path)
		wantFailure(t, r, exitFailure, "fingerprint mismatch")

		c = f.newCase(t, f.tGz, f.tBmap, map[string][]byte{"disk.img.bmap.asc": asc})
		tImg := c.path("tampered.img")
		writeFile(t, tImg, f.tData)
		r = runBmap(t, nil, "verify", "--bmap", c.path("disk.img.bmap"), tImg)
		wantFailure(t, r, exitFailure, "disk.img.bmap.asc", "bad signature")
		mustRun(t, nil, "verify", "--no-sig-verify", "--bmap", c.path("disk.img.bmap"), tImg)

		for _, args := range [][]string{
			{"--bmap-sig", c.path("disk.img.bmap.asc"), "--no-sig-verify"},
			{"--no-sig-verify", "--keyring", filepath.Join(f.home, "pubring.kbx")},
			{"--no-sig-verify", "--fingerprint", f.fpr["ed"]},
			{"--fingerprint", f.fpr["ed"][24:]},
		} {
			r := runBmap(t, nil, append(append([]string{"verify", "--bmap", c.path("disk.img.bmap")}, args...), tImg)...)
			wantFailure(t, r, exitUsage, args[0])
		}
	})

	// Without the signature check, the tampered bmap and image pass every
	// other check: the bmap's own checksum and every range's checksum. So
	// the refusals above are the signature's doing.
	t.Run("tampered-passes-other-checks", func(t *testing.T) {
		t.Setenv("GNUPGHOME", f.empty)
		c := f.newCase(t, f.tGz, f.tBmap, map[string][]byte{"disk.img.bmap.asc": asc})
		c.succeeded(t, c.copy(t, "--no-sig-verify"), f.tData)
		c = f.newCase(t, f.tGz, sigTamperClearsigned(t, f.clearsigned(t, ed, f.bmap), f.bmap, f.tBmap), nil)
		c.succeeded(t, c.copy(t, "--no-sig-verify"), f.tData, "signature was not verified")
	})
}

// sigGzip compresses data with gzip.
func sigGzip(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sigTamperClearsigned replaces the signed text orig of the clearsigned
// message msg by text, leaving the signature as it was.
func sigTamperClearsigned(t *testing.T, msg, orig, text []byte) []byte {
	t.Helper()
	if bytes.Count(msg, orig) != 1 {
		t.Fatal("the clearsigned message does not hold the bmap verbatim")
	}
	return bytes.Replace(msg, orig, text, 1)
}

// sigBreakChecksum returns the bmap with one digit of its own checksum
// changed.
func sigBreakChecksum(t *testing.T, data []byte) []byte {
	t.Helper()
	tag := []byte("<BmapFileChecksum> ")
	i := bytes.Index(data, tag)
	if i < 0 {
		t.Fatal("the bmap has no BmapFileChecksum")
	}
	out := bytes.Clone(data)
	i += len(tag)
	if out[i] == '0' {
		out[i] = '1'
	} else {
		out[i] = '0'
	}
	return out
}
