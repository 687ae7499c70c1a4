package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/flash"
	"github.com/bmap-tools/bmap/source"
)

// DestResult is what a copy did to one destination.
type DestResult struct {
	Dest string
	Kind flash.Kind
	// Stats is what the copy engine wrote to it.
	Stats flash.DestStats
	// Elapsed is the time from the first write to the end of this
	// destination: synchronized, read back and put in place, or dropped.
	Elapsed time.Duration
	// Err is nil if the destination holds the image. Otherwise it says
	// why not, naming the destination: refused before the copy, dropped
	// when a write failed, or failing to synchronize or read back.
	Err error
}

// Summary is a line about the destination: "/dev/sdb: 1.2 GiB written in
// 10.5s, 117.0 MiB/sec: success", or ending in "failed: " and the error.
func (d DestResult) Summary() string {
	result := "success"
	if d.Err != nil {
		result = "failed: " + d.Err.Error()
	}
	return fmt.Sprintf("%s: %s written in %s, %s/sec: %s", d.Dest, bmap.HumanSize(d.Stats.WrittenBytes), HumanTime(d.Elapsed),
		bmap.HumanSize(int64(float64(d.Stats.WrittenBytes)/max(d.Elapsed.Seconds(), 1e-3))), result)
}

// A DestsError reports the destinations of a copy to several that were
// refused before anything was written (then none was written) or that
// failed. Each Err names its destination.
type DestsError struct {
	Failed  []DestResult
	Total   int  // destinations given
	Refused bool // refused before the copy: nothing was written anywhere
}

func (e *DestsError) Error() string {
	var b strings.Builder
	if e.Refused {
		fmt.Fprintf(&b, "refusing to copy: %d of %d destinations cannot be written, so none was written: ", len(e.Failed), e.Total)
	} else if len(e.Failed) == e.Total {
		fmt.Fprintf(&b, "all %d destinations failed: ", e.Total)
	} else {
		fmt.Fprintf(&b, "%d of %d destinations failed (the others hold the image): ", len(e.Failed), e.Total)
	}
	for i, d := range e.Failed {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.Err.Error())
	}
	return b.String()
}

// Unwrap returns the destinations' errors.
func (e *DestsError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, d := range e.Failed {
		errs[i] = d.Err
	}
	return errs
}

// failures returns nil if no destination failed, the one's error if there
// is one destination, else a *DestsError.
func failures(rs []DestResult, refused bool) error {
	if len(rs) == 1 {
		return rs[0].Err
	}
	e := &DestsError{Total: len(rs), Refused: refused}
	for _, r := range rs {
		if r.Err != nil {
			e.Failed = append(e.Failed, r)
		}
	}
	if len(e.Failed) == 0 {
		return nil
	}
	return e
}

// destinations returns Dest (if not "") and Dests.
func (o *CopyOptions) destinations() []string {
	if o.Dest == "" {
		return o.Dests
	}
	return append([]string{o.Dest}, o.Dests...)
}

// allReadAsZeros reports whether every destination reads as zeros where
// nothing is written (see readsAsZeros).
func allReadAsZeros(dests []string) bool {
	for _, d := range dests {
		if !readsAsZeros(d) {
			return false
		}
	}
	return len(dests) > 0
}

// A destination is one destination of a copy as it goes.
type destination struct {
	name string
	t    *flash.Target // nil until opened
	res  DestResult
	// dropped: a write failed while other destinations went on; set by
	// the copy engine's goroutine, read once it has stopped.
	dropped bool
}

func resultsOf(ds []*destination) []DestResult {
	out := make([]DestResult, len(ds))
	for i, d := range ds {
		out[i] = d.res
	}
	return out
}

func infosOf(ds []*destination) []DestInfo {
	out := make([]DestInfo, len(ds))
	for i, d := range ds {
		out[i] = DestInfo{Dest: d.name, Kind: d.t.Kind()}
	}
	return out
}

// closeAll closes the targets still open: a replaced regular file not
// committed is removed, so its destination keeps its old content.
func closeAll(ds []*destination) {
	for _, d := range ds {
		if d.t != nil {
			d.t.Close()
		}
	}
}

// openDestinations checks every destination (not the image, not given
// twice, allowed by the policy), then opens every one (a block device
// exclusively and only if the image fits). If any is refused, those
// opened are closed, with nothing written, and the error names each
// refusal: with one destination, its own error.
func openDestinations(log Logger, o CopyOptions, img *image, m *bmap.Map) ([]*destination, error) {
	names := o.destinations()
	ds := make([]*destination, len(names))
	for i, name := range names {
		ds[i] = &destination{name: name, res: DestResult{Dest: name}}
	}
	refused := false
	refuse := func(d *destination, err error) {
		d.res.Err, refused = err, true
	}
	paths := make([]string, len(ds))
	for i, d := range ds {
		if j := sameDestination(names[:i], d.name); j >= 0 {
			refuse(d, fmt.Errorf("the destination %s is given twice (also as %s)", d.name, names[j]))
			continue
		}
		if source.SameFile(o.Image, d.name) {
			refuse(d, fmt.Errorf("the destination %s is the image itself", d.name))
			continue
		}
		path, err := checkDestination(log, d.name, o.DestPolicy)
		if err != nil {
			refuse(d, err)
			continue
		}
		paths[i] = path
	}
	if refused {
		return ds, failures(resultsOf(ds), true)
	}
	mapped := int64(-1)
	if m != nil {
		mapped = m.MappedBytes()
	}
	for i, d := range ds {
		t, err := flash.OpenTarget(paths[i], flash.TargetOptions{ImageSize: img.size, MappedBytes: mapped, Offset: o.DestOffset})
		if err != nil {
			refuse(d, fmt.Errorf("cannot open destination file '%s': %w", d.name, err))
			continue
		}
		d.t, d.res.Kind = t, t.Kind()
	}
	if refused {
		closeAll(ds)
		for _, d := range ds {
			d.t = nil
		}
		return ds, failures(resultsOf(ds), true)
	}
	return ds, nil
}

// sameDestination returns the index in names of a destination that is
// name (the same path, or the same file or device by another name), -1 if
// none is.
func sameDestination(names []string, name string) int {
	abs, _ := filepath.Abs(name)
	fi, err := os.Stat(name)
	for i, n := range names {
		if a, _ := filepath.Abs(n); a == abs {
			return i
		}
		if err != nil {
			continue
		}
		if fj, err := os.Stat(n); err == nil && os.SameFile(fi, fj) {
			return i
		}
	}
	return -1
}

// finishAll ends each destination once the copy engine has stopped, all
// at once: synchronized, read back, put in place (a replaced regular
// file), partitions re-read, closed. Each destination's outcome goes in
// its res.
func finishAll(ctx context.Context, op *source.Opener, log Logger, o CopyOptions, ds []*destination, st flash.Stats, m *bmap.Map, start time.Time) {
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.res.Stats = st.Dests[i]
			d.res.Err = finishOne(ctx, op, log, o, d, st.Dests[i].Err, st.ImageBytes, m)
			if !d.dropped { // else Elapsed is until it was dropped
				d.res.Elapsed = time.Since(start)
			}
			d.t = nil
		}()
	}
	wg.Wait()
}

// finishOne ends destination d, which the copy engine left with err.
func finishOne(ctx context.Context, op *source.Opener, log Logger, o CopyOptions, d *destination, err error, imageBytes int64, m *bmap.Map) error {
	t := d.t
	defer t.Close()
	if err == nil {
		err = finish(log, d.name, t, imageBytes)
	} else {
		var pe *flash.PartialError
		if t.Replacing() && errors.As(err, &pe) {
			// The new file is removed: what it held does not matter.
			err = pe.Err
		}
		err = fmt.Errorf("copying %s to %s: %w", source.Redact(o.Image), d.name, err)
	}
	if err == nil && o.Readback {
		err = readBack(ctx, op, log, o, d.name, t, m)
	}
	if err == nil {
		err = t.Commit()
	}
	if err == nil {
		if perr := t.RereadPartitions(); perr != nil {
			log.Warnf("%v", perr)
		}
		if err = t.Close(); err != nil {
			err = fmt.Errorf("closing %s: %w", d.name, err)
		}
		return err
	}
	interrupted := context.Cause(ctx)
	if interrupted != nil && !errors.Is(err, interrupted) {
		err = fmt.Errorf("%w: %w", interrupted, err)
	}
	switch {
	case t.Replacing():
		// The new file is removed when t is closed.
		err = fmt.Errorf("%w; %s was left as it was", err, d.name)
	case interrupted != nil:
		// What was written is flushed, and incomplete.
		t.Finish(-1)
		err = fmt.Errorf("%w; %s holds an incomplete image", err, d.name)
	}
	return err
}
