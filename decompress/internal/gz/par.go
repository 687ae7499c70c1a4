package gz

import (
	"bytes"
	"hash/crc32"
	"io"
	mathbits "math/bits"
	"sync"
)

// Parallel decoding (after rapidgzip). pigz ends every 128 KiB of input
// with a sync flush, an empty stored block: 3 header bits, zero bits to a
// byte boundary, then 00 00 FF FF; the next block starts at the next
// byte. Blocks are not independent: matches reach up to 32 KiB back,
// across such boundaries.
//
//	split (1 goroutine): reads the input into chunks of about parChunk
//	  bytes, each ending just after an occurrence of 00 00 FF FF (a
//	  candidate: a sync flush, or the same bytes by chance)
//	═► workers: decode a chunk from its start, not knowing the window:
//	  16-bit output with markers for bytes of the window (wide.go), bytes
//	  once the last 32 KiB hold no marker; the chunk is done when a block
//	  ends exactly at its end
//	═► collector (1 goroutine): in order, with the true window, replaces
//	  the markers, checks the members' trailers and hands the output on
//
// Correctness rests on one invariant: the collector only uses a worker's
// output if the chunk starts where the true decoding is between two
// blocks of a member, with the true window. It holds for the first chunk
// (the start of the input), and for the next one when a chunk's decoding,
// itself valid, ended exactly there at a block boundary. Then the worker
// decoded exactly what a sequential decoder would, from the same bits and
// an equivalent window, whatever the candidate was. When it did not hold
// (the candidate was not a block boundary: the worker overran the chunk's
// end or failed), or the worker could not tell (its 16-bit output full),
// the collector decodes sequentially with the true state (seqDecoder)
// from the chunk's start, reading the following chunks' input, until a
// block ends exactly at the start of a later chunk, whose worker's output
// it uses from there on. Errors are thus only ever reported by the
// sequential decoder. When a worker's byte output is full (a chunk of
// zeros decodes to about 1000 times its size), the collector uses what it
// decoded and goes on sequentially from where it stopped.
//
// Memory: chunks in flight are bounded by a fixed set of slots (of about
// 12 MiB), one per chunk, taken in order by the split and given back once
// the chunk's output has been read: workers+2 of them, at least 3, at
// most what fits in parBudget (4 with the default sizes), besides the
// sequential decoder's 3 buffers of 2 MiB.

// parConfig sizes the parallel decoder's buffers.
type parConfig struct {
	chunk  int // compressed bytes per chunk, aimed at
	maxIn  int // largest chunk input, if no candidate shows up
	out16  int // 16-bit output of a chunk (symbols)
	out    int // byte output of a chunk
	seqIn  int // input buffer of the sequential decoder
	seqOut int // output buffers of the sequential decoder
}

var defaultPar = parConfig{chunk: 1 << 20, maxIn: 2 << 20, out16: 512 << 10, out: 8 << 20, seqIn: 64 << 10, seqOut: 2 << 20}

// syncMark is LEN and NLEN of an empty stored block.
var syncMark = []byte{0, 0, 0xff, 0xff}

// A slot holds the buffers of a chunk in flight.
type slot struct {
	in    []byte
	out16 []uint16
	res   []byte // resolved out16
	d     inflater
}

// slotPool keeps the slots of closed Readers (of defaultPar), so that
// decoding many files does not allocate and clear 50 MiB for each.
var slotPool sync.Pool

func newSlot(cfg parConfig) *slot {
	if cfg == defaultPar {
		if s, ok := slotPool.Get().(*slot); ok {
			return s
		}
	}
	s := &slot{
		in:    make([]byte, cfg.maxIn+padLen),
		out16: make([]uint16, 2*windowSize+cfg.out16+outSlack),
		res:   make([]byte, windowSize+cfg.out16+outSlack),
	}
	s.d.out = make([]byte, windowSize+cfg.out+outSlack)
	s.d.flush = func() error { return errCap }
	return s
}

const (
	jobFailed = iota
	jobOK     // ended exactly at the chunk's end, between blocks
	jobCapped // output full: state kept to go on from
)

// A job is a chunk of input, [start, end) of the compressed stream.
type job struct {
	start, end int64
	in         []byte
	slot       *slot
	first      bool  // starts with the first member's header
	last       bool  // ends at the end of the input
	blind      bool  // start is no candidate: not decoded speculatively
	readErr    error // error of the underlying reader after in
	done       chan struct{}
	released   bool

	status int
	events []memberEnd
	eof    bool // decoding reached the end of the input
}

// memberEnd is a member ending inside a chunk.
type memberEnd struct {
	pos       int // chunk output before the end of the member's data
	crc, size uint32
	next      int64 // compressed offset after the trailer
}

type parDecoder struct {
	cfg    parConfig
	r      io.Reader
	ch     chan<- chunk
	done   <-chan struct{}
	slots  chan *slot // free slots
	unmade int        // slots yet to make (split's)
	queue  chan *job
	work   chan *job

	seq     *seqDecoder
	win     [windowSize]byte
	winLen  int
	pending []*job // taken from queue, not finished; pending[0] is being processed
	rd      int    // index in pending of the job the sequential input is in
	rdOff   int
	rdEOF   bool // the sequential input is at the end
	target  int  // index in pending of the next job to stop at

	// For tests: jobs whose worker output was used (capped ones also
	// count in nCapped), and runs of sequential decoding.
	nApplied, nCapped, nSeq int
}

// parBudget bounds the memory of the slots (chunks in flight).
const parBudget = 64 << 20

// slotSize returns the bytes a slot holds.
func (c parConfig) slotSize() int {
	return c.maxIn + 2*(2*windowSize+c.out16) + windowSize + c.out16 + windowSize + c.out + 4*outSlack
}

func newParDecoder(r io.Reader, ch chan<- chunk, done <-chan struct{}, workers int, cfg parConfig) *parDecoder {
	// One chunk per worker, one being read, one being handed on; at
	// least 3, within the budget (besides the sequential decoder's).
	n := max(3, min(workers+2, (parBudget-3*cfg.seqOut)/cfg.slotSize()))
	p := &parDecoder{cfg: cfg, r: r, ch: ch, done: done,
		slots: make(chan *slot, n),
		queue: make(chan *job, n),
		work:  make(chan *job, n),
		seq:   newSeqDecoder(ch, done, 3, cfg.seqOut),
	}
	p.unmade = n
	return p
}

// recycle, once the goroutines have stopped, keeps the free slots for
// other Readers.
func (p *parDecoder) recycle() {
	if p.cfg != defaultPar {
		return
	}
	for {
		select {
		case s := <-p.slots:
			slotPool.Put(s)
		default:
			return
		}
	}
}

// split cuts the input into jobs.
func (p *parDecoder) split() {
	defer close(p.queue)
	defer close(p.work)
	var carry []byte
	off := int64(0)
	first, blind := true, false
	for {
		s := p.slot()
		if s == nil {
			return
		}
		buf := append(s.in[:0], carry...)
		j := &job{start: off, slot: s, first: first, blind: blind && !first, done: make(chan struct{})}
		first = false
		var err error
		cut, searched := -1, p.cfg.chunk/2
		for cut < 0 && err == nil && len(buf) < p.cfg.maxIn {
			var n int
			lim := p.cfg.chunk
			if len(buf) >= p.cfg.chunk {
				lim = p.cfg.maxIn
			}
			n, err = io.ReadAtLeast(p.r, buf[len(buf):lim], 1)
			buf = buf[:len(buf)+n]
			if len(buf) >= p.cfg.chunk {
				if i := bytes.Index(buf[searched:], syncMark); i >= 0 {
					cut = searched + i + len(syncMark)
				}
				searched = max(searched, len(buf)-len(syncMark)+1)
			}
		}
		switch {
		case err == io.EOF:
			j.last = true
			cut = len(buf)
		case err != nil:
			j.last, j.readErr, j.blind = true, err, true
			cut = len(buf)
		case cut < 0:
			cut = len(buf)
			blind = true // the next chunk starts anywhere
		default:
			blind = false
		}
		carry = append(carry[:0], buf[cut:]...)
		j.in = buf[:cut]
		j.end = off + int64(cut)
		off = j.end
		p.queue <- j // never blocks: as many places as slots
		if j.blind {
			close(j.done)
		} else {
			select {
			case p.work <- j:
			case <-p.done:
				return
			}
		}
		if j.last {
			return
		}
	}
}

// slot returns a free slot, made if fewer than the maximum exist, or nil
// after Close.
func (p *parDecoder) slot() *slot {
	select {
	case s := <-p.slots:
		return s
	default:
	}
	if p.unmade > 0 {
		p.unmade--
		return newSlot(p.cfg)
	}
	select {
	case s := <-p.slots:
		return s
	case <-p.done:
		return nil
	}
}

// worker decodes jobs.
func (p *parDecoder) worker() {
	for j := range p.work {
		j.decode()
		close(j.done)
	}
}

// decode decodes a job speculatively (see the comment at the top).
func (j *job) decode() {
	d := &j.slot.d
	d.setInput(j.in, j.start)
	d.blk, d.pre, d.wideEnd = blkNone, 0, windowSize
	end := j.end * 8
	j.status = jobFailed
	if j.first {
		d.wide, d.op, d.winStart = false, 0, 0
		if e, err := d.atEnd(); e || err != nil || d.header() != nil {
			return
		}
	} else {
		d.startWide(j.slot.out16)
	}
	for {
		final, err := d.block()
		if err != nil {
			if err == errCap && !d.overrun() {
				j.status = jobCapped
			}
			return
		}
		off := d.bitOffset()
		if !final {
			if off == end && !j.last {
				j.status = jobOK
				return
			}
			if off >= end {
				return
			}
			continue
		}
		d.alignByte()
		c, err1 := d.bits(32)
		n, err2 := d.bits(32)
		if err1 != nil || err2 != nil || d.overrun() {
			return
		}
		j.events = append(j.events, memberEnd{pos: d.outLen(), crc: c, size: n, next: d.bitOffset() / 8})
		if e, err := d.atEnd(); err != nil || e {
			if e && j.last {
				j.status, j.eof = jobOK, true
			}
			return
		}
		if d.bitOffset() >= end || d.header() != nil || d.overrun() {
			return
		}
		if d.wide {
			d.narrow(0)
		}
		d.winStart = d.op
		if d.bitOffset() == end && !j.last {
			j.status = jobOK
			return
		}
	}
}

// outLen returns how much a job's decoder has output.
func (d *inflater) outLen() int {
	if d.wide {
		return d.op16 - windowSize
	}
	return d.wideEnd - windowSize + d.op - d.pre
}

// run is the collector: it hands on the output in order and closes ch.
func (p *parDecoder) run() {
	defer close(p.ch)
	p.seq.end(p.collect())
}

func (p *parDecoder) collect() error {
	for {
		if len(p.pending) == 0 {
			j, ok := p.pull()
			if !ok {
				return errClosed
			}
			p.pending = append(p.pending, j)
		}
		j := p.pending[0]
		if !j.blind {
			select {
			case <-j.done:
			case <-p.done:
				return errClosed
			}
		}
		if j.blind || j.status == jobFailed || !p.apply(j) {
			if err := p.sequential(j, false); err != nil {
				return err
			}
			continue
		}
		p.nApplied++
		if j.eof {
			p.seq.send(chunk{inOff: j.end, err: io.EOF})
			return errClosed // nothing more to send
		}
		if j.status == jobOK {
			p.pending = p.pending[1:]
			continue
		}
		p.nCapped++
		if err := p.sequential(j, true); err != nil {
			return err
		}
	}
}

// pull takes the next job from the split.
func (p *parDecoder) pull() (*job, bool) {
	select {
	case j, ok := <-p.queue:
		return j, ok
	case <-p.done:
		return nil, false
	}
}

// apply hands on a job's output if it is valid with the true window and
// the member state, and reports whether it did.
func (p *parDecoder) apply(j *job) bool {
	s := p.seq
	if !s.inMember && !j.first {
		return false
	}
	d := &j.slot.d
	var segs [2][]byte
	if d.wide {
		d.wideEnd = d.op16
	}
	if n := d.wideEnd - windowSize; n > 0 {
		res := j.slot.res[:n]
		lo := uint16(marker + windowSize - p.winLen)
		for i, v := range d.out16[windowSize:d.wideEnd] {
			switch {
			case v < marker:
				res[i] = byte(v)
			case v >= lo:
				res[i] = p.win[v-marker]
			default:
				return false // reaches before the member or the stream
			}
		}
		segs[0] = res
	}
	if !d.wide {
		segs[1] = d.out[d.pre:d.op]
	}
	if d.anyGuess && !p.guessesHold(d) {
		return false
	}
	// Check the trailers before handing anything on.
	crc, size, pos, ev := s.crc, s.size, 0, j.events
	for _, b := range segs {
		for len(ev) > 0 && ev[0].pos <= pos+len(b) {
			k := ev[0].pos - pos
			crc = crc32.Update(crc, crc32.IEEETable, b[:k])
			if crc != ev[0].crc || size+uint32(k) != ev[0].size {
				return false
			}
			crc, size, pos, b, ev = 0, 0, pos+k, b[k:], ev[1:]
		}
		crc = crc32.Update(crc, crc32.IEEETable, b)
		size += uint32(len(b))
		pos += len(b)
	}
	// Take the new window, then hand on (after which the slot may be
	// reused).
	s.crc, s.size = crc, size
	if len(j.events) > 0 {
		last := j.events[len(j.events)-1]
		s.memberOff = last.next
		p.winLen = 0
		if !j.eof {
			s.inMember, s.first = true, false
		} else {
			s.inMember = false
		}
		// The window starts after the member's end.
		skip := last.pos
		for _, b := range segs {
			k := min(skip, len(b))
			p.pushWindow(b[k:])
			skip -= k
		}
	} else {
		s.inMember, s.first = true, false
		for _, b := range segs {
			p.pushWindow(b)
		}
	}
	if len(segs[0]) > 0 && !s.send(chunk{data: segs[0], inOff: j.start}) {
		return true // closed: collect notices
	}
	c := chunk{data: segs[1], inOff: j.end}
	if j.status == jobOK {
		c.release = p.releaser(j)
	} // else sequential gives it back
	if !s.send(c) {
		return true
	}
	return true
}

// guessesHold tells whether the window bytes narrowGuess took for zeros
// are zeros of the current member.
func (p *parDecoder) guessesHold(d *inflater) bool {
	for w, bits := range d.guessed {
		for ; bits != 0; bits &= bits - 1 {
			i := w*64 + mathbits.TrailingZeros64(bits)
			if i < windowSize-p.winLen || p.win[i] != 0 {
				return false
			}
		}
	}
	return true
}

// pushWindow appends b to the window.
func (p *parDecoder) pushWindow(b []byte) {
	if len(b) >= windowSize {
		copy(p.win[:], b[len(b)-windowSize:])
	} else {
		copy(p.win[:], p.win[len(b):])
		copy(p.win[windowSize-len(b):], b)
	}
	p.winLen = min(windowSize, p.winLen+len(b))
}

// releaser returns a function giving a job's slot back.
func (p *parDecoder) releaser(j *job) func() {
	return func() { p.slots <- j.slot }
}

// release gives back the slot of a job whose output is not used, once
// its worker is done with it.
func (p *parDecoder) release(j *job) {
	if j.released {
		return
	}
	j.released = true
	if !j.blind {
		<-j.done
	}
	p.slots <- j.slot
}

// sequential decodes with the true state from job j's start (or, if
// resume, from where its worker stopped, after its output was applied)
// until a block ends exactly at the start of a later job, which is left
// first in pending; or to the end or an error, which is returned.
func (p *parDecoder) sequential(j *job, resume bool) error {
	s := p.seq
	d := &s.d
	p.nSeq++
	p.rd, p.rdOff, p.rdEOF, p.target = 0, 0, false, 1
	d.blk = blkNone
	if resume {
		d.takeState(&j.slot.d)
		p.rd, p.rdOff, p.rdEOF = 1, 0, j.last
		d.switchSource(p, p.cfg.seqIn)
		// Its output is being read: the slot goes back once it is served.
		j.released = true
		if !s.send(chunk{release: p.releaser(j), inOff: j.end}) {
			return errClosed
		}
	} else {
		d.setSource(p, p.cfg.seqIn)
		d.inBase = j.start
	}
	s.setWindow(p.win[windowSize-p.winLen:])
	err := s.decode(p.stop)
	if err != nil {
		return err
	}
	// Stopped at pending[p.target]: hand on the output so far, take the
	// window and give back the jobs before.
	if err := s.flush(); err != nil {
		return err
	}
	w := s.window()
	p.winLen = 0
	p.pushWindow(w)
	for _, k := range p.pending[:p.target] {
		p.release(k)
	}
	p.pending = p.pending[p.target:]
	return nil
}

// stop tells whether the sequential decoding, at a block boundary, is at
// the start of the next job it can take over from.
func (p *parDecoder) stop() bool {
	off := p.seq.d.bitOffset()
	for {
		for p.target >= len(p.pending) {
			j, ok := p.pull()
			if !ok {
				return false
			}
			p.pending = append(p.pending, j)
		}
		t := p.pending[p.target]
		switch {
		case off < t.start*8:
			return false
		case off == t.start*8 && !t.blind && !t.released:
			return true
		}
		p.target++
	}
}

// Read serves the sequential decoding the input of the pending jobs, from
// pending[rd], releasing those it has passed (not needed to stop at).
func (p *parDecoder) Read(b []byte) (int, error) {
	for {
		if p.rdEOF {
			return 0, io.EOF
		}
		for p.rd >= len(p.pending) {
			j, ok := p.pull()
			if !ok {
				return 0, io.ErrUnexpectedEOF // closed, or no job after a non-last one
			}
			p.pending = append(p.pending, j)
		}
		j := p.pending[p.rd]
		if p.rdOff < len(j.in) {
			n := copy(b, j.in[p.rdOff:])
			p.rdOff += n
			return n, nil
		}
		if j.readErr != nil {
			return 0, j.readErr
		}
		if j.last {
			return 0, io.EOF
		}
		p.release(j) // passed: stopping at it is no longer possible
		p.rd++
		p.rdOff = 0
	}
}
