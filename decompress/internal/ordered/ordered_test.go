package ordered

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// jobs returns a next function for n jobs whose outputs are their index
// repeated, with random sizes and decode times, and the expected stream.
func jobs(n int, seed uint64, live, peak *atomic.Int64, fail int) (func() (Job, error), []byte) {
	rng := rand.New(rand.NewPCG(seed, 0))
	var want []byte
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = rng.IntN(5000)
		want = append(want, bytes.Repeat([]byte{byte(i)}, sizes[i])...)
	}
	i := 0
	return func() (Job, error) {
		if i == n {
			return Job{}, io.EOF
		}
		k := i
		i++
		size := sizes[k]
		return Job{
			Cost: int64(size),
			Run: func() ([]byte, error) {
				v := live.Add(int64(size))
				for {
					p := peak.Load()
					if v <= p || peak.CompareAndSwap(p, v) {
						break
					}
				}
				time.Sleep(time.Duration(size%7) * 100 * time.Microsecond)
				if k == fail {
					return nil, errors.New("bad block")
				}
				return bytes.Repeat([]byte{byte(k)}, size), nil
			},
			Release: func(b []byte) { live.Add(-int64(len(b))) },
		}, nil
	}, want
}

func TestOrder(t *testing.T) {
	for _, workers := range []int{1, 2, 5} {
		var live, peak atomic.Int64
		next, want := jobs(300, uint64(workers), &live, &peak, -1)
		const budget = 20000
		r := NewReader(next, workers, budget)
		got, err := io.ReadAll(iotest.OneByteReader(iotest.HalfReader(r)))
		r.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("workers=%d: ReadAll: %v, equal %v", workers, err, bytes.Equal(got, want))
		}
		if p := peak.Load(); p > budget+5000 {
			t.Errorf("workers=%d: %d bytes in flight, budget %d", workers, p, budget)
		}
	}
}

func TestError(t *testing.T) {
	var live, peak atomic.Int64
	next, want := jobs(100, 1, &live, &peak, 40)
	r := NewReader(next, 3, 10000)
	defer r.Close()
	got, err := io.ReadAll(r)
	if err == nil || err.Error() != "bad block" {
		t.Fatalf("err = %v, want bad block", err)
	}
	// Everything before the failing job was served.
	prefix := 0
	for _, b := range want {
		if b == 40 {
			break
		}
		prefix++
	}
	if !bytes.Equal(got, want[:prefix]) {
		t.Errorf("got %d bytes before the error, want %d", len(got), prefix)
	}
}

func TestCloseEarly(t *testing.T) {
	var live, peak atomic.Int64
	next, _ := jobs(1000, 2, &live, &peak, -1)
	r := NewReader(next, 2, 5000)
	buf := make([]byte, 10)
	r.Read(buf)
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if _, err := r.Read(buf); err == nil {
		t.Error("Read after Close succeeded")
	}
}

func TestHugeJob(t *testing.T) {
	// A job larger than the budget still runs.
	n := 0
	next := func() (Job, error) {
		if n == 3 {
			return Job{}, io.EOF
		}
		n++
		return Job{Cost: 1 << 20, Run: func() ([]byte, error) { return make([]byte, 1<<20), nil }}, nil
	}
	r := NewReader(next, 2, 1000)
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || len(got) != 3<<20 {
		t.Fatalf("ReadAll = %d bytes, %v", len(got), err)
	}
}
