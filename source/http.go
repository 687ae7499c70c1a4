package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// userAgent is sent with every HTTP request.
const userAgent = "bmap (bmaptool-compatible)"

// client returns the Opener's HTTP client, made on first use: proxies
// from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), the system's
// trust store (SSL_CERT_FILE and SSL_CERT_DIR honoured) unless TLS says
// otherwise, no transparent decompression (the image's bytes are wanted
// as stored, and Range requests address them), and redirects that drop
// credentials and headers when they leave the origin.
func (o *Opener) client() *http.Client {
	o.once.Do(func() {
		no := o.Net.withDefaults()
		dialer := &net.Dialer{Timeout: no.ConnectTimeout, KeepAlive: 30 * time.Second}
		tr := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   no.ConnectTimeout,
			ResponseHeaderTimeout: no.StallTimeout,
			DisableCompression:    true,
			MaxIdleConnsPerHost:   no.Parallel + 2,
			ForceAttemptHTTP2:     true,
		}
		if o.TLS != nil {
			tr.TLSClientConfig = o.TLS.Clone()
		}
		o.http = &http.Client{Transport: tr, CheckRedirect: checkRedirect}
	})
	return o.http
}

// originKey is the context key under which a request carries its origin
// (scheme://host:port), so that redirects can tell whether they leave it.
type originKey struct{}

// checkRedirect follows up to 10 redirects. Credentials (Authorization)
// and the caller's headers go only to the origin the user named: a
// redirect to another host, port or scheme (a CDN, an S3 presigned URL)
// gets neither. Go's own rule is looser: it keeps custom headers on any
// host, and Authorization on subdomains.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	origin, _ := req.Context().Value(originKey{}).(*httpOrigin)
	if origin == nil || origin.key != originOf(req.URL.Scheme, req.URL.Host) {
		req.Header.Del("Authorization")
		if origin != nil {
			for k := range origin.header {
				req.Header.Del(k)
			}
		}
	}
	return nil
}

type httpOrigin struct {
	key    string
	header http.Header // the caller's headers, to remove elsewhere
}

func originOf(scheme, host string) string {
	scheme = strings.ToLower(scheme)
	host = strings.ToLower(host)
	if _, _, err := net.SplitHostPort(host); err != nil {
		if scheme == schemeHTTPS {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	return scheme + "://" + host
}

// httpFile is a file on an HTTP(S) server.
type httpFile struct {
	o      *Opener
	r      *remote
	name   string // redacted
	user   string
	pass   string
	hasPwd bool
	// What the first response said, to resume against.
	size    int64
	etag    string // strong ETag, for If-Range
	lastMod string
	ranges  bool // the server answered a Range request with 206
}

func (o *Opener) newHTTPFile(r *remote, name string) *httpFile {
	f := &httpFile{o: o, r: r, name: Redact(name), size: -1}
	f.user, f.pass, f.hasPwd = r.user, r.pass, r.hasPwd
	if f.user == "" && !f.hasPwd {
		if login, pass, ok := netrcLogin(r.url.Hostname()); ok {
			f.user, f.pass, f.hasPwd = login, pass, true
			o.debugf("using credentials for %s from .netrc", r.url.Hostname())
		}
	}
	return f
}

// request makes a request for the file. rng is the Range header ("" for
// none).
func (f *httpFile) request(ctx context.Context, method, rng string, ifRange bool) (*http.Response, error) {
	origin := &httpOrigin{key: originOf(f.r.url.Scheme, f.r.url.Host), header: f.o.Header}
	ctx = context.WithValue(ctx, originKey{}, origin)
	req, err := http.NewRequestWithContext(ctx, method, f.r.url.String(), nil)
	if err != nil {
		return nil, permanent(fmt.Errorf("%s: %w", f.name, err))
	}
	for k, vs := range f.o.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if f.user != "" || f.hasPwd {
		req.SetBasicAuth(f.user, f.pass)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
		if ifRange {
			switch {
			case f.etag != "":
				req.Header.Set("If-Range", f.etag)
			case f.lastMod != "":
				req.Header.Set("If-Range", f.lastMod)
			}
		}
	}
	resp, err := f.o.client().Do(req)
	if err != nil {
		return nil, f.netError(method, err)
	}
	f.o.debugf("%s %s%s: %s", method, f.name, rangeNote(rng), resp.Status)
	return resp, nil
}

func rangeNote(rng string) string {
	if rng == "" {
		return ""
	}
	return " (" + rng + ")"
}

// netError rewords a failed request without the URL Go puts in it (which
// may hold secrets in its query).
func (f *httpFile) netError(method string, err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil && strings.HasPrefix(err.Error(), method+" ") {
			err = inner
		}
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return permanent(fmt.Errorf("%s: %w (the server's certificate is not trusted: add its CA to the system's trust store, or point SSL_CERT_FILE at it)", f.name, err))
	}
	return fmt.Errorf("%s %s: %w", method, f.name, err)
}

// statusError turns a refusal into a one-line error naming the URL, the
// status and what was expected. 404 and 410 wrap ErrNotFound.
func (f *httpFile) statusError(method string, resp *http.Response) error {
	status := resp.Status
	if status == "" {
		status = strconv.Itoa(resp.StatusCode)
	}
	msg := fmt.Sprintf("%s %s: the server answered %s", method, f.name, status)
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return permanent(fmt.Errorf("%w: %s", ErrNotFound, msg))
	case http.StatusUnauthorized:
		if f.user != "" || f.hasPwd || len(f.o.Header) > 0 {
			return permanent(fmt.Errorf("%s (the credentials were refused)", msg))
		}
		return permanent(fmt.Errorf("%s (it wants credentials: user:password@ in the URL, a ~/.netrc entry, or a token with --header)", msg))
	case http.StatusForbidden:
		return permanent(fmt.Errorf("%s (access refused: expired or wrong credentials or signature?)", msg))
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return errors.New(msg)
	}
	if resp.StatusCode >= 500 {
		return errors.New(msg)
	}
	return permanent(fmt.Errorf("%s, expected 200 or 206", msg))
}

// open finds the file: a GET of its first byte (Range: bytes=0-0) gives
// its size, its validator and whether the server honours Range, and
// works where HEAD is refused (S3 presigned URLs). A server that answers
// 200 instead sends the whole file, which becomes the first body.
func (f *httpFile) open(ctx context.Context, st *counters) (*body, error) {
	st.requests.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	resp, err := f.request(ctx, http.MethodGet, "bytes=0-0", false)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		f.etag, f.lastMod = strongETag(resp.Header.Get("ETag")), resp.Header.Get("Last-Modified")
		f.size = resp.ContentLength
		f.o.debugf("%s: the server does not honour Range requests: reading it whole, in order", f.name)
		return f.body(resp, -1, cancel), nil
	}
	defer cancel()
	f.etag, f.lastMod = strongETag(resp.Header.Get("ETag")), resp.Header.Get("Last-Modified")
	switch resp.StatusCode {
	case http.StatusPartialContent:
		first, last, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		io.Copy(io.Discard, io.LimitReader(resp.Body, 2))
		resp.Body.Close()
		if err != nil || first != 0 || last != 0 {
			return nil, permanent(fmt.Errorf("GET %s: asked for byte 0, the server sent %q: %v", f.name, resp.Header.Get("Content-Range"), err))
		}
		f.size, f.ranges = total, true
		return nil, nil
	case http.StatusRequestedRangeNotSatisfiable: // an empty file
		resp.Body.Close()
		if _, _, total, err := parseContentRange(resp.Header.Get("Content-Range")); err == nil && total == 0 {
			f.size, f.ranges = 0, true
			return nil, nil
		}
		return nil, permanent(fmt.Errorf("GET %s: the server answered %s to a request for byte 0", f.name, resp.Status))
	}
	resp.Body.Close()
	return nil, f.statusError(http.MethodGet, resp)
}

// body wraps a response body, cut at end (-1: the file's end). cancel
// cancels the request: it aborts a Read blocked in the body (closing the
// body would wait for the Read), and Close calls it too.
func (f *httpFile) body(resp *http.Response, end int64, cancel context.CancelFunc) *body {
	r := io.Reader(resp.Body)
	if end >= 0 {
		// A server may send more than asked: never past end.
		r = io.LimitReader(r, end-f.startOf(resp))
	} else if f.size >= 0 {
		r = io.LimitReader(r, f.size-f.startOf(resp))
	}
	closer := closeFunc(func() error { err := resp.Body.Close(); cancel(); return err })
	return &body{ReadCloser: readCloser{r, closer}, end: end, abort: cancel}
}

type closeFunc func() error

func (f closeFunc) Close() error { return f() }

func (f *httpFile) startOf(resp *http.Response) int64 {
	if resp.StatusCode == http.StatusPartialContent {
		first, _, _, _ := parseContentRange(resp.Header.Get("Content-Range"))
		return first
	}
	return 0
}

type readCloser struct {
	io.Reader
	io.Closer
}

// fetch opens a body from off to end (-1: the end), checking that the
// server sends what was asked, of the same file.
func (f *httpFile) fetch(ctx context.Context, off, end int64) (*body, error) {
	rng := ""
	if f.ranges && (off > 0 || end >= 0) {
		rng = fmt.Sprintf("bytes=%d-", off)
		if end >= 0 {
			rng += strconv.FormatInt(end-1, 10)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	resp, err := f.request(ctx, http.MethodGet, rng, true)
	if err != nil {
		cancel()
		return nil, err
	}
	fail := func(err error) (*body, error) {
		resp.Body.Close()
		cancel()
		return nil, err
	}
	if err := f.sameFile(resp); err != nil {
		return fail(err)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if rng == "" {
			return fail(permanent(fmt.Errorf("GET %s: the server sent part of the file (206) without being asked for a range", f.name)))
		}
		first, last, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		switch {
		case err != nil || first != off || end >= 0 && last >= end || last < first:
			return fail(permanent(fmt.Errorf("GET %s: asked for bytes from %d (%s), the server sent %q: it does not answer Range requests as it should", f.name, off, rng, resp.Header.Get("Content-Range"))))
		case f.size >= 0 && total >= 0 && total != f.size:
			return fail(permanent(fmt.Errorf("GET %s: %w: it is now %d bytes, it was %d", f.name, ErrChanged, total, f.size)))
		}
		return f.body(resp, last+1, cancel), nil
	case http.StatusOK:
		if f.size >= 0 && resp.ContentLength >= 0 && resp.ContentLength != f.size {
			return fail(permanent(fmt.Errorf("GET %s: %w: it is now %d bytes, it was %d", f.name, ErrChanged, resp.ContentLength, f.size)))
		}
		if rng != "" && f.etag == "" && f.lastMod == "" {
			f.o.debugf("%s: the server ignored Range (no validator to tell a change): reading from its start", f.name)
		} else if rng != "" {
			f.o.debugf("%s: the server ignored Range: reading from its start", f.name)
		}
		b := f.body(resp, -1, cancel)
		if off > 0 { // read up to off: a server that stopped honouring Range
			n, err := io.CopyN(io.Discard, b, off)
			if err != nil {
				b.Close()
				return nil, fmt.Errorf("GET %s: skipping to byte %d after %d: %w", f.name, off, n, err)
			}
		}
		return b, nil
	case http.StatusRequestedRangeNotSatisfiable:
		return fail(permanent(fmt.Errorf("GET %s: %w: the server says byte %d is past its end (%s), it was %d bytes", f.name, ErrChanged, off, resp.Header.Get("Content-Range"), f.size)))
	}
	return fail(f.statusError(http.MethodGet, resp))
}

// sameFile refuses a response for another version of the file than the
// first one: an If-Range that did not match makes the server send the
// whole new file with 200, and a server that ignores If-Range shows its
// new validator.
func (f *httpFile) sameFile(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return nil
	}
	if etag := strongETag(resp.Header.Get("ETag")); f.etag != "" && etag != "" && etag != f.etag {
		return permanent(fmt.Errorf("GET %s: %w (ETag %s, was %s)", f.name, ErrChanged, etag, f.etag))
	}
	if lm := resp.Header.Get("Last-Modified"); f.etag == "" && f.lastMod != "" && lm != "" && lm != f.lastMod {
		return permanent(fmt.Errorf("GET %s: %w (Last-Modified %s, was %s)", f.name, ErrChanged, lm, f.lastMod))
	}
	return nil
}

// strongETag returns etag if it is strong (usable with If-Range), else "".
func strongETag(etag string) string {
	if strings.HasPrefix(etag, "W/") {
		return ""
	}
	return etag
}

// parseContentRange parses "bytes FIRST-LAST/TOTAL" (TOTAL may be "*":
// -1) and "bytes */TOTAL" (first and last -1).
func parseContentRange(s string) (first, last, total int64, err error) {
	bad := fmt.Errorf("malformed Content-Range %q", s)
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	span, tot, ok := strings.Cut(strings.TrimSpace(rest), "/")
	if !ok {
		return 0, 0, 0, bad
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total < 0 {
			return 0, 0, 0, bad
		}
	}
	if span == "*" {
		return -1, -1, total, nil
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	if first, err = strconv.ParseInt(a, 10, 64); err != nil || first < 0 {
		return 0, 0, 0, bad
	}
	if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first || total >= 0 && last >= total {
		return 0, 0, 0, bad
	}
	return first, last, total, nil
}

// exists asks whether the file is there: HEAD, and GET of its first
// byte where HEAD is refused (403, 405 or 501: S3 presigned URLs sign the
// method). 404, 410, and 403 to both, are "not there"; other failures
// are errors.
func (f *httpFile) exists(ctx context.Context) (bool, error) {
	resp, err := f.request(ctx, http.MethodHead, "", false)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		resp, err = f.request(ctx, http.MethodGet, "bytes=0-0", false)
		if err != nil {
			return false, err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1))
		resp.Body.Close()
		if resp.StatusCode == http.StatusForbidden {
			return false, nil
		}
	}
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent ||
		resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return true, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return false, nil
	}
	return false, f.statusError(resp.Request.Method, resp)
}

// openHTTP opens an http or https URL. A server that honours Range gives
// a source that seeks (each seek costs nothing until the next read) and
// prefetches; one that does not gives a stream.
func (o *Opener) openHTTP(ctx context.Context, name string, r *remote) (Source, error) {
	f := o.newHTTPFile(r, name)
	st := &counters{}
	no := o.Net.withDefaults()
	var first *body
	for failures := 1; ; failures++ {
		var err error
		first, err = f.open(ctx, st)
		if err == nil {
			break
		}
		if isPermanent(err) || failures > no.Retries {
			return nil, err
		}
		st.retries.Add(1)
		o.debugf("%v; retrying", err)
		if err := sleep(ctx, backoff(no.Backoff, failures)); err != nil {
			return nil, err
		}
	}
	if f.ranges {
		o.debugf("%s: %d bytes, Range requests honoured, validator %q", f.name, f.size, firstNonEmpty(f.etag, f.lastMod))
	}
	s := newResumable(ctx, f.name, f.size, f.fetch, no, st, o.Debugf)
	if first != nil {
		s.cur, s.curPos = first, 0
	}
	if !f.ranges {
		return &streamOf{s}, nil
	}
	s.window = 4 << 10 // a format sniff reads little; each next body doubles
	return &seekable{s}, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// seekable is a remote source that starts reading anywhere cheaply, and
// prefetches: it is an io.Seeker and a Prefetcher.
type seekable struct{ *resumable }

// streamOf is a remote source read in order: it is not an io.Seeker, so
// holes are read through (Discard is not offered either).
type streamOf struct{ r *resumable }

// seekOnly is a remote source that seeks but does not prefetch.
type seekOnly struct{ r *resumable }

func (s *seekOnly) Read(p []byte) (int, error)                { return s.r.Read(p) }
func (s *seekOnly) Seek(off int64, whence int) (int64, error) { return s.r.Seek(off, whence) }
func (s *seekOnly) Close() error                              { return s.r.Close() }
func (s *seekOnly) Name() string                              { return s.r.Name() }
func (s *seekOnly) Size() int64                               { return s.r.Size() }
func (s *seekOnly) Transferred() TransferStats                { return s.r.Transferred() }

func (s *streamOf) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *streamOf) Close() error               { return s.r.Close() }
func (s *streamOf) Name() string               { return s.r.Name() }
func (s *streamOf) Size() int64                { return s.r.Size() }
func (s *streamOf) Transferred() TransferStats { return s.r.Transferred() }
