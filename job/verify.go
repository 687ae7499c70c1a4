package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/bmap-tools/bmap/blockdev"
	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/flash"
	"github.com/bmap-tools/bmap/source"
)

// VerifyOptions is what Verify checks against what.
type VerifyOptions struct {
	// Target is a block device or an image file.
	Target string
	// Targets are more targets, checked after Target (if not "") against
	// the same bmap, all at once.
	Targets []string
	// Bmap is the bmap's name; "" looks beside each target as Copy looks
	// beside an image.
	Bmap      string
	Signature Signature
	Opener    *source.Opener
	Log       Logger
}

// A MismatchError reports ranges of a target that differ from its bmap.
type MismatchError struct {
	Target, Bmap string
	Map          *bmap.Map
	Bad          []bmap.Range
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s does not match the bmap %s: %d of %d ranges differ: %s",
		e.Target, e.Bmap, len(e.Bad), len(e.Map.Ranges), DescribeRanges(e.Map, e.Bad))
}

// A TargetsError reports the targets of a Verify of several that do not
// match their bmap or could not be read; each error names its target.
type TargetsError struct {
	Failed []error
	Total  int
}

func (e *TargetsError) Error() string {
	msgs := make([]string, len(e.Failed))
	for i, err := range e.Failed {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("%d of %d targets failed verification: %s", len(e.Failed), e.Total, strings.Join(msgs, "; "))
}

// Unwrap returns the targets' errors.
func (e *TargetsError) Unwrap() []error { return e.Failed }

// Verify reads every mapped range of each target, past the page cache, and
// compares it with the bmap's checksums; the bmap's signature is checked
// as Copy checks it. Ranges that differ give a *MismatchError. Several
// targets are read at once, and those that fail give a *TargetsError.
func Verify(ctx context.Context, o VerifyOptions) error {
	if err := o.Signature.Check(); err != nil {
		return err
	}
	targets := o.Targets
	if o.Target != "" {
		targets = append([]string{o.Target}, targets...)
	}
	if len(targets) == 0 {
		return &OptionError{Msg: "no target given"}
	}
	log := orQuiet(o.Log)
	if o.Opener == nil {
		o.Opener = &source.Opener{}
	}
	var b *loadedBmap
	if o.Bmap != "" || len(targets) == 1 {
		// One bmap for every target: read and checked once.
		var err error
		if b, err = loadVerifyBmap(ctx, o, log, targets[0]); err != nil {
			return err
		}
	}
	if len(targets) == 1 {
		return verifyOne(ctx, o, log, targets[0], b)
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = verifyOne(ctx, o, log, t, b) }()
	}
	wg.Wait()
	e := &TargetsError{Total: len(targets)}
	for _, err := range errs {
		if err != nil {
			e.Failed = append(e.Failed, err)
		}
	}
	if len(e.Failed) == 0 {
		return nil
	}
	return e
}

// A loadedBmap is a bmap read, checked and parsed, with its name as shown.
type loadedBmap struct {
	m     *bmap.Map
	shown string
}

// loadVerifyBmap finds (o.Bmap, or beside target), reads and checks the
// bmap to verify target against.
func loadVerifyBmap(ctx context.Context, o VerifyOptions, log Logger, target string) (*loadedBmap, error) {
	name, err := findBmap(ctx, o.Opener, log, target, o.Bmap)
	if errors.Is(err, ErrNoBmap) {
		return nil, &OptionError{Msg: fmt.Sprintf("no bmap found for %s: give one with --bmap", target)}
	}
	if err != nil {
		return nil, err
	}
	m, err := loadBmap(ctx, o.Opener, log, name, o.Signature)
	if err != nil {
		return nil, err
	}
	shown := source.Redact(name)
	if m.ChecksumType == "" {
		return nil, fmt.Errorf("bmap %s (version %s) has no checksums to verify against", shown, m.Version)
	}
	return &loadedBmap{m: m, shown: shown}, nil
}

// verifyOne verifies one target against b, or if b is nil against the
// bmap beside it.
func verifyOne(ctx context.Context, o VerifyOptions, log Logger, target string, b *loadedBmap) error {
	if b == nil {
		var err error
		if b, err = loadVerifyBmap(ctx, o, log, target); err != nil {
			return err
		}
	}
	m, shown := b.m, b.shown
	fi, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("cannot verify: %w", err)
	}
	size := fi.Size()
	if fi.Mode()&os.ModeDevice != 0 {
		d, err := blockdev.Inspect(target)
		if err != nil {
			return err
		}
		size = d.Size
	}
	if size < m.ImageSize {
		return fmt.Errorf("%s is %d bytes, smaller than the %d-byte image the bmap %s describes", target, size, m.ImageSize, shown)
	}
	r, err := flash.OpenDirectReader(target)
	if err != nil {
		return fmt.Errorf("cannot verify: %w", err)
	}
	defer r.Close()
	log.Infof("verifying %s in %d ranges of '%s' against '%s'", bmap.HumanSize(m.MappedBytes()), len(m.Ranges), target, shown)
	bad, err := m.Verify(ctx, r, 0)
	if err != nil {
		return fmt.Errorf("reading %s: %w", target, err)
	}
	if len(bad) > 0 {
		return &MismatchError{Target: target, Bmap: shown, Map: m, Bad: bad}
	}
	log.Infof("all %d ranges of '%s' match the bmap", len(m.Ranges), target)
	return nil
}
