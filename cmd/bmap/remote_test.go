package main

// Copies from URLs: a real HTTP server in-process (net/http's file server
// over TCP, which answers Range and If-Range as servers in the field do),
// with the faults a network has.

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/bmap-tools/bmap/bmap"
)

// remoteServer serves a directory over HTTP, counting the body bytes it
// sends per path, with optional faults.
type remoteServer struct {
	srv *httptest.Server

	cutAfter      int64 // close every response after this many body bytes
	noRange       bool  // ignore Range and If-Range
	headForbidden bool  // answer HEAD with 403, as S3 presigned URLs do
	user, pass    string

	mu       sync.Mutex
	requests []string         // "METHOD /path?query"
	sent     map[string]int64 // body bytes per path
}

func newRemoteServer(t *testing.T, dir string, setup func(*remoteServer)) *remoteServer {
	s := &remoteServer{sent: map[string]int64{}}
	if setup != nil {
		setup(s)
	}
	files := http.FileServer(http.Dir(dir))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
		if s.user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != s.user || p != s.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="t"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		if s.headForbidden && r.Method == http.MethodHead {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		if s.noRange {
			r.Header.Del("Range")
			r.Header.Del("If-Range")
		}
		cw := &countingWriter{ResponseWriter: w, s: s, path: r.URL.Path, cut: s.cutAfter}
		files.ServeHTTP(cw, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *remoteServer) url(path string) string { return s.srv.URL + path }

func (s *remoteServer) sentFor(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[path]
}

func (s *remoteServer) requestsFor(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.requests {
		if strings.Contains(r, prefix) {
			out = append(out, r)
		}
	}
	return out
}

type countingWriter struct {
	http.ResponseWriter
	s    *remoteServer
	path string
	cut  int64
	n    int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.cut > 0 && w.n+int64(len(p)) > w.cut {
		p = p[:w.cut-w.n]
		n, _ := w.ResponseWriter.Write(p)
		w.count(n)
		w.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // net/http drops the connection
	}
	n, err := w.ResponseWriter.Write(p)
	w.count(n)
	return n, err
}

func (w *countingWriter) count(n int) {
	w.n += int64(n)
	w.s.mu.Lock()
	w.s.sent[w.path] += int64(n)
	w.s.mu.Unlock()
}

// remoteSpec is a 16 MiB image with 3 MiB mapped in 48 ranges of 64 KiB,
// 256 KiB apart, and a partial last block.
func remoteSpec() imageSpec {
	var rs []blockRange
	for i := int64(0); i < 48; i++ {
		fill := byte('t')
		if i%3 == 0 {
			fill = 'r'
		}
		rs = append(rs, blockRange{i * 80, i*80 + 15, fill})
	}
	rs = append(rs, blockRange{4095, 4096, 'r'})
	return imageSpec{size: 4096*testBlockSize + 100, ranges: rs, seed: 7}
}

// remoteFixture is an image, compressed copies and its bmap in a directory
// served over HTTP.
type remoteFixture struct {
	dir  string
	img  *testImage
	m    *bmap.Map
	comp map[string]string // format name -> base name
}

// newRemoteFixture builds a fixture in a test's own directory, with the
// image compressed in the formats named.
func newRemoteFixture(t *testing.T, formats ...string) *remoteFixture {
	return buildRemoteFixture(t, t.TempDir(), formats...)
}

func buildRemoteFixture(t testing.TB, dir string, formats ...string) *remoteFixture {
	f := &remoteFixture{dir: dir, img: makeImage(t, dir, "disk.img", remoteSpec()), comp: map[string]string{}}
	f.m = createBmap(t, f.img.path, filepath.Join(dir, "disk.img.bmap"))
	for _, name := range formats {
		f.comp[name] = filepath.Base(compress(t, formatNamed(t, name), f.img.path, dir))
	}
	return f
}

// sharedRemote is a fixture that tests only read, built once (xz takes
// seconds); TestMain removes it.
var sharedRemote struct {
	once sync.Once
	dir  string
	f    *remoteFixture
}

func readOnlyRemoteFixture(t *testing.T) *remoteFixture {
	sharedRemote.once.Do(func() {
		dir, err := os.MkdirTemp("", "bmap-remote-")
		if err != nil {
			t.Fatal(err)
		}
		sharedRemote.dir = dir
		sharedRemote.f = buildRemoteFixture(t, dir, "gzip", "xz-T1", "zstd")
	})
	if sharedRemote.f == nil {
		t.Fatal("the shared fixture could not be built: see the first test that used it")
	}
	return sharedRemote.f
}

func TestRemoteCopy(t *testing.T) {
	f := readOnlyRemoteFixture(t)
	mapped := f.m.MappedBytes()
	tests := []struct {
		name   string
		setup  func(*remoteServer)
		image  string   // path on the server, query included
		args   []string // more options; "@URL" is replaced by the server's URL
		ranged bool     // only the mapped ranges may be fetched
	}{
		{name: "raw, bmap beside", image: "/disk.img", ranged: true},
		{name: "gzip", image: "/" + f.comp["gzip"]},
		{name: "xz, query kept", image: "/" + f.comp["xz-T1"] + "?job=build"},
		{name: "zstd, --bmap URL", image: "/" + f.comp["zstd"], args: []string{"--bmap", "@URL/disk.img.bmap?job=x"}},
		{name: "raw, cut every 40 KiB", image: "/disk.img", ranged: true, setup: func(s *remoteServer) { s.cutAfter = 40 << 10 }},
		{name: "gzip, cut every 1 MB", image: "/" + f.comp["gzip"], setup: func(s *remoteServer) { s.cutAfter = 1 << 20 }},
		{name: "raw, no Range", image: "/disk.img", setup: func(s *remoteServer) { s.noRange = true }},
		{name: "raw, HEAD refused", image: "/disk.img", ranged: true, setup: func(s *remoteServer) { s.headForbidden = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRemoteServer(t, f.dir, tt.setup)
			dest := filepath.Join(t.TempDir(), "out.img")
			var args []string
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "@URL", s.srv.URL))
			}
			r := mustRun(t, nil, append(append([]string{"copy"}, args...), s.url(tt.image), dest)...)
			checkFile(t, dest, f.img.data)
			path, _, _ := strings.Cut(tt.image, "?")
			sent := s.sentFor(path)
			t.Logf("%s: the server sent %d bytes of the image (%d mapped, %d in all)", tt.name, sent, mapped, len(f.img.data))
			if tt.ranged && sent > mapped+mapped/50 {
				t.Errorf("the server sent %d bytes of the image, more than the %d mapped + 2%%", sent, mapped)
			}
			if !tt.ranged && strings.HasSuffix(path, ".img") && sent < int64(len(f.img.data)) {
				t.Errorf("the server sent %d bytes, less than the whole image", sent)
			}
			if len(tt.args) == 0 && !strings.Contains(r.stderr, "discovered bmap file '"+s.srv.URL) {
				t.Errorf("no discovered bmap in:\n%s", r.stderr)
			}
			if strings.Contains(tt.image, "?job=build") {
				if got := s.requestsFor(".bmap?job=build"); len(got) == 0 {
					t.Errorf("the bmap was not looked for with the query kept: %q", s.requestsFor(""))
				}
			}
			if tt.setup != nil && strings.Contains(tt.name, "cut") && strings.Contains(r.stderr, "(0 retried)") {
				t.Errorf("the server cut every response, but nothing was retried:\n%s", r.stderr)
			}
			if strings.Contains(r.stderr, "proxy") {
				t.Errorf("a warning about proxies:\n%s", r.stderr)
			}
		})
	}
}

func TestRemoteMissing(t *testing.T) {
	f := newRemoteFixture(t, "gzip")
	s := newRemoteServer(t, f.dir, nil)
	dest := filepath.Join(t.TempDir(), "out.img")
	r := runBmap(t, nil, "copy", s.url("/none.img.xz"), dest)
	wantFailure(t, r, 1, s.url("/none.img.xz"), "404")

	// No bmap beside: each candidate is asked once, and the error lists them.
	os.Remove(filepath.Join(f.dir, "disk.img.bmap"))
	r = runBmap(t, nil, "copy", s.url("/disk.img.gz?job=j"), dest)
	wantFailure(t, r, 1, "bmap file not found", s.url("/disk.img.gz.bmap?job=j"), s.url("/disk.img.bmap?job=j"), s.url("/disk.bmap?job=j"))
	if got := s.requestsFor("/disk.img.gz.bmap"); len(got) != 1 {
		t.Errorf("%d requests for one candidate, want 1: %q", len(got), got)
	}
	if got := s.requestsFor("bmap?job=j"); len(got) != 3 {
		t.Errorf("looking for the bmap took %d requests, want 3 (one per candidate): %q", len(got), got)
	}
	if strings.Contains(r.stderr, "proxy") || strings.Contains(r.stderr, "WARNING") {
		t.Errorf("warnings while looking for the bmap:\n%s", r.stderr)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Error("the destination was created, though the copy was refused")
	}
}

// TestRemoteSecrets: credentials in the URL, in ~/.netrc, a token in the
// query and in a header never show, with -d, in JSON events or in errors.
func TestRemoteSecrets(t *testing.T) {
	f := readOnlyRemoteFixture(t)
	const user, pass, token, header = "alice-user", "pw-S3cr3t", "tok-QUERY-123", "hdr-TOKEN-456"
	s := newRemoteServer(t, f.dir, func(s *remoteServer) { s.user, s.pass = user, pass })
	secrets := []string{user, pass, token, header, base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	noSecrets := func(t *testing.T, r result) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(r.stderr+r.stdout, sec) {
				t.Errorf("output shows %q:\n%s", sec, r.stderr)
			}
		}
	}
	withCreds := strings.Replace(s.srv.URL, "http://", "http://"+user+":"+pass+"@", 1)
	dest := filepath.Join(t.TempDir(), "out.img")
	img := withCreds + "/" + f.comp["gzip"] + "?X-Amz-Signature=" + token

	r := mustRun(t, nil, "copy", "-d", "--header", "X-Token: "+header, img, dest)
	checkFile(t, dest, f.img.data)
	noSecrets(t, r)
	if !strings.Contains(r.stderr, "X-Amz-Signature=***") {
		t.Errorf("the redacted URL is not shown:\n%s", r.stderr)
	}
	r = mustRun(t, nil, "copy", "--progress", "json", "--header", "X-Token: "+header, img, dest)
	noSecrets(t, r)
	if !strings.Contains(r.stderr, `"downloaded_bytes"`) {
		t.Errorf("no downloaded_bytes in the JSON events:\n%s", r.stderr)
	}
	// Refused: the error names the URL, redacted, and the status.
	bad := strings.Replace(img, pass, pass+"x", 1)
	r = runBmap(t, nil, "copy", "-d", "--progress", "json", bad, dest)
	wantFailure(t, r, 1, "401", "***@")
	noSecrets(t, r)

	// ~/.netrc
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("NETRC", "")
	writeFile(t, filepath.Join(home, ".netrc"), []byte("machine 127.0.0.1\n login "+user+"\n password "+pass+"\n"))
	r = mustRun(t, nil, "copy", "-d", s.url("/disk.img"), dest)
	checkFile(t, dest, f.img.data)
	noSecrets(t, r)
}

// lavaCopyLine is the regular expression LAVA (deploy to usb) matches in
// bmaptool's output to see a copy end.
var lavaCopyLine = regexp.MustCompile(`bmaptool: info: copying time: [0-9hms\.\ ]+, copying speed [0-9\.]+ [MKiBbytes]+\/sec`)

// TestRemoteLAVA runs LAVA's own command line, "bmaptool copy
// {DOWNLOAD_URL} {DEVICE}", with the bmap beside the URL.
func TestRemoteLAVA(t *testing.T) {
	f := readOnlyRemoteFixture(t)
	s := newRemoteServer(t, f.dir, nil)
	dest := filepath.Join(t.TempDir(), "out.img")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"/usr/bin/bmaptool", "copy", s.url("/" + f.comp["xz-T1"]), dest}, strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("bmaptool copy URL DEVICE: %v\n%s", err, stderr.String())
	}
	checkFile(t, dest, f.img.data)
	if !strings.HasPrefix(stderr.String(), "bmaptool: info") {
		t.Errorf("output does not start with %q:\n%s", "bmaptool: info", stderr.String())
	}
	if !lavaCopyLine.MatchString(stderr.String()) {
		t.Errorf("LAVA's regular expression does not match:\n%s", stderr.String())
	}
}

// TestRemoteHTTPSCertFile: the built binary trusts a server whose CA is
// only in SSL_CERT_FILE, and refuses it without.
func TestRemoteHTTPSCertFile(t *testing.T) {
	bin := builtBinary(t)
	f := readOnlyRemoteFixture(t)
	srv := httptest.NewTLSServer(http.FileServer(http.Dir(f.dir)))
	defer srv.Close()
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, certFile, pemCert(srv.Certificate().Raw))
	dest := filepath.Join(t.TempDir(), "out.img")
	run := func(env ...string) (string, error) {
		cmd := exec.Command(bin, "copy", srv.URL+"/"+f.comp["zstd"], dest)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("SSL_CERT_FILE="+certFile, "SSL_CERT_DIR="+t.TempDir()); err != nil {
		t.Fatalf("with SSL_CERT_FILE: %v\n%s", err, out)
	}
	checkFile(t, dest, f.img.data)
	out, err := run("SSL_CERT_FILE=/dev/null", "SSL_CERT_DIR=/nonexistent")
	if err == nil || !strings.Contains(out, "not trusted") {
		t.Errorf("without the CA: %v\n%s", err, out)
	}
}

func pemCert(der []byte) []byte {
	var b bytes.Buffer
	b.WriteString("-----BEGIN CERTIFICATE-----\n")
	enc := base64.StdEncoding.EncodeToString(der)
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n-----END CERTIFICATE-----\n")
	return b.Bytes()
}

// TestRemoteSignature: a detached signature beside a bmap URL is found
// (the query kept) and checked; a bad one stops the copy before the
// destination is opened.
func TestRemoteSignature(t *testing.T) {
	needTools(t, "gpg")
	f := newRemoteFixture(t)
	home := t.TempDir()
	gpg := func(args ...string) []byte {
		cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v", args, err)
		}
		return out
	}
	gpg("--quick-gen-key", "Remote Test <remote@example.org>", "ed25519", "sign", "never")
	bm := filepath.Join(f.dir, "disk.img.bmap")
	gpg("--armor", "--detach-sign", "-o", bm+".asc", bm)
	keyring := filepath.Join(t.TempDir(), "key.asc")
	writeFile(t, keyring, gpg("--armor", "--export"))
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() })

	s := newRemoteServer(t, f.dir, nil)
	dest := filepath.Join(t.TempDir(), "out.img")
	r := mustRun(t, nil, "copy", "--keyring", keyring, s.url("/disk.img?job=j"), dest)
	checkFile(t, dest, f.img.data)
	for _, want := range []string{"discovered signature file for bmap '" + s.url("/disk.img.bmap.asc?job=j"), "successfully verified"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// --bmap-sig as a URL, wrong: refused, the destination untouched.
	writeFile(t, filepath.Join(f.dir, "other.asc"), gpg("--armor", "--detach-sign", "-o", "-", f.img.path))
	dest2 := filepath.Join(t.TempDir(), "out2.img")
	r = runBmap(t, nil, "copy", "--keyring", keyring, "--bmap-sig", s.url("/other.asc"), s.url("/disk.img"), dest2)
	wantFailure(t, r, 1, "BAD GPG signature", s.url("/other.asc"))
	if _, err := os.Stat(dest2); err == nil {
		t.Error("the destination was created")
	}
}
