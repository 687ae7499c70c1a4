package job

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/bmap-tools/bmap/blockdev"
	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/flash"
	"github.com/bmap-tools/bmap/source"
)

// VerifyOptions is what Verify checks against what.
type VerifyOptions struct {
	// Target is a block device or an image file.
	Target string
	// Bmap is the bmap's name; "" looks beside Target as Copy looks
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

// Verify reads every mapped range of a target, past the page cache, and
// compares it with the bmap's checksums; the bmap's signature is checked
// as Copy checks it. Ranges that differ give a *MismatchError.
func Verify(ctx context.Context, o VerifyOptions) error {
	if err := o.Signature.Check(); err != nil {
		return err
	}
	log := orQuiet(o.Log)
	op := o.Opener
	if op == nil {
		op = &source.Opener{}
	}
	name, err := findBmap(ctx, op, log, o.Target, o.Bmap)
	if errors.Is(err, ErrNoBmap) {
		return &OptionError{Msg: fmt.Sprintf("no bmap found for %s: give one with --bmap", o.Target)}
	}
	if err != nil {
		return err
	}
	m, err := loadBmap(ctx, op, log, name, o.Signature)
	if err != nil {
		return err
	}
	shown := source.Redact(name)
	if m.ChecksumType == "" {
		return fmt.Errorf("bmap %s (version %s) has no checksums to verify against", shown, m.Version)
	}
	fi, err := os.Stat(o.Target)
	if err != nil {
		return fmt.Errorf("cannot verify: %w", err)
	}
	size := fi.Size()
	if fi.Mode()&os.ModeDevice != 0 {
		d, err := blockdev.Inspect(o.Target)
		if err != nil {
			return err
		}
		size = d.Size
	}
	if size < m.ImageSize {
		return fmt.Errorf("%s is %d bytes, smaller than the %d-byte image the bmap %s describes", o.Target, size, m.ImageSize, shown)
	}
	r, err := flash.OpenDirectReader(o.Target)
	if err != nil {
		return fmt.Errorf("cannot verify: %w", err)
	}
	defer r.Close()
	log.Infof("verifying %s in %d ranges of '%s' against '%s'", bmap.HumanSize(m.MappedBytes()), len(m.Ranges), o.Target, shown)
	bad, err := m.Verify(ctx, r, 0)
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.Target, err)
	}
	if len(bad) > 0 {
		return &MismatchError{Target: o.Target, Bmap: shown, Map: m, Bad: bad}
	}
	log.Infof("all %d ranges of '%s' match the bmap", len(m.Ranges), o.Target)
	return nil
}
