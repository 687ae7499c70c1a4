package bzip2

// The inverse Burrows-Wheeler transform. With F the sorted bytes of the
// block (the first column of the sorted rotations) and L the last column
// (what the block stores), the k-th occurrence of a byte in L is its k-th
// occurrence in F. So the byte counts give, for the rotation in each row,
// the row of the rotation one byte later: following these links from the
// row of the original string spells the block.
//
// The links fill a table of 3.6 MB for a level-9 block, and each step of
// the walk depends on the previous one, so a step costs a cache (and TLB)
// miss, and the walk was most of dsnet's time on real images. Two walks
// at once (forward from the original row and backward from the block's
// end) gained little. So the walk is cut into many short chains that run
// interleaved, 12 at a time, for memory-level parallelism (the figures are
// in README.md):
//
//   - every row whose index is a multiple of 512, and the original row,
//     starts a chain; the table entry of each row that links to a start
//     is flagged, so a chain stops there;
//   - 12 lanes take chains from a queue and write their bytes to their own
//     region of a scratch buffer, recording for each chain where its bytes
//     are and at which start it ended;
//   - the block is then stitched together from the original row's chain,
//     following the chain ends, with plain copies.
//
// The links of a block whose string is periodic ("abab") form several
// cycles; the stitching then goes round the original row's cycle as often
// as the walk would, and the chains of the other cycles are wasted work.
// A chain too long for its lane's region (only in freak blocks) is
// finished alone in an overflow area.

const (
	segShift  = 9 // a chain starts at every 512th row
	segMask   = 1<<segShift - 1
	lanes     = 12       // (walk's loop is unrolled for 12)
	laneSlack = 16 << 10 // region bytes past a lane's share
	idleLen   = 4 << 10  // scratch bytes an idle lane writes over and over
	flagBit   = 1 << 8   // in a table entry: the next row starts a chain
	rowShift  = 12       // a table entry is row<<rowShift | flagBit | byte
	// Blocks shorter than this are walked in one chain: their table is
	// small enough to stay in the caches.
	minLanesLen = 32 << 10
)

// A chainRec locates one chain's bytes in the scratch buffer.
type chainRec struct {
	off, n int32
	end    uint32 // the chain start it ran into
}

type bwt struct {
	// Per row: the next row << rowShift | flagBit if that row starts a
	// chain | the next row's L byte. As an array of 2^20 entries (more
	// than the 900,001 rows a block can need) it is indexed by
	// entry>>rowShift without a bounds check.
	tt      *[1 << (32 - rowShift)]uint32
	scratch []byte
	recs    []chainRec
	region  int // lane region bytes, if not the default (for tests)
}

// invert replaces ll, the last column, by the block it encodes; counts
// holds the number of each byte value in ll.
func (b *bwt) invert(ll []byte, counts *[256]uint32, orig uint32) {
	n := len(ll)
	if b.tt == nil {
		b.tt = new([1 << (32 - rowShift)]uint32)
	}
	tt := b.tt
	var cf [256]uint32
	sum := uint32(0)
	for c, k := range counts {
		cf[c] = sum
		sum += k
	}
	for i, c := range ll {
		j := cf[c]
		cf[c] = j + 1
		// Flag row i if it starts a chain: if x or y is 0.
		x, y := uint32(i)&segMask, uint32(i)^orig
		f := ((x - 1) | (y - 1)) >> 31
		tt[j%(1<<(32-rowShift))] = uint32(i)<<rowShift | f<<8 | uint32(c)
	}
	if n < minLanesLen {
		v := orig << rowShift
		for k := range ll {
			v = tt[v>>rowShift]
			ll[k] = byte(v)
		}
		return
	}
	b.walk(ll, orig)
}

// walk runs the chains in lanes and stitches the block into ll.
func (b *bwt) walk(ll []byte, orig uint32) {
	n := len(ll)
	tt := b.tt
	tt[n] = uint32(n) << rowShift // the sink: an idle lane spins here
	nreg := (n + segMask) >> segShift
	if cap(b.recs) < nreg+1 {
		b.recs = make([]chainRec, nreg+1)
	}
	recs := b.recs[:nreg+1]
	id := func(r uint32) int {
		if r&segMask == 0 {
			return int(r >> segShift)
		}
		return nreg // orig
	}
	queue := 0 // starts taken: rows 0, 512, ..., then orig if it is not one
	nstarts := nreg
	if orig&segMask != 0 {
		nstarts++
	}
	take := func() (uint32, bool) {
		if queue >= nstarts {
			return 0, false
		}
		queue++
		if queue > nreg {
			return orig, true
		}
		return uint32(queue-1) << segShift, true
	}

	R := (n+lanes-1)/lanes + laneSlack
	if b.region > 0 {
		R = b.region
	}
	idle := lanes * R // idle lanes' areas
	if size := idle + lanes*idleLen; cap(b.scratch) < size {
		b.scratch = make([]byte, size, size+size/8)
	}
	sc := b.scratch[:idle+lanes*idleLen]

	// Lane k's state: e[k], the table entry it last read, holds its
	// current row; it writes at w[k], up to lim[k], for chain cid[k]
	// (-1 when idle) which started at start[k].
	var (
		e                  [lanes]uint32
		w, lim, start, cid [lanes]int
	)
	rest := func(k int) {
		e[k], cid[k] = uint32(n)<<rowShift, -1
		w[k] = idle + k*idleLen
		lim[k] = w[k] + idleLen
	}
	begin := func(k int) bool {
		s, ok := take()
		if !ok {
			rest(k)
			return false
		}
		e[k], start[k], cid[k] = s<<rowShift, w[k], id(s)
		return true
	}
	// alone finishes the chain c from row r, whose first bytes are
	// sc[from:to], in an overflow area after the others.
	alone := func(c int, from, to int, r uint32) {
		off := len(sc)
		sc = append(sc, sc[from:to]...)
		v := r << rowShift
		for {
			v = tt[v>>rowShift]
			sc = append(sc, byte(v))
			if v&flagBit != 0 {
				break
			}
			if len(sc)-off > n { // a chain is part of a cycle through its start
				panic("bzip2: inverse BWT chain does not end")
			}
		}
		recs[c] = chainRec{int32(off), int32(len(sc) - off), v >> rowShift}
	}
	live := 0
	for k := range lanes {
		w[k], lim[k] = k*R, k*R+R
		if begin(k) {
			live++
		}
	}
	for live > 0 {
		steps := lim[0] - w[0]
		for k := 1; k < lanes; k++ {
			steps = min(steps, lim[k]-w[k])
		}
		// The lanes unrolled, their state in locals: the loop carries no
		// dependency but each lane's own chain of loads.
		e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11 := e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], e[9], e[10], e[11]
		w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11]
		s := 0
		for s < steps {
			v0 := tt[e0>>rowShift]
			v1 := tt[e1>>rowShift]
			v2 := tt[e2>>rowShift]
			v3 := tt[e3>>rowShift]
			v4 := tt[e4>>rowShift]
			v5 := tt[e5>>rowShift]
			v6 := tt[e6>>rowShift]
			v7 := tt[e7>>rowShift]
			v8 := tt[e8>>rowShift]
			v9 := tt[e9>>rowShift]
			v10 := tt[e10>>rowShift]
			v11 := tt[e11>>rowShift]
			sc[w0+s] = byte(v0)
			sc[w1+s] = byte(v1)
			sc[w2+s] = byte(v2)
			sc[w3+s] = byte(v3)
			sc[w4+s] = byte(v4)
			sc[w5+s] = byte(v5)
			sc[w6+s] = byte(v6)
			sc[w7+s] = byte(v7)
			sc[w8+s] = byte(v8)
			sc[w9+s] = byte(v9)
			sc[w10+s] = byte(v10)
			sc[w11+s] = byte(v11)
			s++
			e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11 = v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11
			if (v0|v1|v2|v3|v4|v5|v6|v7|v8|v9|v10|v11)&flagBit != 0 {
				break
			}
		}
		e = [lanes]uint32{e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11}
		for k := range lanes {
			w[k] += s
		}
		for k := range lanes {
			switch {
			case cid[k] < 0: // idle
				if w[k] == lim[k] {
					w[k] -= idleLen
				}
			case e[k]&flagBit != 0: // the chain ends
				recs[cid[k]] = chainRec{int32(start[k]), int32(w[k] - start[k]), e[k] >> rowShift}
				if !begin(k) {
					live--
				}
			case w[k] == lim[k]: // region full
				alone(cid[k], start[k], w[k], e[k]>>rowShift)
				rest(k)
				live--
			}
		}
	}
	for { // chains left when all regions filled up
		s, ok := take()
		if !ok {
			break
		}
		alone(id(s), 0, 0, s)
	}
	b.scratch = sc[:0]

	o := 0
	for s := orig; o < n; {
		c := recs[id(s)]
		o += copy(ll[o:], sc[c.off:c.off+c.n])
		s = c.end
	}
}
