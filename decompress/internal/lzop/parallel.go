package lzop

import (
	"io"
	"slices"

	"github.com/bmap-tools/bmap/decompress/internal/ordered"
)

// Parallel decoding. Every lzop block decodes alone and carries its own
// checksums, so
//
//   - the split goroutine (ordered.Reader's next) reads block headers and
//     compressed data, doing every check the sequential path does before
//     decoding (header checksums, sizes, the next file's header, trailing
//     data), and groups consecutive blocks into jobs of up to jobBlocks
//     blocks or jobBytes of output;
//   - workers decode a job's blocks back to back into one output buffer
//     and verify their checksums, with the same errors as sequential decoding;
//   - Read serves the outputs in order.
//
// An error the split meets (truncation, a bad header) comes after the
// output of the complete blocks before it; an error in a job (a checksum,
// corrupt data) comes after the output of the jobs before it, so some good
// blocks just before a bad one may not be served. Input and output buffers
// are recycled, and the jobs in flight hold at most about budget bytes.

type parallelConfig struct {
	jobBlocks int   // blocks per job at most
	jobBytes  int   // a job takes no more blocks once its output reaches this
	budget    int64 // bytes (input + output) held by the jobs in flight
}

// 8 lzop blocks (256 KiB each) per job measured best (README.md).
var defaultParallel = parallelConfig{jobBlocks: 8, jobBytes: 2 << 20, budget: 32 << 20}

type parallel struct {
	ord     *ordered.Reader
	cfg     parallelConfig
	pending error       // the split's error, returned once the blocks before it are jobs
	ins     chan []byte // idle input buffers
	outs    chan []byte // idle output buffers
}

// NewReader reads the lzop header from r and returns a Reader that decodes
// the blocks on workers goroutines; with workers <= 1 it decodes them one
// after another on the calling goroutine. Read serves the output in order,
// and an error after the output before it (see the top of parallel.go for
// what is served before a bad block). With several workers the Reader reads
// ahead of its output, by up to about 32 MiB of compressed and decoded
// data; its goroutines read r until Close, the end of the stream or an
// error, so r must not be used meanwhile.
//
// Call Close to stop the goroutines unless Read has returned io.EOF.
func NewReader(r io.Reader, workers int) (*Reader, error) {
	return newParallelReader(r, workers, defaultParallel)
}

func newParallelReader(r io.Reader, workers int, cfg parallelConfig) (*Reader, error) {
	z, err := newSeqReader(r)
	if err != nil || workers <= 1 {
		return z, err
	}
	// Enough idle buffers for the jobs a budget holds (a job holds at
	// least about jobBytes) and the ones being filled or decoded.
	n := int(cfg.budget/int64(cfg.jobBytes)) + workers + 2
	z.par = &parallel{cfg: cfg, ins: make(chan []byte, n), outs: make(chan []byte, n)}
	z.par.ord = ordered.NewReader(z.nextJob, workers, cfg.budget)
	return z, nil
}

// Close stops the goroutines of a parallel Reader and waits for them; it
// does not close the underlying reader. Read fails after Close. It must
// not be called concurrently with Read. For a sequential Reader it does
// nothing.
func (z *Reader) Close() error {
	if z.par != nil {
		z.par.ord.Close()
	}
	return nil
}

// job is a run of consecutive blocks.
type job struct {
	blocks []blockInfo
	in     []byte // their compressed data, back to back
	outLen int    // their decompressed size
}

// nextJob runs on the split goroutine: it reads the next blocks and
// returns them as a job.
func (z *Reader) nextJob() (ordered.Job, error) {
	pr := z.par
	if pr.pending != nil {
		return ordered.Job{}, pr.pending
	}
	j := &job{in: get(pr.ins, 0)}
	for len(j.blocks) < pr.cfg.jobBlocks && j.outLen < pr.cfg.jobBytes {
		bi, err := z.readBlockHeader()
		if err == nil {
			k := len(j.in)
			j.in = slices.Grow(j.in, int(bi.slen))[:k+int(bi.slen)]
			err = z.full(j.in[k:], bi.at, "block")
		}
		if err != nil {
			if len(j.blocks) == 0 {
				put(pr.ins, j.in)
				return ordered.Job{}, err
			}
			pr.pending = err
			break
		}
		j.blocks = append(j.blocks, bi)
		j.outLen += int(bi.dlen)
	}
	return ordered.Job{
		Cost:    int64(cap(j.in) + j.outLen),
		Run:     func() ([]byte, error) { return pr.run(j) },
		Release: func(b []byte) { put(pr.outs, b) },
	}, nil
}

// run decodes a job on a worker.
func (pr *parallel) run(j *job) ([]byte, error) {
	out := get(pr.outs, j.outLen)
	in, o := j.in, 0
	for i := range j.blocks {
		b := &j.blocks[i]
		if err := decodeBlock(b, in[:b.slen], out[o:o+int(b.dlen)]); err != nil {
			put(pr.ins, j.in)
			put(pr.outs, out)
			return nil, err
		}
		in = in[b.slen:]
		o += int(b.dlen)
	}
	put(pr.ins, j.in)
	return out, nil
}

// get returns an idle buffer of n bytes, or a new one.
func get(pool chan []byte, n int) []byte {
	select {
	case b := <-pool:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n)
}

// put makes b idle, unless enough buffers already are or it is unusually
// large (kept, it would make every job that reuses it look that costly).
func put(pool chan []byte, b []byte) {
	if cap(b) > 8<<20 {
		return
	}
	select {
	case pool <- b[:0]:
	default:
	}
}
