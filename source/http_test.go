package source

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fastNet makes retries quick and stalls short, so that fault tests run
// fast; the stall timeout stays long enough for a loaded machine.
var fastNet = NetOptions{StallTimeout: time.Second, Backoff: time.Millisecond, Retries: 5}

func testData(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	return b
}

func readAllFrom(t *testing.T, op *Opener, url string) ([]byte, Source, error) {
	t.Helper()
	s, err := op.Open(context.Background(), url)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	b, err := io.ReadAll(s)
	return b, s, err
}

func TestHTTPFaults(t *testing.T) {
	data := testData(3<<20 + 17)
	for _, tc := range []struct {
		name  string
		setup func(*fileServer)
		// seeks: the source honours Range
		seeks bool
	}{
		{"plain", func(*fileServer) {}, true},
		{"body cut every 256 KiB", func(s *fileServer) { s.cutAfter = 256 << 10 }, true},
		{"connection reset 3 times", func(s *fileServer) { s.resetAfter = 100 << 10; s.faults = 3 }, true},
		{"stall", func(s *fileServer) { s.stallAfter = 64 << 10; s.stallFor = 10 * time.Second; s.faults = 2 }, true},
		{"no Range support", func(s *fileServer) { s.noRange = true }, false},
		{"no Range support, cut twice", func(s *fileServer) { s.noRange = true; s.cutAfter = 1 << 20; s.faults = 2 }, false},
		{"503 twice first", func(s *fileServer) { s.statusQueue = []int{503, 503} }, true},
		{"no validators, cut", func(s *fileServer) { s.noValidators = true; s.cutAfter = 1 << 20 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFileServer(data)
			tc.setup(fs)
			srv := fs.start(t)
			op := &Opener{Net: fastNet}
			got, s, err := readAllFrom(t, op, srv.URL+"/img.raw")
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, not the file's %d", len(got), len(data))
			}
			if _, seeks := s.(io.Seeker); seeks != tc.seeks {
				t.Errorf("source seeks: %v, want %v", seeks, tc.seeks)
			}
			if s.Size() != int64(len(data)) {
				t.Errorf("Size = %d, want %d", s.Size(), len(data))
			}
			faulty := tc.name != "plain" && tc.name != "no Range support"
			if st := s.(Transferer).Transferred(); faulty != (st.Retries > 0) {
				t.Errorf("%d retries, but the server was faulty: %v", st.Retries, faulty)
			}
		})
	}
}

func TestHTTPGivesUp(t *testing.T) {
	data := testData(1 << 20)
	// A server without Range that cuts every response at the same place
	// makes no progress: bounded retries, then a clear error.
	fs := newFileServer(data)
	fs.noRange, fs.cutAfter = true, 100<<10
	srv := fs.start(t)
	_, _, err := readAllFrom(t, &Opener{Net: fastNet}, srv.URL+"/img.raw?token=sekrit")
	if err == nil || !strings.Contains(err.Error(), "giving up after 6 failed attempts") || !strings.Contains(err.Error(), "token=***") {
		t.Fatalf("err = %v, want giving up after 6 attempts, naming the redacted URL", err)
	}
	if strings.Contains(err.Error(), "sekrit") {
		t.Errorf("the error shows the token: %v", err)
	}
	if n := fs.gets.Load(); n != 6 { // the probe, cut (the first failure), then 5 more
		t.Errorf("%d GETs, want 6", n)
	}
}

func TestHTTPChangedFile(t *testing.T) {
	data := testData(2 << 20)
	for _, tc := range []struct {
		name  string
		setup func(*fileServer)
	}{
		{"ETag changes while resuming", func(s *fileServer) { s.cutAfter = 512 << 10; s.changeAfter = 2 }},
		{"Last-Modified changes, server without Range", func(s *fileServer) {
			s.noRange, s.cutAfter, s.faults, s.changeAfter = true, 512<<10, 1, 1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFileServer(data)
			tc.setup(fs)
			srv := fs.start(t)
			got, _, err := readAllFrom(t, &Opener{Net: fastNet}, srv.URL+"/img.raw")
			if !errors.Is(err, ErrChanged) {
				t.Fatalf("err = %v, want ErrChanged", err)
			}
			if !bytes.Equal(got, data[:len(got)]) {
				t.Error("the bytes read before the error are not the first version's: two versions mixed")
			}
		})
	}
}

func TestHTTPLyingServer(t *testing.T) {
	data := testData(1 << 20)
	fs := newFileServer(data)
	fs.lyingRange = true
	srv := fs.start(t)
	s, err := (&Opener{Net: fastNet}).Open(context.Background(), srv.URL+"/img.raw")
	if err == nil {
		s.Close()
		t.Fatal("a server that answers a range with other bytes was accepted")
	}
	if !strings.Contains(err.Error(), "the server sent") {
		t.Errorf("err = %v, want the Content-Range named", err)
	}

	// A Content-Length shorter than the body: Go cuts the body at it, and
	// the rest is fetched again.
	short := &lengthLiar{data: data}
	srv2 := httptest.NewServer(short)
	defer srv2.Close()
	got, _, err := readAllFrom(t, &Opener{Net: fastNet}, srv2.URL+"/x")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("lying Content-Length: %d bytes, %v", len(got), err)
	}
}

// lengthLiar announces a Content-Length 1000 bytes longer than what it
// sends, then closes the connection.
type lengthLiar struct{ data []byte }

func (l *lengthLiar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	size := int64(len(l.data))
	a, b, ok := parseRange(r.Header.Get("Range"), size)
	if !ok {
		a, b = 0, size-1
	} else {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a, b, size))
	}
	w.Header().Set("Content-Length", itoa(b-a+1+1000))
	if ok {
		w.WriteHeader(http.StatusPartialContent)
	}
	w.Write(l.data[a : b+1])
}

func itoa(n int64) string { return fmt.Sprint(n) }

func TestHTTPStatus(t *testing.T) {
	fs := newFileServer(testData(1000))
	fs.user, fs.pass = "alice", "s3cret"
	srv := fs.start(t)
	ctx := context.Background()
	op := &Opener{Net: fastNet}
	_, err := op.Open(ctx, srv.URL+"/img")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "wants credentials") {
		t.Errorf("no credentials: %v", err)
	}
	u := strings.Replace(srv.URL, "http://", "http://alice:wrong@", 1)
	_, err = op.Open(ctx, u+"/img")
	if err == nil || !strings.Contains(err.Error(), "credentials were refused") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong credentials: %v", err)
	}
	n := fs.requests.Load()
	_, err = op.Open(ctx, strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)+"/img")
	if err != nil {
		t.Errorf("right credentials: %v", err)
	}
	if fs.requests.Load()-n != 1 {
		t.Errorf("opening took %d requests, want 1 (credentials sent at once)", fs.requests.Load()-n)
	}

	fs2 := newFileServer(testData(10))
	srv2 := fs2.start(t)
	for _, st := range []int{404, 410} {
		fs2.statusQueue = []int{st}
		if _, err := op.Open(ctx, srv2.URL+"/x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%d: %v, want ErrNotFound", st, err)
		}
	}
	fs2.statusQueue = []int{500, 500, 500, 500, 500, 500}
	if _, err := op.Open(ctx, srv2.URL+"/x"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("500 again and again: %v", err)
	}
}

func TestHTTPExists(t *testing.T) {
	fs := newFileServer(testData(10))
	srv := fs.start(t)
	ctx := context.Background()
	op := &Opener{Net: fastNet}
	if ok, err := op.Exists(ctx, srv.URL+"/a"); !ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	// HEAD refused as S3 presigned URLs refuse it: a GET tells.
	fs.headStatus = http.StatusForbidden
	if ok, err := op.Exists(ctx, srv.URL+"/a"); !ok || err != nil {
		t.Errorf("Exists with HEAD refused = %v, %v", ok, err)
	}
	// 404: no, at once: one request, no retry.
	fs.headStatus = 0
	n := fs.requests.Load()
	fs.statusQueue = []int{404}
	if ok, err := op.Exists(ctx, srv.URL+"/a.bmap"); ok || err != nil {
		t.Errorf("Exists(404) = %v, %v", ok, err)
	}
	if d := fs.requests.Load() - n; d != 1 {
		t.Errorf("a 404 took %d requests, want 1", d)
	}
}

func TestHTTPRedirectKeepsCredentialsAtHome(t *testing.T) {
	data := testData(1000)
	other := newFileServer(data) // another host: 127.0.0.1 vs localhost
	other.seenKey = "Job-Token"
	otherSrv := other.start(t)
	home := newFileServer(data)
	home.seenKey = "Job-Token"
	homeSrv := home.start(t)
	home.redirectTo = strings.Replace(otherSrv.URL, "127.0.0.1", "localhost", 1)

	op := &Opener{Net: fastNet, Header: http.Header{"Job-Token": {"tok-123"}}}
	u := strings.Replace(homeSrv.URL, "http://", "http://alice:s3cret@", 1) + "/img"
	got, _, err := readAllFrom(t, op, u)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("through a redirect: %d bytes, %v", len(got), err)
	}
	if len(home.seenAuth) == 0 || home.seenAuth[0] == "" || home.seenHdr[0] != "tok-123" {
		t.Errorf("the origin got Authorization %q, Job-Token %q", home.seenAuth, home.seenHdr)
	}
	for i := range other.seenAuth {
		if other.seenAuth[i] != "" || other.seenHdr[i] != "" {
			t.Errorf("the other host got Authorization %q, Job-Token %q", other.seenAuth[i], other.seenHdr[i])
		}
	}
	if len(other.seenAuth) == 0 {
		t.Error("the other host got no request")
	}
}

func TestHTTPNetrc(t *testing.T) {
	fs := newFileServer(testData(100))
	fs.user, fs.pass = "bob", "n3trc-pw"
	srv := fs.start(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("NETRC", "")
	os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine 127.0.0.1 login bob password n3trc-pw\n"), 0o600)
	var debug strings.Builder
	op := &Opener{Net: fastNet, Debugf: func(f string, a ...any) { debug.WriteString(fmt.Sprintf(f, a...) + "\n") }}
	if _, _, err := readAllFrom(t, op, srv.URL+"/img"); err != nil {
		t.Fatalf("with ~/.netrc: %v", err)
	}
	if strings.Contains(debug.String(), "n3trc-pw") || !strings.Contains(debug.String(), ".netrc") {
		t.Errorf("debug lines: %s", debug.String())
	}
}

func TestHTTPS(t *testing.T) {
	data := testData(5000)
	srv := httptest.NewTLSServer(newFileServer(data))
	defer srv.Close()
	ctx := context.Background()
	_, err := (&Opener{Net: fastNet}).Open(ctx, srv.URL+"/img")
	if err == nil || !strings.Contains(err.Error(), "SSL_CERT_FILE") {
		t.Errorf("untrusted certificate: %v, want a refusal naming SSL_CERT_FILE", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	got, _, err := readAllFrom(t, &Opener{Net: fastNet, TLS: &tls.Config{RootCAs: pool}}, srv.URL+"/img")
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("trusted: %d bytes, %v", len(got), err)
	}
}

// TestPrefetch reads a sparse file as the copy engine does (seek over the
// holes, read the extents in order) and checks that only the extents, and
// little more, were sent.
func TestPrefetch(t *testing.T) {
	data := testData(64 << 20)
	var ext []Extent
	var mapped int64
	for off := int64(0); off+3<<20 <= int64(len(data)); off += 3 << 20 {
		n := int64(1<<20 + off%(512<<10))
		ext = append(ext, Extent{off, n}, Extent{off + n + 4096, 8192}) // a near one, merged
		mapped += n + 8192
	}
	for _, tc := range []struct {
		name  string
		setup func(*fileServer)
	}{
		{"clean", func(*fileServer) {}},
		{"cut every 300 KiB", func(s *fileServer) { s.cutAfter = 300 << 10 }},
		{"stalls", func(s *fileServer) { s.stallAfter, s.stallFor, s.faults = 100<<10, 10*time.Second, 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFileServer(data)
			tc.setup(fs)
			srv := fs.start(t)
			s, err := (&Opener{Net: fastNet}).Open(context.Background(), srv.URL+"/img")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.(Prefetcher).Prefetch(ext)
			sk := s.(io.Seeker)
			for _, e := range ext {
				if _, err := sk.Seek(e.Offset, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, e.Length)
				if _, err := io.ReadFull(s, buf); err != nil {
					t.Fatalf("reading %+v: %v", e, err)
				}
				if !bytes.Equal(buf, data[e.Offset:e.Offset+e.Length]) {
					t.Fatalf("extent %+v: wrong bytes", e)
				}
			}
			sent := fs.sent.Load()
			if sent > mapped+mapped/100+1 {
				t.Errorf("the server sent %d bytes for %d mapped (+%.2f%%)", sent, mapped, float64(sent-mapped)*100/float64(mapped))
			}
			if got := s.(Transferer).Transferred().Bytes; got < mapped {
				t.Errorf("Transferred().Bytes = %d, less than the %d read", got, mapped)
			}
		})
	}
}
