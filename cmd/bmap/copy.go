package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/decompress"
	"github.com/bmap-tools/bmap/flash"
	"github.com/bmap-tools/bmap/verify"
	"github.com/urfave/cli/v2"
)

func copyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "write an image to a block device or file, only its mapped blocks, verified",
		ArgsUsage: "IMAGE DEST",
		Description: "IMAGE is a path or - for stdin, raw or compressed (gz, bz2, xz, lzma, zst, lz4, lzo, zip, tar.*),\n" +
			"detected by content. Without --bmap, the bmap is looked for beside IMAGE: IMAGE.bmap, then\n" +
			"with one extension after another removed (a.img.gz: a.img.gz.bmap, a.img.bmap, a.bmap).\n" +
			"DEST is a block device, a character device such as /dev/null, or a regular file, which is\n" +
			"replaced by a sparse copy of the image.",
		Flags: commandFlags(append(bmapFlags(),
			&cli.BoolFlag{Name: "nobmap", Usage: "copy the whole image, without a bmap"},
			&cli.BoolFlag{Name: "no-verify", Usage: "do not verify the checksums of the mapped ranges"},
			&cli.StringFlag{Name: "psplash-pipe", Usage: "write progress to the psplash `FIFO`"},
			&cli.BoolFlag{Name: "removable-device", Usage: "refuse a DEST that is not a removable block device"},
			&cli.BoolFlag{Name: "verify-readback", Usage: "after writing, read every mapped range back from DEST, past the cache, and check it"},
			&cli.IntFlag{Name: "retries", Usage: "with --verify-readback, write ranges that read back wrong again, up to `N` times"},
			&cli.BoolFlag{Name: "force", Usage: "write DEST even if it, a partition on it or a device built on it is used as swap or held open (a mounted device is still refused by the kernel; the root filesystem's disk always is)"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress output: auto (a line on a terminal), none, or json (one event per line, for CI)"},
			&cli.IntFlag{Name: "progress-fd", Value: 2, Usage: "write --progress json events to file descriptor `N`"},
		)...),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if err := setupLog(c, e); err != nil {
				return err
			}
			o, err := copyOptionsFrom(c)
			if err != nil {
				return err
			}
			return runCopy(c, e, o)
		},
	}
}

// bmapFlags are the options that choose a bmap and check its signature,
// shared by copy and verify.
func bmapFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bmap", Usage: "the block map `FILE` (may be compressed)"},
		&cli.StringFlag{Name: "bmap-sig", Usage: "detached OpenPGP signature `FILE` of the bmap"},
		&cli.BoolFlag{Name: "no-sig-verify", Usage: "do not verify the bmap's signature"},
		&cli.StringFlag{Name: "keyring", Usage: "verify the signature with the keys in `FILE` (default: the GnuPG keyring)"},
		&cli.StringFlag{Name: "fingerprint", Usage: "accept only a signature by the key with this `FPR`"},
	}
}

type copyOptions struct {
	image, dest          string
	bmapPath, sigPath    string
	noBmap, noSigVerify  bool
	keyring, fingerprint string
	noVerify, removable  bool
	psplashPipe          string
	progress             string
	progressFD           int
	force                bool
	readback             bool
	retries              int
}

func copyOptionsFrom(c *cli.Context) (copyOptions, error) {
	if c.NArg() != 2 {
		return copyOptions{}, usagef("copy takes IMAGE and DEST arguments, got %d", c.NArg())
	}
	o := copyOptions{
		image: c.Args().Get(0), dest: c.Args().Get(1),
		bmapPath: c.String("bmap"), sigPath: c.String("bmap-sig"),
		noBmap: c.Bool("nobmap"), noSigVerify: c.Bool("no-sig-verify"),
		keyring: c.String("keyring"), fingerprint: c.String("fingerprint"),
		noVerify: c.Bool("no-verify"), removable: c.Bool("removable-device"),
		psplashPipe: c.String("psplash-pipe"),
		progress:    c.String("progress"), progressFD: c.Int("progress-fd"),
		force: c.Bool("force"), readback: c.Bool("verify-readback"), retries: c.Int("retries"),
	}
	switch {
	case o.progress != "auto" && o.progress != "none" && o.progress != "json":
		return o, usagef("--progress %q: want auto, none or json", o.progress)
	case o.noBmap && o.bmapPath != "":
		return o, conflictf("--nobmap and --bmap cannot be used together")
	case o.noBmap && o.sigPath != "":
		return o, usagef("--bmap-sig needs a bmap, but --nobmap was given")
	case o.readback && o.noBmap:
		return o, usagef("--verify-readback needs a bmap with checksums, but --nobmap was given")
	case o.retries < 0:
		return o, usagef("--retries %d: want 0 or more", o.retries)
	case o.retries > 0 && !o.readback:
		return o, usagef("--retries needs --verify-readback")
	}
	return o, checkSigOptions(o)
}

// checkSigOptions refuses signature options that contradict each other,
// and a --fingerprint that cannot match any key, for copy and verify alike.
func checkSigOptions(o copyOptions) error {
	switch {
	case o.sigPath != "" && o.noSigVerify:
		return conflictf("--bmap-sig and --no-sig-verify cannot be used together")
	case o.noSigVerify && o.keyring != "":
		return conflictf("--no-sig-verify and --keyring cannot be used together")
	case o.noSigVerify && o.fingerprint != "":
		return conflictf("--no-sig-verify and --fingerprint cannot be used together")
	}
	if o.fingerprint != "" {
		if _, err := verify.NormalizeFingerprint(o.fingerprint); err != nil {
			return usagef("--fingerprint %q is not a full key fingerprint (40 or 64 hex digits; short key ids are refused)", o.fingerprint)
		}
	}
	return nil
}

// runCopy checks everything it can before it opens the destination: the
// bmap (found, read, its checksum and signature verified, parsed), the image
// (opened, its format detected, a raw image's size compared with the bmap).
func runCopy(c *cli.Context, e *env, o copyOptions) (err error) {
	log := e.log
	rep := &reporter{prog: log.prog}
	var events *jsonEvents
	switch o.progress {
	case "json":
		w := io.Writer(e.stderr)
		if o.progressFD != 2 {
			f := os.NewFile(uintptr(o.progressFD), "progress")
			if _, err := f.Stat(); err != nil { // not open: the events would be lost silently
				return usagef("--progress-fd %d: file descriptor %d is not open", o.progressFD, o.progressFD)
			}
			w = f
		}
		events = &jsonEvents{w: w}
		rep.events = events
		if o.progressFD == 2 {
			log.quiet = true // keep stderr parseable: events and the error line only
		}
	case "auto":
		if f, ok := e.stderr.(*os.File); ok && !log.quiet && !log.debug && isTerminal(f) {
			rep.term = e.stderr
		}
	}
	rep.psplash = checkPsplash(log, o.psplashPipe)
	ended := false
	defer func() {
		if !ended && err != nil {
			events.emit(map[string]any{"event": "end", "result": "failure", "error": oneLine(err.Error())})
		}
	}()
	// 1. The bmap: found, read, signature and checksum verified, parsed.
	var m *bmap.Map
	bmapUsed := o.bmapPath
	if !o.noBmap {
		if bmapUsed == "" {
			bmapUsed = discoverBmap(o.image)
			if bmapUsed == "" {
				if o.image == "-" {
					return usagef("reading the image from stdin: give its bmap with --bmap, or use --nobmap to flash without a bmap")
				}
				return fmt.Errorf("no bmap file found for %s (tried %s); give one with --bmap, or use --nobmap to flash without a bmap",
					o.image, strings.Join(bmapCandidates(o.image), ", "))
			}
			log.Infof("discovered bmap file '%s'", bmapUsed)
		}
		if same, _ := sameFile(o.image, bmapUsed); same {
			return fmt.Errorf("the bmap %s is the image itself: make sure you are writing your image and not the bmap file", bmapUsed)
		}
		var err error
		if m, err = loadBmap(e, bmapUsed, o); err != nil {
			return err
		}
		if o.readback && m.ChecksumType == "" {
			return fmt.Errorf("--verify-readback needs a bmap with checksums, but %s (version %s) has none", bmapUsed, m.Version)
		}
		log.Infof("block map format version %s", m.Version)
		log.Infof("%d blocks of size %d (%s), mapped %d blocks (%s or %.1f%%)",
			m.BlocksCount, m.BlockSize, bmap.HumanSize(m.ImageSize), m.MappedBlocksCount,
			bmap.HumanSize(m.MappedBlocksCount*m.BlockSize), float64(m.MappedBlocksCount)*100/float64(m.BlocksCount))
	}

	// 2. The image: opened, its format detected, a raw file's size checked.
	img, err := openImage(e, o.image, m)
	if err != nil {
		return err
	}
	defer img.Close()
	if m == nil && img.size >= 0 {
		m = bmap.Whole(img.size, 4096)
	}

	// 3. The destination, now that everything that could be checked was.
	if same, _ := sameFile(o.image, o.dest); same {
		return fmt.Errorf("the destination %s is the image itself", o.dest)
	}
	dest, err := checkDestination(e, o)
	if err != nil {
		return err
	}
	t, err := flash.OpenTarget(dest, img.size)
	if err != nil {
		return fmt.Errorf("cannot open destination: %w", err)
	}
	defer t.Close()
	if !o.noBmap {
		log.Infof("copying image '%s' to %s '%s' using bmap file '%s'", filepath.Base(o.image), t.Kind(), o.dest, filepath.Base(bmapUsed))
	} else {
		log.Infof("copying image '%s' to %s '%s' without a bmap", filepath.Base(o.image), t.Kind(), o.dest)
	}

	rep.mapped, rep.imageSize = -1, img.size
	if m != nil {
		rep.mapped = m.MappedBytes()
	}
	_, seekable := img.src.(io.Seeker)
	rep.stream = !seekable
	events.emit(map[string]any{"event": "start", "image": o.image, "bmap": bmapUsed, "destination": o.dest,
		"destination_kind": t.Kind().String(), "format": img.kind.String(), "image_size": rep.imageSize,
		"mapped_bytes": rep.mapped, "block_size": blockSize(m), "verify": !o.noVerify})

	// 4. The copy, then sync, read back and partition table.
	start := time.Now()
	rep.begin()
	stats, err := flash.Copy(c.Context, t, img.src, m, flash.Options{NoVerify: o.noVerify, Progress: &rep.p, Verified: events.rangeVerified(m)})
	// End the progress line before finish logs "synchronizing", which
	// would otherwise be printed at the end of the line.
	rep.end(err == nil)
	if err == nil {
		err = finish(e, o, t, stats.ImageBytes)
	} else {
		err = fmt.Errorf("copying %s to %s: %w", o.image, o.dest, err)
	}
	if err == nil && o.readback {
		err = readBack(c.Context, e, o, t, m)
	}
	if err == nil {
		if perr := t.RereadPartitions(); perr != nil {
			log.Warnf("%v", perr)
		}
		if err = t.Close(); err != nil {
			err = fmt.Errorf("closing %s: %w", o.dest, err)
		}
	}
	elapsed := time.Since(start)
	if err != nil {
		if cause := context.Cause(c.Context); cause != nil {
			if !errors.Is(err, cause) {
				err = fmt.Errorf("%w: %w", cause, err)
			}
			// Interrupted: what was written is flushed, and incomplete.
			t.Finish(-1)
			err = fmt.Errorf("%w; %s holds an incomplete image", err, o.dest)
		}
		events.emit(endEvent(stats, elapsed, err))
		ended = true
		return err
	}
	log.Infof("copying time: %s, copying speed %s/sec", humanTime(elapsed), bmap.HumanSize(int64(float64(stats.WrittenBytes)/max(elapsed.Seconds(), 1e-3))))
	text, bottleneck := summary(stats)
	log.Infof("%s: %s was the bottleneck", text, bottleneck)
	events.emit(endEvent(stats, elapsed, nil))
	ended = true
	return nil
}

// finish makes what was written durable: sized (a file) and synced.
func finish(e *env, o copyOptions, t *flash.Target, size int64) error {
	if t.Kind() != flash.CharDevice {
		e.log.Infof("synchronizing '%s'", o.dest)
	}
	return t.Finish(size)
}

// readBack re-reads every mapped range from the destination, past the page
// cache, and compares it with the bmap. With --retries, ranges that read
// back wrong are written again from a freshly opened image and checked
// again.
func readBack(ctx context.Context, e *env, o copyOptions, t *flash.Target, m *bmap.Map) error {
	if m == nil || m.ChecksumType == "" {
		return fmt.Errorf("--verify-readback needs a bmap with checksums")
	}
	for attempt := 0; ; attempt++ {
		e.log.Infof("reading back and verifying %s of '%s'", bmap.HumanSize(m.MappedBytes()), o.dest)
		r, err := flash.OpenDirectReader(t.Path())
		if err != nil {
			return fmt.Errorf("cannot read back %s: %w", o.dest, err)
		}
		bad, err := m.Verify(ctx, r, 0)
		r.Close()
		if err != nil {
			return fmt.Errorf("reading back %s: %w", o.dest, err)
		}
		if len(bad) == 0 {
			e.log.Infof("read back %d ranges of '%s': all match the bmap", len(m.Ranges), o.dest)
			return nil
		}
		desc := describeRanges(m, bad)
		if attempt == o.retries {
			return fmt.Errorf("read-back verification of %s failed: %d of %d ranges differ from the bmap: %s; the device returns data other than what was written (failing media?)",
				o.dest, len(bad), len(m.Ranges), desc)
		}
		if o.image == "-" {
			return fmt.Errorf("read-back verification of %s failed (%s), and the image came from stdin, so it cannot be read again to retry", o.dest, desc)
		}
		e.log.Warnf("%d ranges of '%s' read back wrong (%s); writing them again (retry %d of %d)", len(bad), o.dest, desc, attempt+1, o.retries)
		img, err := openImage(e, o.image, m)
		if err != nil {
			return err
		}
		sub := &bmap.Map{Version: m.Version, ImageSize: m.ImageSize, BlockSize: m.BlockSize, BlocksCount: m.BlocksCount, ChecksumType: m.ChecksumType, Ranges: bad}
		for _, r := range bad {
			sub.MappedBlocksCount += r.Blocks()
		}
		_, err = flash.Copy(ctx, t, img.src, sub, flash.Options{})
		img.Close()
		if err == nil {
			err = finish(e, o, t, m.ImageSize)
		}
		if err != nil {
			return fmt.Errorf("rewriting %s: %w", o.dest, err)
		}
	}
}

// describeRanges names up to 5 ranges as "blocks A-B (bytes X-Y)".
func describeRanges(m *bmap.Map, rs []bmap.Range) string {
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

// image is an opened image: raw bytes to copy, and what is known of them.
type image struct {
	src   io.Reader // raw image bytes; the *os.File itself for a raw local file (seekable)
	kind  decompress.Kind
	size  int64 // -1 if unknown until read
	close []func() error
}

func (i *image) Close() error {
	for _, c := range i.close {
		c()
	}
	return nil
}

// openImage opens path ("-" for stdin), detects its format and, for a raw
// file, checks its size against m.
func openImage(e *env, path string, m *bmap.Map) (*image, error) {
	img := &image{size: -1}
	var file *os.File
	var in io.Reader
	if path == "-" {
		in = e.stdin
		file, _ = e.stdin.(*os.File)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("cannot open image: %w", err)
		}
		img.close = append(img.close, f.Close)
		if fi, err := f.Stat(); err != nil {
			img.Close()
			return nil, err
		} else if fi.IsDir() {
			img.Close()
			return nil, fmt.Errorf("image %s is a directory, not an image file", path)
		}
		file, in = f, f
	}
	dec, err := decompress.NewReader(in, path)
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	img.close = append(img.close, dec.Close)
	for _, n := range dec.Notes() {
		e.log.Infof("%s", n)
	}
	img.src, img.kind = dec, dec.Kind()
	if m != nil {
		img.size = m.ImageSize
	}
	if img.kind == (decompress.Kind{Format: decompress.Raw}) && file != nil {
		if fi, err := file.Stat(); err == nil && fi.Mode().IsRegular() {
			if m != nil && fi.Size() != m.ImageSize {
				img.Close()
				return nil, fmt.Errorf("image %s is %d bytes, but the bmap says the image is %d bytes: wrong image or wrong bmap",
					path, fi.Size(), m.ImageSize)
			}
			img.size = fi.Size()
			// A raw local file: read it directly so holes are skipped by seeking.
			if _, err := file.Seek(0, io.SeekStart); err == nil {
				img.src = file
			}
		}
	}
	e.log.Debugf("image format: %s", img.kind)
	return img, nil
}

func blockSize(m *bmap.Map) int64 {
	if m == nil {
		return 0
	}
	return m.BlockSize
}

// checkDestination refuses, before anything is opened for writing, a
// block device that is in use or holds the running system (and, with
// --removable-device, one that is not removable). It returns the path to
// open: symlinks such as /dev/disk/by-id/... resolved.
func checkDestination(e *env, o copyOptions) (string, error) {
	fi, err := os.Stat(o.dest)
	if err != nil || fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		if o.removable {
			return "", fmt.Errorf("%s is not a block device, but --removable-device was given", o.dest)
		}
		return o.dest, nil // OpenTarget handles files, character devices and missing paths
	}
	d, err := flash.InspectDevice(o.dest)
	if err != nil {
		return "", fmt.Errorf("cannot inspect destination: %w", err)
	}
	if d.Path != o.dest {
		e.log.Debugf("%s is %s", o.dest, d.Path)
	}
	if o.removable && !d.Removable {
		return "", fmt.Errorf("%s (%s) is not a removable device, but --removable-device was given", o.dest, d.Disk)
	}
	uses, err := d.Uses()
	if err != nil {
		return "", fmt.Errorf("cannot tell whether %s is in use: %w", o.dest, err)
	}
	for _, u := range uses {
		if u.Root {
			return "", fmt.Errorf("refusing to write %s: %s, the running system's root filesystem", o.dest, u)
		}
	}
	if len(uses) > 0 {
		var what []string
		for _, u := range uses {
			what = append(what, u.String())
		}
		if !o.force {
			return "", fmt.Errorf("refusing to write %s: it is in use: %s (unmount it first, or use --force if you are sure)", o.dest, strings.Join(what, "; "))
		}
		e.log.Warnf("%s is in use: %s; writing anyway (--force)", o.dest, strings.Join(what, "; "))
	}
	return d.Path, nil
}

// humanTime formats a duration as bmaptool does: "[Nh ][Nm ]S.Ss".
func humanTime(d time.Duration) string {
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

// bmapCandidates lists where bmaptool looks for the bmap of image: image +
// ".bmap", then with one extension after another removed.
func bmapCandidates(image string) []string {
	var out []string
	base := image
	for {
		out = append(out, base+".bmap")
		ext := filepath.Ext(base)
		if ext == "" || ext == base || strings.HasSuffix(base, "/"+ext) {
			return out
		}
		base = strings.TrimSuffix(base, ext)
	}
}

// discoverBmap returns the first candidate that is a file, or "".
func discoverBmap(image string) string {
	if image == "-" {
		return ""
	}
	for _, p := range bmapCandidates(image) {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// sameFile reports whether paths a and b name the same file.
func sameFile(pathA, path string) (bool, error) {
	a, err := os.Stat(pathA)
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// loadBmap reads the bmap at path (possibly compressed), verifies its
// OpenPGP signature (clearsigned, or detached beside it), and parses it,
// which verifies its own checksum. Nothing here touches the destination.
func loadBmap(e *env, path string, o copyOptions) (*bmap.Map, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read bmap: %w", err)
	}
	dec, err := decompress.NewReader(bytes.NewReader(raw), path)
	if err != nil {
		return nil, fmt.Errorf("bmap %s: %w", path, err)
	}
	defer dec.Close()
	data, err := io.ReadAll(io.LimitReader(dec, bmap.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading bmap %s: %w", path, err)
	}
	if data, err = checkSignature(e, path, raw, data, o); err != nil {
		return nil, err
	}
	m, err := bmap.ParseBytes(data)
	if err != nil {
		return nil, fmt.Errorf("bmap %s: %w", path, err)
	}
	return m, nil
}

// checkSignature verifies the bmap's signature and returns the bmap text: a
// clearsigned bmap's plaintext, else data. raw is the file as stored (a
// detached signature may cover it, or the decompressed data).
func checkSignature(e *env, path string, raw, data []byte, o copyOptions) ([]byte, error) {
	opts := verify.Options{Fingerprint: o.fingerprint}
	if verify.IsClearSigned(data) {
		if o.noSigVerify {
			text, err := verify.ClearSignedText(data)
			if err != nil {
				return nil, fmt.Errorf("bmap %s: %w", path, err)
			}
			e.log.Warnf("bmap file '%s' is signed, but its signature was not verified (--no-sig-verify)", path)
			return text, nil
		}
		kr, err := loadKeyring(e, o)
		if err != nil {
			return nil, err
		}
		text, signer, err := verify.ClearSigned(kr, data, opts)
		if err != nil {
			return nil, fmt.Errorf("bmap %s: signature verification failed: %w", path, err)
		}
		e.log.Infof("successfully verified bmap file signature of %s", signer)
		return text, nil
	}
	if o.noSigVerify {
		return data, nil
	}
	sigPath := o.sigPath
	if sigPath == "" {
		for _, ext := range []string{".asc", ".sig", ".gpg"} {
			if fi, err := os.Stat(path + ext); err == nil && fi.Mode().IsRegular() {
				sigPath = path + ext
				e.log.Infof("discovered signature file for bmap '%s'", sigPath)
				break
			}
		}
	}
	if sigPath == "" {
		switch {
		case o.fingerprint != "":
			return nil, fmt.Errorf("bmap %s is not signed (no clearsigned text, no %s.asc, .sig or .gpg), but --fingerprint was given", path, path)
		case o.keyring != "":
			return nil, fmt.Errorf("bmap %s is not signed (no clearsigned text, no %s.asc, .sig or .gpg), but --keyring was given", path, path)
		}
		e.log.Debugf("bmap %s is not signed", path)
		return data, nil
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return nil, fmt.Errorf("cannot read the bmap signature: %w", err)
	}
	kr, err := loadKeyring(e, o)
	if err != nil {
		return nil, err
	}
	signer, err := verify.Detached(kr, data, sig, opts)
	if err != nil && !bytes.Equal(raw, data) {
		// A compressed bmap: the signature may cover the file as stored.
		if s, err2 := verify.Detached(kr, raw, sig, opts); err2 == nil {
			signer, err = s, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bmap %s: signature %s: verification failed: %w", path, sigPath, err)
	}
	e.log.Infof("successfully verified bmap file signature of %s", signer)
	return data, nil
}

// loadKeyring loads --keyring, or the user's GnuPG public keyring.
func loadKeyring(e *env, o copyOptions) (*verify.Keyring, error) {
	if o.keyring != "" {
		kr, err := verify.LoadKeyring(o.keyring)
		if err != nil {
			return nil, fmt.Errorf("cannot load --keyring: %w", err)
		}
		return kr, nil
	}
	kr, path, err := verify.DefaultKeyring()
	if err != nil {
		return nil, fmt.Errorf("the bmap is signed, but there is no keyring to check it with: %w (give one with --keyring, or skip the check with --no-sig-verify)", err)
	}
	e.log.Debugf("using the GnuPG keyring %s", path)
	return kr, nil
}
