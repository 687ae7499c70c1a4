package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/decompress"
	"github.com/bmap-tools/bmap/flash"
	"github.com/bmap-tools/bmap/source"
)

// CopyOptions is what Copy writes where, and how.
type CopyOptions struct {
	// Image is the image's name: a path, or "-" for Opener.Stdin.
	Image string
	// Dest is the destination: a block device, a character device such
	// as /dev/null, or a regular file (replaced by a sparse copy).
	Dest string
	// Dests are destinations written at once, after Dest if it is not
	// "": the image is read, decompressed and verified once, and every
	// destination gets its own writer (see Copy).
	Dests []string
	// Bmap is the bmap's name; "" looks beside the image as bmaptool
	// does (see source.BmapCandidates).
	Bmap string
	// NoBmap copies the whole image, without a bmap.
	NoBmap bool
	// Signature says how the bmap's signature is checked.
	Signature Signature
	// NoVerify skips the ranges' checksums (the bmap's own checksum is
	// always checked).
	NoVerify bool
	// Every destination must meet this policy.
	DestPolicy
	// DestOffset is where the image starts in each destination, in bytes (a
	// bootloader at 8 KiB; a partition's image inside a whole-disk file,
	// which is then written in place).
	DestOffset int64
	// Readback reads every mapped range back from each destination, past
	// the page cache, and checks it; Retries writes ranges that read back
	// wrong again, up to Retries times.
	Readback bool
	Retries  int

	// Opener opens the image and the bmap; nil opens local paths only.
	Opener *source.Opener
	// Log receives the messages for people; nil: none.
	Log Logger
	// Progress, if not nil, is updated during the copy; another goroutine
	// may poll it.
	Progress *flash.Progress
	// Hooks are called as the copy goes.
	Hooks Hooks
}

// Hooks let a caller follow a copy. Each may be nil.
type Hooks struct {
	// Started is called when everything was checked and the destination
	// is open, just before the first write.
	Started func(CopyInfo)
	// Verified is called with each range whose checksum matched, in map
	// order, from the hashing goroutine. It must be quick.
	Verified func(m *bmap.Map, r bmap.Range)
	// Written is called when the copy engine has stopped, before the
	// destinations are synchronized and read back.
	Written func(flash.Stats, error)
	// Dropped is called when a destination fails while others are still
	// being written (see Copy), from the goroutine that wrote it. It must
	// be quick.
	Dropped func(dest string, err error)
}

// CopyInfo describes a copy about to start.
type CopyInfo struct {
	Image, Bmap, Dest string // Bmap is "" without a bmap; Dest is the first destination
	DestKind          flash.Kind
	// Dests are all the destinations, Dest first.
	Dests  []DestInfo
	Format decompress.Kind
	// ImageSize is the image's size in bytes, -1 if unknown until read
	// (--nobmap from a stream).
	ImageSize int64
	// Map is the bmap in use; nil only when the size is unknown.
	Map *bmap.Map
	// Stream: the image is read in order, holes included (a decoder or a
	// pipe), rather than its ranges only.
	Stream bool
	Verify bool // the ranges' checksums are checked
	// Sparse: the image is an Android sparse image (maybe compressed as
	// Format says), written as the image it describes.
	Sparse bool
	// Transfer counts what is fetched over the network; nil for a local
	// image. Another goroutine may poll it during the copy.
	Transfer source.Transferer
}

// FormatName names the image's format: "raw", "gzip", "tar+xz", "simg",
// "zstd+simg".
func (i CopyInfo) FormatName() string {
	img := image{kind: i.Format, sparse: i.Sparse}
	return img.format()
}

// MappedBytes returns the bytes to write, -1 if unknown.
func (i CopyInfo) MappedBytes() int64 {
	if i.Map == nil {
		return -1
	}
	return i.Map.MappedBytes()
}

// DestInfo names a destination and says what it is.
type DestInfo struct {
	Dest string
	Kind flash.Kind
}

// CopyResult is what a copy did.
type CopyResult struct {
	Info    CopyInfo
	Stats   flash.Stats
	Elapsed time.Duration
	// Dests says what became of each destination, in the order given,
	// once they were known: also when they were refused before the copy.
	Dests []DestResult
	// Transfer is what was fetched over the network for the image (its
	// bmap and signature aside); nil for a local image.
	Transfer *source.TransferStats
}

// networkWait is how long the copy waited for the network.
func (r CopyResult) networkWait() time.Duration {
	if r.Transfer == nil {
		return 0
	}
	return r.Transfer.Wait
}

// Check refuses options that contradict each other.
func (o *CopyOptions) Check() error {
	switch {
	case o.NoBmap && o.Bmap != "":
		return &OptionError{"--nobmap and --bmap cannot be used together", true}
	case o.NoBmap && o.Signature.Path != "":
		return &OptionError{Msg: "--bmap-sig needs a bmap, but --nobmap was given"}
	case o.Readback && o.NoBmap:
		return &OptionError{Msg: "--verify-readback needs a bmap with checksums, but --nobmap was given"}
	case o.Retries < 0:
		return &OptionError{Msg: fmt.Sprintf("--retries %d: want 0 or more", o.Retries)}
	case o.Retries > 0 && !o.Readback:
		return &OptionError{Msg: "--retries needs --verify-readback"}
	case o.DestOffset < 0:
		return &OptionError{Msg: fmt.Sprintf("--dest-offset %d: want 0 or more", o.DestOffset)}
	case len(o.destinations()) == 0:
		return &OptionError{Msg: "no destination given"}
	}
	return o.Signature.Check()
}

// Copy writes an image to a destination through its bmap. Everything that
// can be checked is checked before the destination is opened: the bmap
// (found, read, its signature and its own checksum verified, parsed), the
// image (opened, its format detected, a raw file's size compared with the
// bmap) and the destination (in use, read-only, removable). A refused or
// broken input leaves the destination untouched.
//
// With several destinations, each is checked and opened before any is
// written; if one is refused, none is written, and the error (a
// *DestsError) names each refusal. Then the image is read once and written
// to all of them at once (see flash.CopyTo), each by its own goroutine;
// each is then synchronized, read back and put in place on its own. A
// destination that fails is dropped (Hooks.Dropped) and the others go on;
// Copy then returns a *DestsError naming those that failed, and
// CopyResult.Dests says what became of each.
func Copy(ctx context.Context, o CopyOptions) (res CopyResult, err error) {
	if err := o.Check(); err != nil {
		return res, err
	}
	log := orQuiet(o.Log)
	op := o.Opener
	if op == nil {
		op = &source.Opener{}
	}
	// A sparse image's zero fills need not be written to a regular file
	// that is made anew: it reads as zeros already.
	sparseHow := openHow{zeroFillIsHole: o.DestOffset == 0 && allReadAsZeros(o.destinations())}
	// 1. The bmap.
	var m *bmap.Map
	var img *image
	bmapName := ""
	if !o.NoBmap {
		if bmapName, err = findBmap(ctx, op, log, o.Image, o.Bmap); err != nil {
			if !errors.Is(err, ErrNoBmap) {
				return res, err
			}
			// No bmap: an Android sparse image is its own map. (And a
			// missing image is named before its missing bmap.)
			var ierr error
			if img, ierr = openImage(ctx, op, log, o.Image, nil, sparseHow); ierr != nil {
				return res, ierr
			}
			if !img.sparse {
				img.Close()
				return res, err
			}
			bmapName, err = "", nil
		}
	}
	if bmapName != "" {
		if source.SameFile(o.Image, bmapName) {
			return res, fmt.Errorf("the bmap %s is the image itself: make sure you are writing your image and not the bmap file (you specified the same path for them)", source.Redact(bmapName))
		}
		if m, err = loadBmap(ctx, op, log, bmapName, o.Signature); err != nil {
			return res, err
		}
		if o.Readback && m.ChecksumType == "" {
			return res, fmt.Errorf("--verify-readback needs a bmap with checksums, but %s (version %s) has none", source.Redact(bmapName), m.Version)
		}
		log.Infof("block map format version %s", m.Version)
		log.Infof("%d blocks of size %d (%s), mapped %d blocks (%s or %.1f%%)",
			m.BlocksCount, m.BlockSize, bmap.HumanSize(m.ImageSize), m.MappedBlocksCount,
			bmap.HumanSize(m.MappedBlocksCount*m.BlockSize), float64(m.MappedBlocksCount)*100/float64(m.BlocksCount))
	}

	// 2. The image.
	if img == nil {
		if img, err = openImage(ctx, op, log, o.Image, m, sparseHow); err != nil {
			return res, err
		}
	}
	defer img.Close()
	switch {
	case m == nil && img.sparse:
		// Its own map: read up front, or chunk by chunk as the copy goes.
		m = img.sparseMap
		if o.Readback {
			return res, fmt.Errorf("--verify-readback needs a bmap with checksums, and the Android sparse image %s has none: give its bmap with --bmap", source.Redact(o.Image))
		}
		log.Infof("no bmap given: %s is an Android sparse image, its chunks say what to write", source.Base(o.Image))
	case m == nil && img.size >= 0:
		m = bmap.Whole(img.size, wholeBlockSize)
	}

	// 3. The destinations, now that everything that could be checked was.
	dests, err := openDestinations(log, o, img, m)
	res.Dests = resultsOf(dests)
	defer closeAll(dests)
	if err != nil {
		return res, err
	}
	for _, d := range dests {
		t := d.t
		switch {
		case img.sparse && bmapName == "":
			log.Infof("copying image '%s' to %s '%s' using its Android sparse image chunks", source.Base(o.Image), t.Kind(), d.name)
		case o.NoBmap:
			log.Infof("no bmap given, copy entire image to '%s' (%s)", d.name, t.Kind())
		default:
			log.Infof("copying image '%s' to %s '%s' using bmap file '%s'", source.Base(o.Image), t.Kind(), d.name, source.Base(bmapName))
		}
		if o.DestOffset > 0 {
			log.Infof("the image starts at byte %d (%s) of '%s'", o.DestOffset, bmap.HumanSize(o.DestOffset), d.name)
		}
	}
	res.Info = CopyInfo{Image: source.Redact(o.Image), Bmap: source.Redact(bmapName), Dest: dests[0].name, DestKind: dests[0].t.Kind(),
		Dests: infosOf(dests), Format: img.kind, Sparse: img.sparse,
		ImageSize: img.size, Map: m, Stream: img.stream, Verify: !o.NoVerify, Transfer: img.transfer}
	if o.Hooks.Started != nil {
		o.Hooks.Started(res.Info)
	}

	// 4. The copy, then for each destination sync, read back and
	// partition table.
	start := time.Now()
	var verified func(bmap.Range)
	if o.Hooks.Verified != nil && m != nil {
		verified = func(r bmap.Range) { o.Hooks.Verified(m, r) }
	}
	ws := make([]io.WriterAt, len(dests))
	for i, d := range dests {
		ws[i] = d.t
	}
	fo := flash.Options{NoVerify: o.NoVerify, Progress: o.Progress, Verified: verified}
	if len(dests) > 1 {
		fo.Dropped = func(i int, st flash.DestStats) {
			d := dests[i]
			d.dropped, d.res.Elapsed = true, time.Since(start)
			log.Warnf("dropping '%s' after %s written: %v; the others go on", d.name, bmap.HumanSize(st.WrittenBytes), st.Err)
			if o.Hooks.Dropped != nil {
				o.Hooks.Dropped(d.name, st.Err)
			}
		}
	}
	res.Stats, err = flash.CopyTo(ctx, ws, img.src, m, fo)
	if img.transfer != nil {
		ts := img.transfer.Transferred()
		res.Transfer = &ts
	}
	if o.Hooks.Written != nil {
		o.Hooks.Written(res.Stats, err)
	}
	img.logNotes(log) // after Written, which ends a progress line
	finishAll(ctx, op, log, o, dests, res.Stats, m, start)
	res.Elapsed = time.Since(start)
	res.Dests = resultsOf(dests)
	if len(dests) == 1 {
		if err := dests[0].res.Err; err != nil {
			return res, err
		}
		log.Infof("copying time: %s, copying speed %s/sec", HumanTime(res.Elapsed),
			bmap.HumanSize(int64(float64(res.Stats.WrittenBytes)/max(res.Elapsed.Seconds(), 1e-3))))
	} else {
		for _, d := range res.Dests {
			log.Infof("%s", d.Summary())
		}
	}
	if res.Transfer != nil {
		log.Infof("downloaded %s in %d requests (%d retried) for %s of image data", bmap.HumanSize(res.Transfer.Bytes),
			res.Transfer.Requests, res.Transfer.Retries, bmap.HumanSize(res.Stats.WrittenBytes))
	}
	if err := failures(res.Dests, false); err != nil {
		return res, err
	}
	text, bottleneck := Summary(res.Stats, res.networkWait())
	log.Infof("%s: %s was the bottleneck", text, bottleneck)
	return res, nil
}

// readsAsZeros reports whether the destination will read as zeros where
// nothing is written: a regular file, which is made anew (see
// flash.OpenTarget), or a path where none exists yet.
func readsAsZeros(dest string) bool {
	fi, err := os.Stat(dest)
	return errors.Is(err, os.ErrNotExist) || err == nil && fi.Mode().IsRegular()
}

// wholeBlockSize is the block size of the map of an image copied without a
// bmap, as bmaptool uses.
const wholeBlockSize = 4096

// finish makes what was written durable: sized (a file) and synced.
func finish(log Logger, dest string, t *flash.Target, size int64) error {
	if t.Kind() != flash.CharDevice {
		log.Infof("synchronizing '%s'", dest)
	}
	return t.Finish(size)
}

// readBack re-reads every mapped range from the destination, past the page
// cache, and compares it with the bmap. With Retries, ranges that read back
// wrong are written again from a freshly opened image and checked again.
func readBack(ctx context.Context, op *source.Opener, log Logger, o CopyOptions, dest string, t *flash.Target, m *bmap.Map) error {
	for attempt := 0; ; attempt++ {
		log.Infof("reading back and verifying %s of '%s'", bmap.HumanSize(m.MappedBytes()), dest)
		r, err := flash.OpenDirectReader(t.Path())
		if err != nil {
			return fmt.Errorf("cannot read back %s: %w", dest, err)
		}
		bad, err := m.Verify(ctx, io.NewSectionReader(r, t.Offset(), m.ImageSize), 0)
		r.Close()
		if err != nil {
			return fmt.Errorf("reading back %s: %w", dest, err)
		}
		if len(bad) == 0 {
			log.Infof("read back %d ranges of '%s': all match the bmap", len(m.Ranges), dest)
			return nil
		}
		desc := DescribeRanges(m, bad)
		if attempt == o.Retries {
			return fmt.Errorf("read-back verification of %s failed: %d of %d ranges differ from the bmap: %s; the device returns data other than what was written (failing media?)",
				dest, len(bad), len(m.Ranges), desc)
		}
		if o.Image == source.Stdin {
			return fmt.Errorf("read-back verification of %s failed (%s), and the image came from stdin, so it cannot be read again to retry", dest, desc)
		}
		log.Warnf("%d ranges of '%s' read back wrong (%s); writing them again (retry %d of %d)", len(bad), dest, desc, attempt+1, o.Retries)
		img, err := openImage(ctx, op, quiet{}, o.Image, m, openHow{})
		if err != nil {
			return err
		}
		_, err = flash.Copy(ctx, t, img.src, m.Subset(bad), flash.Options{})
		img.Close()
		if err == nil {
			err = finish(log, dest, t, m.ImageSize)
		}
		if err != nil {
			return fmt.Errorf("rewriting %s: %w", dest, err)
		}
	}
}

// DescribeRanges names up to 5 ranges as "blocks A-B (bytes X-Y)".
func DescribeRanges(m *bmap.Map, rs []bmap.Range) string {
	var parts []string
	for i, r := range rs {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(rs)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("blocks %d-%d (bytes %d-%d)", r.First, r.Last, m.Offset(r), m.Offset(r)+m.Length(r)-1))
	}
	return strings.Join(parts, ", ")
}

// HumanTime formats a duration as bmaptool does: "[Nh ][Nm ]S.Ss".
func HumanTime(d time.Duration) string {
	s := d.Seconds()
	h, m := int(s)/3600, int(s)%3600/60
	s -= float64(h*3600 + m*60)
	out := ""
	if h > 0 {
		out = fmt.Sprintf("%dh ", h)
	}
	if m > 0 {
		out += fmt.Sprintf("%dm ", m)
	}
	return out + fmt.Sprintf("%.1fs", s)
}

// Summary describes where a copy's time went and names the bottleneck:
// "downloading" (the network), "reading and decompressing" (the
// compression), "hashing" (the CPU) or "writing" (the device). network
// is how long reading waited for the network (0 for a local image); it
// is taken out of the reading time, so for a compressed image that is
// decoded beside its download both are approximate.
func Summary(st flash.Stats, network time.Duration) (text, bottleneck string) {
	type stage struct {
		name string
		d    time.Duration
	}
	stages := []stage{{"reading and decompressing", max(0, st.ReadTime-network)}, {"hashing", st.HashTime}, {"writing", st.WriteTime}}
	if network > 0 {
		stages = append([]stage{{"downloading", network}}, stages...)
	}
	slowest := stages[0]
	for _, s := range stages[1:] {
		if s.d > slowest.d {
			slowest = s
		}
	}
	text = fmt.Sprintf("time spent reading and decompressing %s, hashing %s, writing %s",
		HumanTime(stages[len(stages)-3].d), HumanTime(st.HashTime), HumanTime(st.WriteTime))
	if network > 0 {
		text = fmt.Sprintf("time spent downloading %s, ", HumanTime(network)) + text[len("time spent "):]
	}
	return text, slowest.name
}
