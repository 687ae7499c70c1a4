package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// An Extent is a byte range of a source: Length bytes from Offset.
type Extent struct{ Offset, Length int64 }

// A Prefetcher is a source that can be told which byte ranges will be
// read, in order, so that it fetches them ahead of the reader: a remote
// file on a server that honours Range requests. Reads outside the
// extents still work, as plain requests.
type Prefetcher interface {
	// Prefetch starts fetching the extents (ascending, not overlapping)
	// from the reader's offset on, with bounded memory. It replaces an
	// earlier plan.
	Prefetch(extents []Extent)
}

// Prefetch plans the extents: see Prefetcher.
func (s *resumable) Prefetch(extents []Extent) {
	if s.net.NoPrefetch {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.plan != nil {
		s.plan.close()
	}
	pieces := planPieces(extents, s.pos, s.size, s.net.PieceSize)
	if len(pieces) == 0 {
		s.plan = nil
		return
	}
	var bytes int64
	for _, p := range pieces {
		bytes += p.end - p.off
	}
	s.drop() // bodies are for reads outside the plan from now on
	s.plan = newPrefetcher(s, pieces)
	s.debug("%s: fetching %d bytes in %d range requests, up to %d at once", s.name, bytes, len(pieces), s.net.Parallel)
}

// maxGap is the largest hole between two extents that one request reads
// through, and gapBudget (a fraction of the extents' bytes) bounds how much
// such holes add up to: the smallest holes are merged first.
const (
	maxGap    = 256 << 10
	gapBudget = 100 // 1/100: at most 1% more bytes than mapped
)

type piece struct {
	off, end int64
	buf      []byte
	n        int64 // bytes of buf filled
	err      error
	done     bool // no worker writes to buf any more
	passed   bool // the reader is past it: give buf back once done
}

// planPieces turns extents into the requests to make: clipped to
// [from, size), near ones merged (holes of at most maxGap, smallest
// first, within the gap budget), cut into pieces of at most pieceSize.
func planPieces(extents []Extent, from, size, pieceSize int64) []piece {
	var spans []Extent
	for _, e := range extents {
		off, end := e.Offset, e.Offset+e.Length
		off = max(off, from)
		if size >= 0 {
			end = min(end, size)
		}
		if end > off {
			spans = append(spans, Extent{off, end - off})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].Offset < spans[j].Offset })
	var mapped int64
	for _, e := range spans {
		mapped += e.Length
	}
	// Merge the smallest holes first, within the budget.
	type gap struct {
		i   int // the hole after spans[i]
		len int64
	}
	var gaps []gap
	for i := 0; i+1 < len(spans); i++ {
		g := spans[i+1].Offset - (spans[i].Offset + spans[i].Length)
		if g <= maxGap {
			gaps = append(gaps, gap{i, max(g, 0)})
		}
	}
	sort.Slice(gaps, func(a, b int) bool { return gaps[a].len < gaps[b].len })
	join := make([]bool, len(spans)) // join[i]: spans[i] and spans[i+1] are one request
	budget := mapped / gapBudget
	for _, g := range gaps {
		if g.len > budget {
			break
		}
		budget -= g.len
		join[g.i] = true
	}
	var pieces []piece
	for i := 0; i < len(spans); {
		off, end := spans[i].Offset, spans[i].Offset+spans[i].Length
		for join[i] {
			i++
			end = max(end, spans[i].Offset+spans[i].Length)
		}
		i++
		for off < end {
			n := min(end-off, pieceSize)
			pieces = append(pieces, piece{off: off, end: off + n})
			off += n
		}
	}
	return pieces
}

// errNotPlanned: a read outside the plan, to serve with a body.
var errNotPlanned = errors.New("not planned")

// prefetcher fetches planned pieces ahead of the reader: a dispatcher gives
// the pieces, in order, a buffer each from a fixed set (so at most Memory
// bytes are held), and Parallel workers fetch them with range requests,
// each resumed where it broke. The reader takes bytes from the piece that
// holds its offset as soon as they arrive, and gives a piece's buffer
// back once it has read past it.
type prefetcher struct {
	s      *resumable
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	cond   *sync.Cond
	pieces []piece
	next   int // the first piece the reader has not read past
	free   chan []byte
}

func newPrefetcher(s *resumable, pieces []piece) *prefetcher {
	ctx, cancel := context.WithCancel(s.ctx)
	p := &prefetcher{s: s, ctx: ctx, cancel: cancel, pieces: pieces}
	p.cond = sync.NewCond(&p.mu)
	nbuf := int(min(s.net.Memory/s.net.PieceSize, int64(len(pieces))))
	p.free = make(chan []byte, nbuf)
	for i := 0; i < nbuf; i++ {
		p.free <- nil // allocated on first use
	}
	jobs := make(chan int)
	p.wg.Add(1)
	go func() { // the dispatcher
		defer p.wg.Done()
		defer close(jobs)
		for i := range pieces {
			var buf []byte
			select {
			case buf = <-p.free:
			case <-ctx.Done():
				return
			}
			n := pieces[i].end - pieces[i].off
			if int64(cap(buf)) < n {
				buf = make([]byte, s.net.PieceSize)
			}
			p.mu.Lock()
			p.pieces[i].buf = buf[:n]
			p.mu.Unlock()
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for w := 0; w < s.net.Parallel; w++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for i := range jobs {
				p.fetch(i)
			}
		}()
	}
	context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	return p
}

// fetch fills piece i, resuming where a request broke.
func (p *prefetcher) fetch(i int) {
	p.mu.Lock()
	pc := &p.pieces[i]
	off, end, buf := pc.off, pc.end, pc.buf
	p.mu.Unlock()
	var filled int64
	failures := 0
	fail := func(err error) bool { // true: give up
		if isPermanent(err) || p.ctx.Err() != nil {
			p.finish(i, p.s.wrapped(err))
			return true
		}
		failures++
		if failures > p.s.net.Retries {
			p.finish(i, fmt.Errorf("giving up after %d failed attempts in a row at byte %d: %w", failures, off+filled, err))
			return true
		}
		p.s.stats.retries.Add(1)
		wait := backoff(p.s.net.Backoff, failures)
		p.s.debug("%s: %v at byte %d; retrying in %s (attempt %d of %d)", p.s.name, err, off+filled, wait, failures+1, p.s.net.Retries+1)
		if sleep(p.ctx, wait) != nil {
			p.finish(i, p.ctx.Err())
			return true
		}
		return false
	}
	for filled < end-off {
		p.s.stats.requests.Add(1)
		b, err := p.s.fetch(p.ctx, off+filled, end)
		if err != nil {
			if fail(err) {
				return
			}
			continue
		}
		for filled < end-off {
			want := buf[filled:]
			if b.end >= 0 && b.end < end {
				want = want[:max(0, b.end-(off+filled))]
			}
			if len(want) == 0 {
				err = io.EOF
				break
			}
			var n int
			n, err = watchedRead(b, want, p.s.net.StallTimeout)
			if n > 0 {
				filled += int64(n)
				failures = 0
				p.s.stats.bytes.Add(int64(n))
				p.mu.Lock()
				pc.n = filled
				p.cond.Broadcast()
				p.mu.Unlock()
			}
			if err != nil {
				break
			}
		}
		b.Close()
		if filled == end-off {
			break
		}
		if err == nil || err == io.EOF {
			if b.end >= 0 && off+filled == b.end {
				continue // a shorter body than asked: ask for the rest
			}
			err = io.ErrUnexpectedEOF
		}
		if fail(err) {
			return
		}
	}
	p.finish(i, nil)
}

func (p *prefetcher) finish(i int, err error) {
	p.mu.Lock()
	pc := &p.pieces[i]
	if err != nil && pc.err == nil {
		pc.err = fmt.Errorf("%s: fetching bytes %d-%d: %w", p.s.name, pc.off, pc.end-1, err)
	}
	pc.done = true
	if pc.passed {
		p.release(i)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// read copies into b the bytes at pos, waiting for them to arrive. A pos
// outside the plan gives errNotPlanned.
func (p *prefetcher) read(ctx context.Context, b []byte, pos int64) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Give back the pieces the reader has passed.
	for p.next < len(p.pieces) && p.pieces[p.next].end <= pos {
		p.pieces[p.next].passed = true
		p.release(p.next)
		p.next++
	}
	if p.next == len(p.pieces) || pos < p.pieces[p.next].off {
		return 0, errNotPlanned
	}
	pc := &p.pieces[p.next]
	for pc.n <= pos-pc.off && pc.err == nil && ctx.Err() == nil && p.ctx.Err() == nil {
		p.cond.Wait()
	}
	if pc.n > pos-pc.off {
		return copy(b, pc.buf[pos-pc.off:pc.n]), nil
	}
	if pc.err != nil {
		return 0, pc.err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return 0, p.ctx.Err()
}

// release gives piece i's buffer back (under mu) once no worker writes
// to it: the reader may seek past a piece still being fetched.
func (p *prefetcher) release(i int) {
	pc := &p.pieces[i]
	if !pc.done || pc.buf == nil {
		return
	}
	buf := pc.buf
	pc.buf = nil
	p.free <- buf[:0] // never blocks: free holds every buffer
}

// close stops the workers and waits for them.
func (p *prefetcher) close() {
	p.cancel()
	p.wg.Wait()
}
