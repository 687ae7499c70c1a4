package flash

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// A destination is one of the places a copy writes to, with its own write
// goroutine, queue of chunks and record of what it holds.
type destination struct {
	i  int
	w  io.WriterAt
	in chan chunk // the hashed chunks for it to write, in the order hashed

	// Written by its goroutine only; read once it has stopped.
	stats DestStats
	log   writeLog
	// written counts the bytes written, for the progress of the others.
	written atomic.Int64
	// dropped is set when its write failed and the copy went on without it.
	dropped atomic.Bool
}

// newDestinations makes one destination per WriterAt. With one, its queue
// is hashed itself: the hash stage hands it the chunks. With several, each
// has its own queue, filled by fanOut; a queue holds as many chunks as
// there are buffers, so filling one never waits.
func newDestinations(ws []io.WriterAt, hashed chan chunk, buffers int) []*destination {
	dests := make([]*destination, len(ws))
	for i, w := range ws {
		dests[i] = &destination{i: i, w: w, in: hashed}
		if len(ws) > 1 {
			dests[i].in = make(chan chunk, buffers)
		}
	}
	return dests
}

// writeAll is the last stage: every destination's goroutine writes the
// chunks that come through hashed, in the order they come; a buffer goes
// back to the free list once the last destination has written it. The
// slowest destination sets the pace: the others may run ahead of it only
// by the buffers it has yet to write.
func (c *copier) writeAll(hashed <-chan chunk, free chan<- []byte) {
	var writers sync.WaitGroup
	for _, d := range c.dests {
		writers.Add(1)
		go func() { defer writers.Done(); c.write(d, free) }()
	}
	if len(c.dests) > 1 {
		c.fanOut(hashed)
	}
	writers.Wait()

	for _, d := range c.dests {
		st := d.stats
		c.stats.WrittenBytes = max(c.stats.WrittenBytes, st.WrittenBytes)
		c.stats.WrittenBlocks = max(c.stats.WrittenBlocks, st.WrittenBlocks)
		c.stats.WriteTime = max(c.stats.WriteTime, st.WriteTime)
	}
}

// fanOut passes every hashed chunk on to every destination, those dropped
// included (they give it back at once), so that a chunk's count of
// destinations yet to write it never changes once it is set.
func (c *copier) fanOut(hashed <-chan chunk) {
	for ck := range hashed {
		ck.refs = new(atomic.Int32)
		ck.refs.Store(int32(len(c.dests)))
		for _, d := range c.dests {
			d.in <- ck
		}
	}
	for _, d := range c.dests {
		close(d.in)
	}
}

// release gives ck's buffer back to the free list once every destination
// is done with it.
func release(ck chunk, free chan<- []byte) {
	if ck.refs == nil || ck.refs.Add(-1) == 0 {
		free <- ck.pool
	}
}

// writersIdle reports whether no destination has a chunk waiting: hashing
// does not keep up with the slowest of them.
func (c *copier) writersIdle(hashed <-chan chunk) bool {
	if len(hashed) > 0 {
		return false
	}
	for _, d := range c.dests {
		if len(d.in) > 0 {
			return false
		}
	}
	return true
}

// write writes the chunks of d's queue to it. It writes every chunk passed
// on to it, unless its own write failed or the copy was stopped (the
// caller cancelled, or every destination failed).
func (c *copier) write(d *destination, free chan<- []byte) {
	var dp *DestProgress
	if len(c.opt.Progress.Dests) == len(c.dests) {
		dp = &c.opt.Progress.Dests[d.i]
	}
	for ck := range d.in {
		if d.stats.Err != nil || c.ctx.Err() != nil {
			release(ck, free)
			continue // drain, so the other stages can finish
		}
		t := time.Now()
		n, err := d.w.WriteAt(ck.buf, ck.off)
		d.stats.WriteTime += time.Since(t)
		d.stats.WrittenBytes += int64(n)
		d.written.Add(int64(n))
		if dp != nil {
			dp.WrittenBytes.Add(int64(n))
		}
		if err == nil && n < len(ck.buf) {
			err = io.ErrShortWrite
		}
		if err != nil {
			d.stats.Err = fmt.Errorf("writing %d bytes at byte %d of the destination (%d bytes written before): %w",
				len(ck.buf), ck.off, d.stats.WrittenBytes-int64(n), err)
			c.fail(d, dp)
		} else if c.m != nil {
			d.log.add(c.m, ck)
			if ck.last {
				d.stats.WrittenBlocks += c.m.Ranges[ck.rng].Blocks()
			}
		}
		c.publishWritten()
		release(ck, free)
	}
}

// fail drops d, whose write failed (d.stats.Err says how), or stops the
// copy if no other destination is left.
func (c *copier) fail(d *destination, dp *DestProgress) {
	d.dropped.Store(true)
	if dp != nil {
		dp.Dropped.Store(true)
	}
	for _, o := range c.dests {
		if !o.dropped.Load() {
			if c.opt.Dropped != nil {
				c.opt.Dropped(d.i, d.stats)
			}
			return
		}
	}
	c.cancel(d.stats.Err)
}

// publishWritten sets Progress.WrittenBytes to what the slowest
// destination not dropped has written. That only grows (the counters grow,
// and dropping the slowest leaves a faster one), so of the values the
// writers publish at the same time the largest is the latest.
func (c *copier) publishWritten() {
	p := &c.opt.Progress.WrittenBytes
	if len(c.dests) == 1 {
		p.Store(c.dests[0].written.Load())
		return
	}
	least := int64(-1)
	for _, d := range c.dests {
		if !d.dropped.Load() {
			if w := d.written.Load(); least < 0 || w < least {
				least = w
			}
		}
	}
	for {
		old := p.Load()
		if least <= old || p.CompareAndSwap(old, least) {
			return
		}
	}
}

// result is the error CopyTo returns once every stage has stopped, after
// it has set what each destination's is (Stats.Dests): a destination's own
// write failure; else the cause of a cancel (the caller's, or the last
// destination's failure, which says where); else a checksum mismatch or the
// read stage's failure, as a *PartialError that says what the destination
// holds. Since a failure of the read or hash stage lets every chunk passed
// on before it through to every destination left, what each holds is the
// same on every run (see writeLog).
func (c *copier) result() error {
	cause := context.Cause(c.ctx)
	c.mu.Lock()
	shared := c.hashErr
	c.mu.Unlock()
	if shared == nil {
		shared = c.readErr
	}
	c.stats.Dests = make([]DestStats, len(c.dests))
	var dropped, live error
	for i, d := range c.dests {
		st := d.stats
		switch {
		case st.Err != nil:
			dropped = cmpOr(dropped, st.Err)
		case cause != nil:
			st.Err = cause
		case shared != nil:
			st.Err = &PartialError{Err: shared, Held: d.log.holds(c.m, st.WrittenBytes, !c.opt.NoVerify)}
			live = cmpOr(live, st.Err)
		case c.m != nil && st.WrittenBlocks != c.m.MappedBlocksCount:
			st.Err = fmt.Errorf("wrote %d blocks, but the bmap maps %d", st.WrittenBlocks, c.m.MappedBlocksCount)
			live = cmpOr(live, st.Err)
		}
		c.stats.Dests[i] = st
	}
	return cmpOr(cause, live, dropped)
}

// cmpOr returns the first of errs that is not nil.
func cmpOr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
