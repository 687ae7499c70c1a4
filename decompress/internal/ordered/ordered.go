// Package ordered decodes independent pieces of a stream (bzip2 blocks, xz
// blocks, lzop blocks) on several goroutines and serves their output in
// the original order, as one io.Reader.
//
//	split (1 goroutine): next() cuts the input into Jobs, in order
//	   ═► work (N goroutines): job.Run() decodes, independently
//	   ═► Read: outputs served in the order next() made them
//
// Memory is bounded by bytes, not by job count: a job holds Cost bytes
// (its input and output) from the moment next() returns it until Read has
// served all of its output, and the split goroutine waits while the jobs in
// flight hold more than the budget. One job larger than the whole budget
// still runs, alone. Codecs whose pieces vary from kilobytes to hundreds of
// megabytes (xz -9 writes 192 MiB blocks) stay within bounds either way.
package ordered

import (
	"context"
	"errors"
	"io"
	"sync"
)

// A Job is one independent piece of work.
type Job struct {
	// Cost is how many bytes the job holds while in flight.
	Cost int64
	// Run decodes the piece; it runs on a worker goroutine.
	Run func() ([]byte, error)
	// Release, if not nil, is called with Run's output once Read has
	// served all of it (to recycle buffers).
	Release func([]byte)
}

type result struct {
	done    chan struct{}
	out     []byte
	err     error
	cost    int64
	release func([]byte)
}

// Reader serves the outputs of jobs in order.
type Reader struct {
	ctx    context.Context
	cancel context.CancelFunc
	order  chan *result
	wg     sync.WaitGroup

	mu       sync.Mutex
	cond     *sync.Cond
	inFlight int64
	budget   int64

	cur *result // being served
	off int
	err error
}

// NewReader starts workers goroutines (at least 1) that run the jobs
// next returns until it returns an error; io.EOF ends the stream cleanly,
// any other error is returned by Read after the outputs before it.
func NewReader(next func() (Job, error), workers int, budget int64) *Reader {
	workers = max(workers, 1)
	r := &Reader{order: make(chan *result, 4*workers), budget: budget}
	r.cond = sync.NewCond(&r.mu)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	work := make(chan func(), workers)
	for range workers {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for f := range work {
				f()
			}
		}()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(r.order)
		defer close(work)
		for {
			job, err := next()
			if err != nil {
				res := &result{done: make(chan struct{}), err: err}
				close(res.done)
				r.push(res)
				return
			}
			if !r.acquire(job.Cost) {
				return
			}
			res := &result{done: make(chan struct{}), cost: job.Cost, release: job.Release}
			if !r.push(res) {
				r.releaseCost(job.Cost)
				return
			}
			select {
			case work <- func() {
				res.out, res.err = job.Run()
				close(res.done)
			}:
			case <-r.ctx.Done():
				return
			}
		}
	}()
	return r
}

func (r *Reader) push(res *result) bool {
	select {
	case r.order <- res:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// acquire waits until cost fits the budget (or nothing is in flight).
func (r *Reader) acquire(cost int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.inFlight > 0 && r.inFlight+cost > r.budget && r.ctx.Err() == nil {
		r.cond.Wait()
	}
	if r.ctx.Err() != nil {
		return false
	}
	r.inFlight += cost
	return true
}

func (r *Reader) releaseCost(cost int64) {
	r.mu.Lock()
	r.inFlight -= cost
	r.mu.Unlock()
	r.cond.Broadcast()
}

// Read serves the jobs' outputs in order.
func (r *Reader) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.cur == nil {
			res, ok := <-r.order
			if !ok {
				r.err = errClosed
				break
			}
			<-res.done
			if res.err != nil {
				r.err = res.err
				break
			}
			r.cur, r.off = res, 0
		}
		if r.off < len(r.cur.out) {
			n := copy(p, r.cur.out[r.off:])
			r.off += n
			if r.off == len(r.cur.out) {
				r.finish()
			}
			return n, nil
		}
		r.finish()
	}
	return 0, r.err
}

func (r *Reader) finish() {
	if r.cur.release != nil {
		r.cur.release(r.cur.out)
	}
	r.releaseCost(r.cur.cost)
	r.cur = nil
}

var errClosed = errors.New("ordered: read after Close")

// Close stops the goroutines and waits for them. It does not wait for a
// Run in progress to be read, but for it to return.
func (r *Reader) Close() error {
	r.mu.Lock() // so a split checking the context in acquire cannot miss the wake-up
	r.cancel()
	r.mu.Unlock()
	r.cond.Broadcast()
	go func() { // let a split blocked on a full order channel go
		for range r.order {
		}
	}()
	r.wg.Wait()
	if r.err == nil {
		r.err = errClosed
	}
	return nil
}

var _ io.ReadCloser = (*Reader)(nil)
