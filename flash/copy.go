package flash

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bmap-tools/bmap/bmap"
)

// Options tunes Copy. The zero value verifies checksums and uses 16 buffers
// of 4 MiB.
type Options struct {
	// NoVerify skips the ranges' checksums.
	NoVerify bool
	// BufferSize is the size of one buffer in bytes, rounded up to a
	// multiple of 4096. Default 4 MiB.
	BufferSize int
	// Buffers is how many buffers are in flight between the stages.
	// Default 16: 64 MiB rides out a disk's pauses (writes that stall
	// for tens of milliseconds) without stopping the decoder. A zstd
	// copy of the benchmark image: median 2.35 s with 16, 2.51 s with 8
	// (7 runs each, alternated).
	Buffers int
	// Progress, if not nil, is updated as the copy goes; another goroutine
	// may read it at any time.
	Progress *Progress
	// Verified, if not nil, is called with each range whose checksum
	// matched, in order, from the hashing goroutine. It must be quick.
	Verified func(r bmap.Range)
	// Dropped, if not nil, is called when a write to destination i (its
	// index in CopyTo's list) fails while other destinations are still
	// being written: the copy goes on without it. st is what it did, its
	// Err why it was dropped. It is called from that destination's
	// goroutine and must be quick. The last destination to fail is not
	// dropped: its failure stops the copy.
	Dropped func(i int, st DestStats)
}

// Progress holds counters a caller can poll while Copy runs.
type Progress struct {
	// ImageBytes is how far into the image the source has been read,
	// holes included.
	ImageBytes atomic.Int64
	// WrittenBytes is how many bytes have been written to the destination;
	// with several, to the slowest of those not dropped (the one that has
	// written least).
	WrittenBytes atomic.Int64
	// VerifiedRanges counts ranges whose checksum matched.
	VerifiedRanges atomic.Int64
	// Dests, if the caller makes it as long as CopyTo's list of
	// destinations before the copy starts, follows each destination.
	Dests []DestProgress
}

// DestProgress follows one destination of a copy.
type DestProgress struct {
	// WrittenBytes is how many bytes have been written to it.
	WrittenBytes atomic.Int64
	// Dropped is set when a write to it failed and the copy went on
	// without it.
	Dropped atomic.Bool
}

// Stats describes a finished (or failed) copy.
type Stats struct {
	ImageBytes     int64 // bytes of image read from the source, holes included
	VerifiedRanges int   // ranges whose checksum was checked and matched
	// WrittenBytes and WrittenBlocks (counted per completed range) are
	// what was written to the destination; with several, the most that
	// any of them received.
	WrittenBytes, WrittenBlocks int64
	// Busy time of each stage. The stage with the most is the bottleneck.
	// With several destinations, WriteTime is the longest any of them
	// took to write: the slowest sets the pace.
	ReadTime, HashTime, WriteTime time.Duration
	// Dests says what was done to each destination, in CopyTo's order.
	Dests []DestStats
}

// DestStats describes what a copy did to one destination.
type DestStats struct {
	WrittenBytes  int64         // bytes written to it
	WrittenBlocks int64         // blocks written, counted per completed range
	WriteTime     time.Duration // time spent in its WriteAt
	// Err is nil if the destination received the whole copy. Otherwise
	// it says why not: its own write failed (it was dropped), the caller
	// cancelled, or the source failed (a read error, a checksum
	// mismatch), in which case it is a *PartialError that says what this
	// destination holds.
	Err error
}

// A Discarder skips the next n bytes of a stream, as bufio.Reader.Discard
// does: it returns how many it skipped, fewer than n only with an error. A
// source that is not an io.Seeker but a Discarder (such as a
// *decompress.Reader) has its holes skipped with Discard instead of read
// into the pipeline's buffers, which saves copying them.
type Discarder interface {
	Discard(n int) (discarded int, err error)
}

// An ExtentSource is a source that carries its own map and says, as it
// goes, where the image's data is: an Android sparse image read as a
// stream, whose chunk headers come between the data. Copy with a nil map
// asks it for the next extent instead of copying everything.
type ExtentSource interface {
	io.Reader
	// NextExtent moves to the next run of data, at or after the bytes
	// read so far, and returns its image offset and length: the next Read
	// returns its first byte. After the last run it returns the image's
	// size and io.EOF, once the source has checked that it is complete.
	NextExtent() (off, length int64, err error)
}

// discardStep is how many bytes of a hole one Discard call skips, so that
// progress moves and a cancel is seen during a long hole.
const discardStep = 4 << 20

// ErrOrder is returned (wrapped) when a map's ranges are not in ascending
// order and the source is a stream that cannot go back.
var ErrOrder = errors.New("flash: ranges out of ascending order on a stream")

// A ShortImageError reports a source that ended before ImageSize bytes:
// Got is always less than Want. Err, if not nil, is how the source said
// it ended early, such as a decoder's error wrapping io.ErrUnexpectedEOF.
type ShortImageError struct {
	Got, Want int64
	Err       error
}

func (e *ShortImageError) Error() string {
	msg := fmt.Sprintf("image data ended at byte %d, but the bmap says the image has %d bytes", e.Got, e.Want)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + " (truncated or incomplete image?)"
}

func (e *ShortImageError) Unwrap() error { return e.Err }

// A LongImageError reports a source with more than ImageSize bytes.
type LongImageError struct{ Want int64 }

func (e *LongImageError) Error() string {
	return fmt.Sprintf("image data goes on past byte %d, the image size in the bmap: this is not the image the bmap describes", e.Want)
}

// chunk is a piece of one range on its way from read to write.
type chunk struct {
	buf  []byte // a slice of a pool buffer
	pool []byte // the whole buffer, returned to the free list
	off  int64  // image offset of buf[0]
	rng  int    // index of the range in the map
	last bool   // buf ends the range
	// refs counts the destinations that have yet to write the chunk;
	// nil with one destination.
	refs *atomic.Int32
}

// Copy writes the mapped ranges of src to dst and returns what it did. src
// must yield raw image bytes from offset 0; if it is an io.Seeker, holes are
// skipped by seeking. m must be valid (as Parse and Create make it); a nil m
// copies the whole source, whatever its length, with no checksums.
func Copy(ctx context.Context, dst io.WriterAt, src io.Reader, m *bmap.Map, opt Options) (Stats, error) {
	return CopyTo(ctx, []io.WriterAt{dst}, src, m, opt)
}

// CopyTo writes the mapped ranges of src to every destination in dsts at
// once, as Copy writes them to one: the image is read, decompressed and
// verified once, and each destination is written by its own goroutine, in
// the same order, from the same buffers (see the package doc). Each
// WriterAt is only called from its destination's goroutine.
//
// A destination whose write fails is dropped and the others go on; if it
// was the last one, the copy stops. Stats.Dests says what happened to each
// destination. CopyTo returns nil if every destination received the whole
// copy; else the caller's cancel, or the source's failure (a
// *PartialError, as the first destination not dropped saw it), or the
// first dropped destination's error.
func CopyTo(ctx context.Context, dsts []io.WriterAt, src io.Reader, m *bmap.Map, opt Options) (Stats, error) {
	if len(dsts) == 0 {
		return Stats{}, errors.New("flash: no destination to copy to")
	}
	if opt.BufferSize <= 0 {
		opt.BufferSize = 4 << 20
	}
	opt.BufferSize = (opt.BufferSize + 4095) &^ 4095
	if opt.Buffers <= 0 {
		opt.Buffers = 16
	}
	if opt.Progress == nil {
		opt.Progress = new(Progress)
	}
	c := &copier{m: m, opt: opt, src: src}
	c.ctx, c.cancel = context.WithCancelCause(ctx)
	defer c.cancel(nil)
	c.stop, c.halt = context.WithCancelCause(c.ctx)
	defer c.halt(nil)

	// The buffers are released when Copy returns, after every stage has
	// stopped.
	bufs, release := pipelineBuffers(opt.Buffers, opt.BufferSize)
	defer release()
	free := make(chan []byte, opt.Buffers)
	for _, b := range bufs {
		free <- b
	}
	// One lane (read in order, hash, write) for a stream; for a
	// random-access source, more lanes open when hashing holds the copy
	// back: ranges are then read side by side and hashed on as many
	// goroutines (see readAt).
	ra, _ := src.(io.ReaderAt)
	_, seekable := src.(io.Seeker)
	lanes := 1
	if ra != nil && seekable && m != nil && !opt.NoVerify {
		lanes = max(1, min(runtime.GOMAXPROCS(0), maxLanes, len(m.Ranges)))
	}
	c.verified = newSequencer(m, opt)
	read := make([]chan chunk, lanes)
	for i := range read {
		read[i] = make(chan chunk, opt.Buffers)
	}
	hashed := make(chan chunk, opt.Buffers)
	c.dests = newDestinations(dsts, hashed, opt.Buffers)
	var wg, hashers sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			for _, ch := range read {
				close(ch)
			}
		}()
		// A failed read stops reading only: what was read before goes
		// on to be hashed and written.
		if lanes > 1 {
			c.readErr = c.readAt(ra, free, read, hashed)
		} else {
			c.readErr = c.read(free, read[0])
		}
	}()
	for _, in := range read {
		hashers.Add(1)
		go func() { defer hashers.Done(); c.hash(in, hashed, free) }()
	}
	go func() { hashers.Wait(); close(hashed) }()
	c.writeAll(hashed, free)
	wg.Wait()
	hashers.Wait()

	err := c.result()
	return c.stats, err
}

type copier struct {
	m   *bmap.Map
	opt Options
	src io.Reader
	// dests are the destinations, each written by its own goroutine.
	dests []*destination
	// ctx stops every stage: the caller cancelled, or the last
	// destination's write failed (the cause). stop, derived from it,
	// stops only the read stage: a range failed its checksum.
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   context.Context
	halt   context.CancelCauseFunc
	stats  Stats // each field is written by one stage only; HashTime and VerifiedRanges under mu

	readErr error // why the read stage stopped; read once it has stopped

	mu       sync.Mutex
	verified *sequencer // under mu
	hashErr  error      // the first checksum mismatch; under mu
}

// A PartialError is a copy that failed after it began reading, but not
// because a write failed or the caller cancelled: Err says why, and Held
// what the destination holds then (see the package doc), such as "all 8
// mapped ranges were written and verified" or "the destination holds the
// image's mapped ranges up to block 203, written and verified (5 of 8
// ranges, up to byte 835583); blocks 250-384 were not written". A caller
// that discards what was written (a file written beside the one it
// replaces) can say Err alone.
type PartialError struct {
	Err  error
	Held string
}

func (e *PartialError) Error() string { return e.Err.Error() + "; " + e.Held }

func (e *PartialError) Unwrap() error { return e.Err }

// maxLanes bounds how many ranges are read and hashed side by side.
const maxLanes = 4

// openLanes is how many lanes readAt starts with; the others open on
// demand. A variable so that tests can open them all at once.
var openLanes = 1

// A sequencer reports verified ranges to Options.Verified in map order,
// even when lanes verify them out of order.
type sequencer struct {
	ranges []bmap.Range
	done   []bool
	next   int
	report func(bmap.Range)
}

func newSequencer(m *bmap.Map, opt Options) *sequencer {
	if m == nil || opt.Verified == nil {
		return nil
	}
	return &sequencer{ranges: m.Ranges, done: make([]bool, len(m.Ranges)), report: opt.Verified}
}

// verify marks range i verified and reports, in order, the verified ranges
// that no unverified range precedes. Ranges without a checksum are never
// reported and hold no others back.
func (s *sequencer) verify(i int) {
	if s == nil {
		return
	}
	s.done[i] = true
	for s.next < len(s.ranges) && (s.done[s.next] || len(s.ranges[s.next].Checksum) == 0) {
		if s.done[s.next] {
			s.report(s.ranges[s.next])
		}
		s.next++
	}
}

// send passes a chunk on to the next stage, unless ctx is done.
func send(ctx context.Context, ch chan<- chunk, ck chunk) error {
	select {
	case ch <- ck:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// read is the first stage: it fills buffers with the ranges' bytes.
func (c *copier) read(free chan []byte, out chan<- chunk) error {
	var pos int64 // image bytes consumed from src
	seeker, _ := c.src.(io.Seeker)
	// pending is an error that came with the last bytes of a full read,
	// kept for the next read (a source need not repeat it).
	var pending error
	// readFull is io.ReadFull that publishes the position after every
	// Read, so progress moves even while a slow stream fills a buffer.
	readFull := func(p []byte) (int, error) {
		t := time.Now()
		defer func() { c.stats.ReadTime += time.Since(t) }()
		n := 0
		for n < len(p) {
			// A slow stream takes long to fill a buffer: stop between
			// reads once the copy is cancelled (a signal, a failed stage).
			if c.stop.Err() != nil {
				return n, context.Cause(c.stop)
			}
			if err := pending; err != nil {
				pending = nil
				if err == io.EOF && n > 0 {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
			m, err := c.src.Read(p[n:])
			n += m
			pos += int64(m)
			c.opt.Progress.ImageBytes.Store(pos)
			if err != nil {
				switch {
				case n == len(p):
					pending = err
					return n, nil
				case err == io.EOF && n > 0:
					return n, io.ErrUnexpectedEOF
				}
				return n, err
			}
		}
		return n, nil
	}
	getBuf := func() ([]byte, error) {
		select {
		case b := <-free:
			return b, nil
		case <-c.stop.Done():
			return nil, context.Cause(c.stop)
		}
	}

	if ext, ok := c.src.(ExtentSource); ok && c.m == nil {
		return c.readExtents(ext, getBuf, readFull, &pos, out, free)
	}
	if c.m == nil { // no bmap: everything until EOF
		for {
			buf, err := getBuf()
			if err != nil {
				return err
			}
			off := pos
			n, err := readFull(buf)
			if n > 0 {
				if err := send(c.stop, out, chunk{buf: buf[:n], pool: buf, off: off, last: true}); err != nil {
					return err
				}
			} else {
				free <- buf
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				c.stats.ImageBytes = pos
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading the image at byte %d: %w", pos, err)
			}
		}
	}

	// skip moves the source to image offset to, over a hole.
	skip := func(to int64) error {
		if to < pos {
			return fmt.Errorf("%w: need byte %d after reading up to byte %d", ErrOrder, to, pos)
		}
		if to == pos {
			return nil
		}
		if seeker != nil {
			if _, err := seeker.Seek(to, io.SeekStart); err != nil {
				return fmt.Errorf("seeking the image to byte %d: %w", to, err)
			}
			pos = to
			c.opt.Progress.ImageBytes.Store(pos)
			return nil
		}
		if d, ok := c.src.(Discarder); ok && pending == nil {
			for pos < to {
				if err := c.stop.Err(); err != nil {
					return context.Cause(c.stop)
				}
				t := time.Now()
				n, err := d.Discard(int(min(to-pos, discardStep)))
				c.stats.ReadTime += time.Since(t)
				pos += int64(n)
				c.opt.Progress.ImageBytes.Store(pos)
				switch {
				case err == nil:
				case pos == to:
					// The skip reached its target, and the source said
					// something with the last byte: io.EOF if the image
					// ends here (the next read finds out whether that is
					// early), else an error for the next read to report.
					pending = err
				default:
					return c.readError(err, pos)
				}
			}
			return nil
		}
		buf, err := getBuf()
		if err != nil {
			return err
		}
		defer func() { free <- buf }()
		for pos < to {
			if err := c.stop.Err(); err != nil {
				return context.Cause(c.stop)
			}
			n := int64(len(buf))
			if to-pos < n {
				n = to - pos
			}
			if _, err := readFull(buf[:n]); err != nil {
				return c.readError(err, pos)
			}
		}
		return nil
	}

	m := c.m
	for i, r := range m.Ranges {
		off, end := m.Offset(r), m.Offset(r)+m.Length(r)
		if err := skip(off); err != nil {
			return err
		}
		for off < end {
			buf, err := getBuf()
			if err != nil {
				return err
			}
			n := int64(len(buf))
			if end-off < n {
				n = end - off
			}
			if _, err := readFull(buf[:n]); err != nil {
				free <- buf
				return c.readError(err, pos)
			}
			if err := send(c.stop, out, chunk{buf: buf[:n], pool: buf, off: off, rng: i, last: off+n == end}); err != nil {
				return err
			}
			off += n
		}
	}

	// The image must end exactly at ImageSize.
	if err := skip(m.ImageSize); err != nil {
		return err
	}
	var one [1]byte
	n, err := readFull(one[:])
	c.stats.ImageBytes = pos - int64(n)
	switch {
	case n > 0:
		return &LongImageError{Want: m.ImageSize}
	case err != io.EOF:
		return fmt.Errorf("reading the image past its end (byte %d, the size in the bmap): %w", m.ImageSize, err)
	}
	return nil
}

// readExtents is the first stage for a source that says where its data is
// (see ExtentSource): each extent is read into buffers and sent on, the
// rest is left to the source to skip.
func (c *copier) readExtents(ext ExtentSource, getBuf func() ([]byte, error), readFull func([]byte) (int, error),
	pos *int64, out chan<- chunk, free chan []byte) error {
	for {
		t := time.Now()
		off, length, err := ext.NextExtent()
		c.stats.ReadTime += time.Since(t)
		if err == io.EOF {
			c.stats.ImageBytes = max(off, *pos)
			c.opt.Progress.ImageBytes.Store(c.stats.ImageBytes)
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the image after byte %d: %w", *pos, err)
		}
		if off < *pos {
			return fmt.Errorf("%w: the next extent starts at byte %d, after reading up to byte %d", ErrOrder, off, *pos)
		}
		*pos = off
		c.opt.Progress.ImageBytes.Store(off)
		for end := off + length; off < end; {
			buf, err := getBuf()
			if err != nil {
				return err
			}
			n := min(int64(len(buf)), end-off)
			if _, err := readFull(buf[:n]); err != nil {
				free <- buf
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("reading the image at byte %d: %w", *pos, err)
			}
			if err := send(c.stop, out, chunk{buf: buf[:n], pool: buf, off: off, last: true}); err != nil {
				return err
			}
			off += n
		}
	}
}

// readAt is the first stage for a random-access source with several lanes:
// lane l reads the ranges given to it, one after the other, and the open
// lanes take turns, a buffer each, so that every lane's hasher has work. A
// lane that finishes a range takes the next one of the map. The source must
// hold exactly ImageSize bytes, which is checked first.
//
// Lanes open on demand, from one: only when hashing is what holds the copy
// back, seen as the writer having nothing to write (hashed is empty) while
// half the buffers wait for a hasher, for at least half of the last twice
// as many buffers sent as there are (more than the first buffers, read
// before any is hashed, can make). Then the destination is faster than
// SHA-256 (1.7 GB/s here: an NVMe disk, a file in the page cache) and
// lanes pay: several ranges hashed at once.
// Otherwise one lane keeps the writes in the image's order: a destination
// slower than hashing gains nothing from lanes, and cheap flash media (SD
// cards, USB sticks) are known to prefer sequential writes. Measured on the
// benchmark image: into tmpfs (fast), lanes from the start 0.86 s, lanes on
// demand 0.93 s, one lane 1.1 s; onto the VM's disk, one lane and lanes
// were within noise (medians of 9: 1.35 against 1.49 s in one run, 1.78
// against 1.71 s in another).
func (c *copier) readAt(ra io.ReaderAt, free chan []byte, outs []chan chunk, hashed <-chan chunk) error {
	m := c.m
	size, err := c.src.(io.Seeker).Seek(0, io.SeekEnd)
	switch {
	case err != nil:
		return fmt.Errorf("finding the image's size: %w", err)
	case size < m.ImageSize:
		return &ShortImageError{Got: size, Want: m.ImageSize}
	case size > m.ImageSize:
		return &LongImageError{Want: m.ImageSize}
	}
	type lane struct {
		rng      int
		off, end int64
		busy     bool
	}
	lanes := make([]lane, len(outs))
	open := min(openLanes, len(lanes))
	window, hashBound := 0, 0 // buffers sent, and those that found hashing behind
	next := 0                 // the next range to give out
	var reached int64
	for {
		active := false
		for l := range lanes[:open] {
			ln := &lanes[l]
			if !ln.busy {
				if next == len(m.Ranges) {
					continue
				}
				r := m.Ranges[next]
				*ln = lane{rng: next, off: m.Offset(r), end: m.Offset(r) + m.Length(r), busy: true}
				next++
			}
			active = true
			var buf []byte
			select {
			case buf = <-free:
			case <-c.stop.Done():
				return context.Cause(c.stop)
			}
			n := min(int64(len(buf)), ln.end-ln.off)
			t := time.Now()
			k, err := ra.ReadAt(buf[:n], ln.off)
			c.stats.ReadTime += time.Since(t)
			if int64(k) < n {
				free <- buf
				if err == nil || err == io.EOF {
					return &ShortImageError{Got: ln.off + int64(k), Want: m.ImageSize}
				}
				return fmt.Errorf("reading the image at byte %d: %w", ln.off+int64(k), err)
			}
			if err := send(c.stop, outs[l], chunk{buf: buf[:n], pool: buf, off: ln.off, rng: ln.rng, last: ln.off+n == ln.end}); err != nil {
				return err
			}
			ln.off += n
			ln.busy = ln.off < ln.end
			if open < len(lanes) {
				waiting := 0 // buffers waiting for a hasher
				for _, ch := range outs[:open] {
					waiting += len(ch)
				}
				if c.writersIdle(hashed) && 2*waiting >= c.opt.Buffers {
					hashBound++
				}
				if window++; window == 2*c.opt.Buffers {
					if hashBound >= c.opt.Buffers {
						open++
					}
					window, hashBound = 0, 0
				}
			}
			if ln.off > reached {
				reached = ln.off
				c.opt.Progress.ImageBytes.Store(reached)
			}
		}
		if !active {
			break
		}
	}

	c.stats.ImageBytes = m.ImageSize
	c.opt.Progress.ImageBytes.Store(m.ImageSize)
	return nil
}

// readError describes err, which stopped the read stage at image byte
// pos: an early end of the image (the source's end, or a decoder's
// io.ErrUnexpectedEOF) before ImageSize is a *ShortImageError.
func (c *copier) readError(err error, pos int64) error {
	if pos < c.m.ImageSize && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
		se := &ShortImageError{Got: pos, Want: c.m.ImageSize}
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			se.Err = err
		}
		return se
	}
	return fmt.Errorf("reading the image at byte %d: %w", pos, err)
}

// hash is the second stage: it checks the checksums of the ranges that
// come through in, one range after the other, and passes every chunk on
// to be written once it is hashed. Several hash goroutines may run, one per
// lane, each with its own ranges. A range that fails its checksum stops
// the read stage; this lane passes on nothing from then on: not the range's
// last chunk, nor any chunk after it.
func (c *copier) hash(in <-chan chunk, out chan<- chunk, free chan<- []byte) {
	var h hash.Hash
	if c.m != nil && !c.opt.NoVerify {
		h = c.m.NewHash()
	}
	var busy time.Duration
	defer func() {
		c.mu.Lock()
		c.stats.HashTime = max(c.stats.HashTime, busy) // lanes overlap: the longest
		c.mu.Unlock()
	}()
	failed := false
	for ck := range in {
		if failed {
			free <- ck.pool
			continue
		}
		if h != nil && len(c.m.Ranges[ck.rng].Checksum) > 0 {
			t := time.Now()
			h.Write(ck.buf)
			if ck.last {
				r := c.m.Ranges[ck.rng]
				got := h.Sum(nil)
				h.Reset()
				if string(got) != string(r.Checksum) {
					free <- ck.pool
					busy += time.Since(t)
					err := &bmap.ChecksumError{Range: r, Offset: c.m.Offset(r), Length: c.m.Length(r), Type: c.m.ChecksumType, Got: got}
					c.mu.Lock()
					if c.hashErr == nil {
						c.hashErr = err
					}
					c.mu.Unlock()
					c.halt(err)
					failed = true
					continue
				}
				c.opt.Progress.VerifiedRanges.Add(1)
				c.mu.Lock()
				c.stats.VerifiedRanges++
				c.verified.verify(ck.rng)
				c.mu.Unlock()
			}
			busy += time.Since(t)
		}
		if err := send(c.ctx, out, ck); err != nil {
			free <- ck.pool
			return
		}
	}
}

// writeLog records which ranges the write stage wrote in full, to say what
// a failed copy left on the destination. Chunks reach the write stage in
// the image's order from one lane; with several lanes, each lane's are in
// order. Every chunk a stage passed on before a read failure or a checksum
// mismatch is written (unless a write fails), and on one lane the read
// stage passes chunks on in the image's order, so what the destination
// holds then depends on the image alone: its mapped ranges up to the
// failure, in full and verified, then those chunks of the range being read
// that were read before (after a checksum mismatch: the bad range's chunks
// but its last), unverified.
type writeLog struct {
	full   int          // ranges [0, full) are written in full
	later  map[int]bool // ranges after full written in full (several lanes)
	inFull int64        // bytes of the ranges written in full
}

// add records chunk ck, written.
func (l *writeLog) add(m *bmap.Map, ck chunk) {
	if !ck.last {
		return
	}
	l.inFull += m.Length(m.Ranges[ck.rng])
	if ck.rng != l.full {
		if l.later == nil {
			l.later = make(map[int]bool)
		}
		l.later[ck.rng] = true
		return
	}
	for l.full++; l.later[l.full]; l.full++ {
		delete(l.later, l.full)
	}
}

// holds says what the destination holds, written bytes having been written
// in all, verified if the ranges' checksums were checked.
func (l *writeLog) holds(m *bmap.Map, written int64, verified bool) string {
	switch {
	case written == 0:
		return "nothing was written to the destination"
	case m == nil:
		return fmt.Sprintf("the destination holds the image's first %d bytes", written)
	}
	checked := ""
	if verified && m.ChecksumType != "" {
		checked = " and verified"
	}
	n := len(m.Ranges)
	if l.full == n {
		return fmt.Sprintf("all %d mapped ranges were written%s", n, checked)
	}
	var b strings.Builder
	if l.full == 0 {
		b.WriteString("the destination holds none of the image's mapped ranges in full")
	} else {
		r := m.Ranges[l.full-1]
		fmt.Fprintf(&b, "the destination holds the image's mapped ranges up to block %d, written%s (%d of %d ranges, up to byte %d)",
			r.Last, checked, l.full, n, m.Offset(r)+m.Length(r)-1)
	}
	next := m.Ranges[l.full]
	first, last := next.First, m.Ranges[n-1].Last
	partial := written - l.inFull // bytes of ranges not written in full
	switch {
	case partial == 0 && len(l.later) == 0:
		fmt.Fprintf(&b, "; blocks %d-%d were not written", first, last)
	case len(l.later) == 0 && partial < m.Length(next):
		// One lane: the start of the next range.
		upTo := first + (partial-1)/m.BlockSize
		fmt.Fprintf(&b, "; blocks %d-%d were written but not verified (the start of blocks %d-%d), blocks %d-%d were not written",
			first, upTo, first, next.Last, upTo+1, last)
	default:
		fmt.Fprintf(&b, "; of blocks %d-%d, %d ranges were written%s in full and %d bytes in part, the rest not at all",
			first, last, len(l.later), checked, partial)
	}
	return b.String()
}
