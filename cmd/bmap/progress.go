package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/flash"
	"github.com/bmap-tools/bmap/job"
	"github.com/bmap-tools/bmap/source"
)

// reporter shows a copy's progress: a line redrawn in place on a terminal,
// PROGRESS lines for psplash, and JSON events for machines. It polls the
// engine's counters from its own goroutine, so the copy never waits for it.
// With several destinations, the terminal line and psplash follow the
// slowest of those not dropped, and each destination has its own events.
type reporter struct {
	p          flash.Progress // p.Dests: one per destination
	dests      []string
	mapped     int64             // bytes to write; -1 if unknown
	imageSize  int64             // -1 if unknown
	stream     bool              // the whole image is decoded, holes included
	transfer   source.Transferer // nil for a local image
	start      time.Time
	term       *logger // draws the terminal line under its messages; nil: no line
	prog       string
	psplash    string // FIFO path, "" for none
	events     *jsonEvents
	lastSplash int
	drawn      bool

	stop chan struct{}
	done sync.WaitGroup
}

const tick = 250 * time.Millisecond

func (r *reporter) begin() {
	r.start = time.Now()
	r.lastSplash = -1
	r.stop = make(chan struct{})
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		n := 0
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				n++
				r.update(n%2 == 0)
			}
		}
	}()
}

// end stops the reporting goroutine and clears the terminal line.
func (r *reporter) end(success bool) {
	if r.stop == nil {
		return
	}
	close(r.stop)
	r.done.Wait()
	if success {
		r.splash(100)
	}
	if r.drawn {
		r.term.status("")
	}
}

// update draws one progress step; withEvent also emits a JSON progress
// event per destination (twice a second).
func (r *reporter) update(withEvent bool) {
	written, at := r.p.WrittenBytes.Load(), r.p.ImageBytes.Load()
	elapsed := time.Since(r.start).Seconds()
	percent, eta, rate := r.measure(written, at, elapsed)

	if r.term != nil {
		line := fmt.Sprintf("%s: %s written", r.prog, bmap.HumanSize(written))
		if r.mapped >= 0 {
			line = fmt.Sprintf("%s: %s of %s written (%.0f%%)", r.prog, bmap.HumanSize(written), bmap.HumanSize(r.mapped), percent)
		}
		if len(r.dests) > 1 {
			live, slowest := r.slowest()
			if live == len(r.dests) {
				line += fmt.Sprintf(" to each of %d destinations", live)
			} else {
				line += fmt.Sprintf(" to each of %d destinations left of %d", live, len(r.dests))
			}
			if slowest >= 0 {
				line += ", slowest " + r.dests[slowest]
			}
		}
		if r.stream && r.imageSize > 0 {
			line += fmt.Sprintf(", image %.0f%% read", 100*float64(at)/float64(r.imageSize))
		}
		line += fmt.Sprintf(", %s/s", bmap.HumanSize(int64(rate)))
		if eta >= 0 {
			line += ", ETA " + job.HumanTime(time.Duration(eta*float64(time.Second)))
		}
		r.term.status(line)
		r.drawn = true
	}
	if percent >= 0 {
		r.splash(int(percent))
	}
	if !withEvent || r.events == nil {
		return
	}
	for i, dest := range r.dests {
		w, dropped := written, false
		if len(r.p.Dests) == len(r.dests) && len(r.dests) > 1 {
			w, dropped = r.p.Dests[i].WrittenBytes.Load(), r.p.Dests[i].Dropped.Load()
		}
		percent, eta, rate := r.measure(w, at, elapsed)
		ev := map[string]any{"event": "progress", "destination": dest, "written_bytes": w, "image_offset": at,
			"elapsed_seconds": round3(elapsed), "rate_bytes_per_second": int64(rate)}
		if r.mapped >= 0 {
			ev["mapped_bytes"] = r.mapped
			ev["percent"] = round3(percent)
		}
		if eta >= 0 && !dropped {
			ev["eta_seconds"] = round3(eta)
		}
		if dropped {
			ev["dropped"] = true
		}
		if r.transfer != nil {
			ev["downloaded_bytes"] = r.transfer.Transferred().Bytes
		}
		r.events.emit(ev)
	}
}

// measure returns the percentage of the mapped bytes written (-1 if
// unknown), the seconds left (-1 if unknown) and the rate in bytes per
// second of a destination that has written written bytes, the image read
// up to at, after elapsed seconds.
func (r *reporter) measure(written, at int64, elapsed float64) (percent, eta, rate float64) {
	percent = -1.0
	if r.mapped > 0 {
		percent = float64(written) * 100 / float64(r.mapped)
	}
	// The share of the work done: on a stream every byte of the image is
	// decoded, holes included; on a seekable file only mapped bytes count.
	frac := -1.0
	switch {
	case r.stream && r.imageSize > 0:
		frac = float64(at) / float64(r.imageSize)
	case r.mapped > 0:
		frac = float64(written) / float64(r.mapped)
	}
	eta = -1.0
	if frac > 0.01 && elapsed > 1 {
		eta = elapsed * (1 - frac) / frac
	}
	return percent, eta, float64(written) / max(elapsed, 1e-3)
}

// slowest returns how many destinations are left (not dropped) and which
// of them has written least (-1 if none is left).
func (r *reporter) slowest() (live, slowest int) {
	slowest = -1
	if len(r.p.Dests) != len(r.dests) {
		return len(r.dests), -1
	}
	least := int64(0)
	for i := range r.p.Dests {
		d := &r.p.Dests[i]
		if d.Dropped.Load() {
			continue
		}
		live++
		if w := d.WrittenBytes.Load(); slowest < 0 || w < least {
			slowest, least = i, w
		}
	}
	return live, slowest
}

// splash writes "PROGRESS N" to the psplash FIFO when N changed, without
// blocking: with no reader the open fails and the update is dropped.
func (r *reporter) splash(percent int) {
	if r.psplash == "" || percent == r.lastSplash {
		return
	}
	percent = min(max(percent, 0), 100)
	f, err := os.OpenFile(r.psplash, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	if _, err := fmt.Fprintf(f, "PROGRESS %d\n", percent); err == nil {
		r.lastSplash = percent
	}
	f.Close()
}

// checkPsplash warns, as bmaptool does, when the psplash pipe is missing or
// not a FIFO, and returns the path to use ("" for none).
func checkPsplash(log *logger, path string) string {
	if path == "" {
		return ""
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		log.Warnf("the psplash pipe '%s' is not a FIFO (does psplash run?); progress will not be shown there", path)
		return ""
	}
	return path
}

// jsonEvents writes one JSON object per line; safe for concurrent use.
type jsonEvents struct {
	mu    sync.Mutex
	w     io.Writer
	scrub func(string) string // removes secrets; nil: none
}

func (j *jsonEvents) emit(ev map[string]any) {
	if j == nil {
		return
	}
	ev["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(ev)
	if j.scrub != nil {
		b = []byte(j.scrub(string(b)))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w.Write(append(b, '\n'))
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// endEvents returns the end event of each destination of a copy (dests,
// as given) that returned res and err.
func endEvents(dests []string, res job.CopyResult, err error) []map[string]any {
	if len(dests) == 1 {
		ev := endEvent(res, err)
		ev["destination"] = dests[0]
		return []map[string]any{ev}
	}
	evs := make([]map[string]any, len(dests))
	for i, dest := range dests {
		ev := endEvent(res, err)
		ev["destination"] = dest
		if len(res.Dests) == len(dests) {
			d := res.Dests[i]
			derr := d.Err
			if derr == nil && res.Info.Dests == nil {
				derr = err // never written: the copy did not start
			}
			ev["written_bytes"] = d.Stats.WrittenBytes
			ev["seconds"] = round3(d.Elapsed.Seconds())
			ev["rate_bytes_per_second"] = int64(float64(d.Stats.WrittenBytes) / max(d.Elapsed.Seconds(), 1e-3))
			ev["write_seconds"] = round3(d.Stats.WriteTime.Seconds())
			setResult(ev, derr)
		}
		evs[i] = ev
	}
	return evs
}

func endEvent(res job.CopyResult, err error) map[string]any {
	st, elapsed := res.Stats, res.Elapsed
	network := time.Duration(0)
	if res.Transfer != nil {
		network = res.Transfer.Wait
	}
	_, bottleneck := job.Summary(st, network)
	ev := map[string]any{"event": "end", "written_bytes": st.WrittenBytes, "image_bytes": st.ImageBytes,
		"verified_ranges": st.VerifiedRanges, "seconds": round3(elapsed.Seconds()),
		"rate_bytes_per_second": int64(float64(st.WrittenBytes) / max(elapsed.Seconds(), 1e-3)),
		"read_seconds":          round3(st.ReadTime.Seconds()), "hash_seconds": round3(st.HashTime.Seconds()),
		"write_seconds": round3(st.WriteTime.Seconds()), "bottleneck": bottleneck}
	if res.Transfer != nil {
		ev["downloaded_bytes"] = res.Transfer.Bytes
		ev["network_seconds"] = round3(network.Seconds())
		ev["requests"] = res.Transfer.Requests
		ev["retries"] = res.Transfer.Retries
	}
	setResult(ev, err)
	return ev
}

// setResult sets an end event's result ("success", "failure" or
// "interrupted") and error from err.
func setResult(ev map[string]any, err error) {
	ev["result"] = "success"
	delete(ev, "error")
	if err != nil {
		ev["result"] = "failure"
		if errors.As(err, new(interrupted)) {
			ev["result"] = "interrupted"
		}
		ev["error"] = oneLine(err.Error())
	}
}
