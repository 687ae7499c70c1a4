package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

// Stdin is the name that stands for standard input.
const Stdin = "-"

// A Source is an opened input.
type Source interface {
	io.ReadCloser
	// Name returns the name the source was opened with.
	Name() string
	// Size returns the size in bytes, or -1 if it is known only once read.
	Size() int64
}

// An Opener opens sources by name. The zero value opens local paths and
// URLs with the defaults; standard input needs Stdin. An Opener must not
// be copied after first use.
type Opener struct {
	// Stdin is what the name "-" reads. Nil: "-" cannot be opened.
	Stdin io.Reader
	// Header holds HTTP headers sent with every request to the origin
	// host of an http(s) URL (tokens: "Authorization: Bearer ...",
	// GitLab's "JOB-TOKEN"), and to no other host: never across a
	// redirect to another host.
	Header http.Header
	// Net tunes timeouts, retries and prefetching of remote sources.
	Net NetOptions
	// TLS, if not nil, replaces the TLS configuration of https requests
	// (the system's trust store, with SSL_CERT_FILE and SSL_CERT_DIR
	// honoured). Tests use it to trust their own server.
	TLS *tls.Config
	// SSH is the ssh command and the arguments to put first, for ssh://
	// names; nil runs "ssh" (so ~/.ssh/config, agents and known_hosts
	// apply).
	SSH []string
	// Debugf, if not nil, receives debugging lines: requests, their
	// status, retries. URLs in them are redacted (see Redact); header
	// values and passwords never appear. It is called from several
	// goroutines at once (parallel downloads).
	Debugf func(format string, args ...any)

	once sync.Once
	http *http.Client
}

func (o *Opener) debugf(format string, args ...any) {
	if o.Debugf != nil {
		o.Debugf(format, args...)
	}
}

// ErrNotFound is returned (wrapped) when a name does not exist.
var ErrNotFound = errors.New("source: not found")

// Open opens name for reading.
func (o *Opener) Open(ctx context.Context, name string) (Source, error) {
	if name == Stdin {
		return o.stdin()
	}
	if IsRemote(name) {
		return o.openRemote(ctx, name)
	}
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory, not a file", name)
	}
	if !fi.Mode().IsRegular() {
		// A FIFO, a character device, a block device read as an image:
		// read it in order.
		return &stream{r: f, name: name, size: -1, close: f.Close}, nil
	}
	return &File{File: f, size: fi.Size()}, nil
}

// stdin returns standard input: a *File if it is a regular file (a shell
// redirection), so that it can be seeked like any file, else a stream.
func (o *Opener) stdin() (Source, error) {
	if o.Stdin == nil {
		return nil, errors.New("standard input is not available")
	}
	if f, ok := o.Stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil && pos == 0 {
				return &File{File: f, size: fi.Size(), name: Stdin, noClose: true}, nil
			}
		}
	}
	return &stream{r: o.Stdin, name: Stdin, size: -1, close: func() error { return nil }}, nil
}

// ReadAll reads the whole of a small source, such as a bmap or a
// signature; more than limit bytes is an error.
func (o *Opener) ReadAll(ctx context.Context, name string, limit int64) ([]byte, error) {
	s, err := o.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if s.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", Redact(name), limit)
	}
	data, err := io.ReadAll(io.LimitReader(s, limit+1))
	if err != nil {
		if IsRemote(name) {
			return nil, err // it names the URL
		}
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", Redact(name), limit)
	}
	return data, nil
}

// Exists reports whether name names a file that can be opened (not a
// directory). A name that does not exist is (false, nil); other failures,
// such as a permission error, are returned.
func (o *Opener) Exists(ctx context.Context, name string) (bool, error) {
	if name == Stdin {
		return false, nil
	}
	if IsRemote(name) {
		return o.existsRemote(ctx, name)
	}
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return !fi.IsDir(), nil
}

// File is a local regular file. It offers io.ReaderAt and io.Seeker, and
// Stat.
type File struct {
	*os.File
	size    int64
	name    string // overrides File.Name(), for standard input
	noClose bool   // standard input: not ours to close
}

// Name returns the name the file was opened with.
func (f *File) Name() string {
	if f.name != "" {
		return f.name
	}
	return f.File.Name()
}

// Size returns the file's size when it was opened.
func (f *File) Size() int64 { return f.size }

// Close closes the file (but not standard input).
func (f *File) Close() error {
	if f.noClose {
		return nil
	}
	return f.File.Close()
}

// stream is a source read once, in order.
type stream struct {
	r     io.Reader
	name  string
	size  int64
	close func() error
}

func (s *stream) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *stream) Close() error               { return s.close() }
func (s *stream) Name() string               { return s.name }
func (s *stream) Size() int64                { return s.size }

// SameFile reports whether the names a and b are the same local file, or
// the same URL. Standard input is never the same as anything.
func SameFile(a, b string) bool {
	if a == Stdin || b == Stdin {
		return false
	}
	if IsRemote(a) || IsRemote(b) {
		return a == b
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}

// openRemote opens a URL.
func (o *Opener) openRemote(ctx context.Context, name string) (Source, error) {
	r, err := parseRemote(name)
	if err != nil {
		return nil, err
	}
	var s Source
	switch r.scheme {
	case schemeHTTP, schemeHTTPS:
		s, err = o.openHTTP(ctx, name, r)
	case schemeFTP:
		s, err = o.openFTP(ctx, name, r)
	default:
		s, err = o.openSSH(ctx, name, r)
	}
	return s, unwrapPermanent(err)
}

// existsRemote asks a server whether a URL names a file.
func (o *Opener) existsRemote(ctx context.Context, name string) (bool, error) {
	r, err := parseRemote(name)
	if err != nil {
		return false, err
	}
	switch r.scheme {
	case schemeHTTP, schemeHTTPS:
		f := o.newHTTPFile(r, name)
		no := o.Net.withDefaults()
		for failures := 1; ; failures++ {
			ok, err := f.exists(ctx)
			if err == nil || isPermanent(err) || failures > no.Retries {
				return ok, unwrapPermanent(err)
			}
			o.debugf("%v; retrying", err)
			if err := sleep(ctx, backoff(no.Backoff, failures)); err != nil {
				return false, err
			}
		}
	case schemeFTP:
		return o.existsFTP(ctx, name, r)
	default:
		return o.existsSSH(ctx, name, r)
	}
}
