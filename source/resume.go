package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// NetOptions tunes how remote sources are fetched. The zero value uses the
// defaults named on each field.
type NetOptions struct {
	// StallTimeout: a connection that delivers no byte for this long (or
	// a server that takes this long to answer) is dropped, and the
	// transfer resumed. Default 30 s.
	StallTimeout time.Duration
	// ConnectTimeout bounds connecting, TLS handshake included. Default 30 s.
	ConnectTimeout time.Duration
	// Retries is how many times in a row a transfer may fail without
	// receiving a byte before the error is returned; a failure after
	// progress starts the count again. Default 5.
	Retries int
	// Backoff is the wait before the second retry in a row (the first
	// is at once); it doubles with each further failure, up to 30 s.
	// Default 1 s.
	Backoff time.Duration
	// Parallel is how many range requests a prefetching source keeps in
	// flight. Default 4.
	Parallel int
	// PieceSize is the most bytes one range request of a prefetching
	// source asks for. Default 4 MiB.
	PieceSize int64
	// Memory bounds the bytes a prefetching source holds ahead of its
	// reader. Default 32 MiB.
	Memory int64
	// NoPrefetch makes Prefetch a no-op: ranges are then fetched one
	// request after the other as they are read (for comparisons).
	NoPrefetch bool
}

func (n NetOptions) withDefaults() NetOptions {
	if n.StallTimeout <= 0 {
		n.StallTimeout = 30 * time.Second
	}
	if n.ConnectTimeout <= 0 {
		n.ConnectTimeout = 30 * time.Second
	}
	if n.Retries <= 0 {
		n.Retries = 5
	}
	if n.Backoff <= 0 {
		n.Backoff = time.Second
	}
	if n.Parallel <= 0 {
		n.Parallel = 4
	}
	if n.PieceSize <= 0 {
		n.PieceSize = 4 << 20
	}
	if n.Memory <= 0 {
		n.Memory = 32 << 20
	}
	n.Memory = max(n.Memory, n.PieceSize)
	return n
}

// maxBackoff caps the wait between retries.
const maxBackoff = 30 * time.Second

// ErrChanged is returned (wrapped) when a remote file changed while it was
// read: its validator (ETag or Last-Modified), size or modification time
// differs from what the first request saw. Nothing read after the change
// is returned, so two versions are never mixed.
var ErrChanged = errors.New("the file changed on the server while it was read")

// A permanentError is a failure that retrying cannot fix (404, refused
// credentials, a changed file, a server that contradicts itself).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// A body is one response being read: bytes of the file from the offset it
// was asked for. abort makes a Read blocked in it return (a stall).
type body struct {
	io.ReadCloser
	// end is the offset after the last byte this body carries, -1 for
	// the end of the file.
	end   int64
	abort func()
}

// fetchFunc opens a body of the file from byte off, up to byte end
// (exclusive; -1: to the end of the file; a protocol may send more). It
// returns a *permanentError for failures retrying cannot fix. pre is
// the body to read, its first byte at off, and its end.
type fetchFunc func(ctx context.Context, off, end int64) (*body, error)

// TransferStats counts what a remote source moved over the network.
type TransferStats struct {
	Bytes    int64         // bytes received, discarded ones included
	Requests int64         // requests made (connections, commands)
	Retries  int64         // requests that failed and were made again
	Wait     time.Duration // time Read spent waiting for the network
}

// A Transferer is a source that counts its network transfer.
type Transferer interface {
	Transferred() TransferStats
}

// counters are a source's TransferStats, updated from several goroutines.
type counters struct {
	bytes, requests, retries, wait atomic.Int64
}

func (c *counters) stats() TransferStats {
	return TransferStats{Bytes: c.bytes.Load(), Requests: c.requests.Load(), Retries: c.retries.Load(),
		Wait: time.Duration(c.wait.Load())}
}

// resumable reads a remote file in order, as a Source and an io.Seeker,
// over bodies that fetch opens. A body that fails, ends early or stalls
// is replaced by one from where it stopped, with a bounded number of
// failures in a row and a growing wait between them. A Seek forward by a
// little reads on (coalescing near reads); further, or back, opens a body
// at the new offset.
//
// With a plan (Prefetch), reads inside the planned extents are served
// from it; others fall back to bodies.
type resumable struct {
	name  string // redacted, for messages
	size  int64  // -1 if unknown
	fetch fetchFunc
	net   NetOptions
	ctx   context.Context
	stop  context.CancelFunc
	stats *counters
	debug func(string, ...any)
	// window, if positive, is the length a body opened without a plan
	// asks for first; each next body in sequence asks for twice as much
	// (so a sniff of the first bytes fetches little). 0: to the end.
	window int64

	mu       sync.Mutex // Read, Seek, Prefetch and Close
	pos      int64
	cur      *body
	curPos   int64
	nextWin  int64
	failures int
	plan     *prefetcher
	closed   bool
}

// skipLimit is the longest forward jump a body reads through rather than
// reopening at the new offset: less than a new request costs.
const skipLimit = 256 << 10

func newResumable(ctx context.Context, name string, size int64, fetch fetchFunc, net NetOptions, st *counters, debug func(string, ...any)) *resumable {
	ctx, stop := context.WithCancel(ctx)
	if debug == nil {
		debug = func(string, ...any) {}
	}
	return &resumable{name: name, size: size, fetch: fetch, net: net, ctx: ctx, stop: stop, stats: st, debug: debug}
}

func (s *resumable) Name() string { return s.name }
func (s *resumable) Size() int64  { return s.size }

func (s *resumable) Transferred() TransferStats { return s.stats.stats() }

// Seek sets the offset of the next Read. It makes no request.
func (s *resumable) Seek(offset int64, whence int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch whence {
	case io.SeekCurrent:
		offset += s.pos
	case io.SeekEnd:
		if s.size < 0 {
			return s.pos, fmt.Errorf("seeking %s from its end: its size is unknown", s.name)
		}
		offset += s.size
	}
	if offset < 0 {
		return s.pos, fmt.Errorf("seeking %s to byte %d", s.name, offset)
	}
	s.pos = offset
	return offset, nil
}

func (s *resumable) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	if s.closed {
		return 0, fmt.Errorf("reading %s: %w", s.name, errClosed)
	}
	if s.size >= 0 && s.pos >= s.size {
		return 0, io.EOF
	}
	if s.size >= 0 && int64(len(p)) > s.size-s.pos {
		p = p[:s.size-s.pos]
	}
	t := time.Now()
	defer func() { s.stats.wait.Add(int64(time.Since(t))) }()
	if s.plan != nil {
		n, err := s.plan.read(s.ctx, p, s.pos)
		if err != errNotPlanned {
			s.pos += int64(n)
			return n, err
		}
	}
	return s.readBody(p)
}

var errClosed = errors.New("source closed")

// readBody reads at s.pos from a body, opening, skipping and resuming as
// needed.
func (s *resumable) readBody(p []byte) (int, error) {
	for {
		if err := s.ctx.Err(); err != nil {
			return 0, err
		}
		if s.cur != nil && s.curPos != s.pos {
			ahead := s.pos - s.curPos
			if ahead > 0 && ahead <= skipLimit && (s.cur.end < 0 || s.pos < s.cur.end) {
				n, err := io.CopyN(io.Discard, s.cur, ahead)
				s.curPos += n
				s.stats.bytes.Add(n)
				if err != nil {
					s.drop()
					if ferr := s.failed(err); ferr != nil {
						return 0, ferr
					}
				}
				continue
			}
			s.drop()
			s.nextWin = 0
		}
		if s.cur == nil {
			if err := s.open(); err != nil {
				if ferr := s.failed(err); ferr != nil {
					return 0, ferr
				}
				continue
			}
		}
		want := p
		if s.cur.end >= 0 && int64(len(want)) > s.cur.end-s.curPos {
			want = want[:s.cur.end-s.curPos]
		}
		n, err := s.readWatched(want)
		s.curPos += int64(n)
		s.pos += int64(n)
		s.stats.bytes.Add(int64(n))
		if n > 0 {
			s.failures = 0
		}
		atEnd := s.cur.end >= 0 && s.curPos >= s.cur.end
		switch {
		case err == nil && !atEnd:
			return n, nil
		case err == nil || err == io.EOF && atEnd:
			s.drop() // a window done: the next Read opens the next one
			return n, nil
		case err == io.EOF && s.size < 0 && s.cur.end < 0:
			s.drop()
			if n > 0 {
				return n, nil
			}
			return 0, io.EOF
		}
		// The body failed or ended early: resume from s.pos.
		s.drop()
		if n > 0 {
			s.debug("%s: transfer broke at byte %d (%v); resuming", s.name, s.pos, err)
			return n, nil
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if ferr := s.failed(err); ferr != nil {
			return 0, ferr
		}
	}
}

// open opens a body at s.pos.
func (s *resumable) open() error {
	end := int64(-1)
	if s.window > 0 {
		if s.nextWin == 0 {
			s.nextWin = s.window
		}
		if s.nextWin <= 64<<20 {
			end = s.pos + s.nextWin
			if s.size >= 0 && end >= s.size {
				end = -1
			}
			s.nextWin *= 2
		}
	}
	s.stats.requests.Add(1)
	b, err := s.fetch(s.ctx, s.pos, end)
	if err != nil {
		return err
	}
	s.cur, s.curPos = b, s.pos
	return nil
}

func (s *resumable) drop() {
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
}

// readWatched reads from the current body; a Read that waits longer
// than the stall timeout is aborted.
func (s *resumable) readWatched(p []byte) (int, error) {
	return watchedRead(s.cur, p, s.net.StallTimeout)
}

// A stallError reports a transfer that delivered nothing for too long.
type stallError struct{ d time.Duration }

func (e *stallError) Error() string {
	return fmt.Sprintf("no data for %s (stalled)", e.d)
}

func watchedRead(b *body, p []byte, stall time.Duration) (int, error) {
	var stalled atomic.Bool
	t := time.AfterFunc(stall, func() {
		stalled.Store(true)
		b.abort()
	})
	n, err := b.Read(p)
	t.Stop()
	if stalled.Load() && err != nil && err != io.EOF {
		err = &stallError{stall}
	}
	return n, err
}

// failed counts a failure: it returns the error to give up with, or nil
// after waiting to try again.
func (s *resumable) failed(err error) error {
	if isPermanent(err) || s.ctx.Err() != nil {
		return s.wrap(err)
	}
	s.failures++
	if s.failures > s.net.Retries {
		return fmt.Errorf("%s: giving up after %d failed attempts in a row at byte %d: %w", s.name, s.failures, s.pos, s.wrapped(err))
	}
	s.stats.retries.Add(1)
	wait := backoff(s.net.Backoff, s.failures)
	s.debug("%s: %v at byte %d; retrying in %s (attempt %d of %d)", s.name, s.wrapped(err), s.pos, wait, s.failures+1, s.net.Retries+1)
	return sleep(s.ctx, wait)
}

func (s *resumable) wrap(err error) error {
	if isPermanent(err) {
		return err.(*permanentError).err // errors of permanentError name the file and offset
	}
	return fmt.Errorf("%s at byte %d: %w", s.name, s.pos, err)
}

func (s *resumable) wrapped(err error) error {
	var p *permanentError
	if errors.As(err, &p) {
		return p.err
	}
	return err
}

// backoff is the wait before retrying after failures in a row: none
// after the first (a connection dropped once is resumed at once), then
// first, doubling, up to maxBackoff.
func backoff(first time.Duration, failures int) time.Duration {
	if failures <= 1 {
		return 0
	}
	d := first
	for i := 2; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Close stops every transfer.
func (s *resumable) Close() error {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.drop()
	if s.plan != nil {
		s.plan.close()
		s.plan = nil
	}
	return nil
}
