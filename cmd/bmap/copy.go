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
		Flags: commandFlags(
			&cli.StringFlag{Name: "bmap", Usage: "the block map `FILE` (may be compressed)"},
			&cli.BoolFlag{Name: "nobmap", Usage: "copy the whole image, without a bmap"},
			&cli.StringFlag{Name: "bmap-sig", Usage: "detached OpenPGP signature `FILE` of the bmap"},
			&cli.BoolFlag{Name: "no-sig-verify", Usage: "do not verify the bmap's signature"},
			&cli.StringFlag{Name: "keyring", Usage: "verify the signature with the keys in `FILE` (default: the GnuPG keyring)"},
			&cli.StringFlag{Name: "fingerprint", Usage: "accept only a signature by the key with this `FPR`"},
			&cli.BoolFlag{Name: "no-verify", Usage: "do not verify the checksums of the mapped ranges"},
			&cli.StringFlag{Name: "psplash-pipe", Usage: "write progress to the psplash `FIFO`"},
			&cli.BoolFlag{Name: "removable-device", Usage: "refuse a DEST that is not a removable block device"},
			&cli.BoolFlag{Name: "force", Usage: "write DEST even if it, a partition on it or a device built on it is used as swap or held open (a mounted device is still refused by the kernel; the root filesystem's disk always is)"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress output: auto (a line on a terminal), none, or json (one event per line, for CI)"},
			&cli.IntFlag{Name: "progress-fd", Value: 2, Usage: "write --progress json events to file descriptor `N`"},
		),
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
		force: c.Bool("force"),
	}
	switch {
	case o.progress != "auto" && o.progress != "none" && o.progress != "json":
		return o, usagef("--progress %q: want auto, none or json", o.progress)
	case o.noBmap && o.bmapPath != "":
		return o, usagef("--nobmap and --bmap cannot be used together")
	case o.sigPath != "" && o.noSigVerify:
		return o, usagef("--bmap-sig and --no-sig-verify cannot be used together")
	case o.noSigVerify && o.keyring != "":
		return o, usagef("--no-sig-verify and --keyring cannot be used together")
	case o.noSigVerify && o.fingerprint != "":
		return o, usagef("--no-sig-verify and --fingerprint cannot be used together")
	case o.noBmap && o.sigPath != "":
		return o, usagef("--bmap-sig needs a bmap, but --nobmap was given")
	}
	return o, nil
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
			w = os.NewFile(uintptr(o.progressFD), "progress")
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
	bmapUsed := ""
	// 1. The image.
	var imgFile *os.File
	var imgIn io.Reader
	if o.image == "-" {
		imgIn = e.stdin
		if f, ok := e.stdin.(*os.File); ok {
			imgFile = f
		}
	} else {
		f, err := os.Open(o.image)
		if err != nil {
			return fmt.Errorf("cannot open image: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err != nil {
			return err
		} else if fi.IsDir() {
			return fmt.Errorf("image %s is a directory, not an image file", o.image)
		}
		imgFile, imgIn = f, f
	}

	// 2. The bmap.
	var m *bmap.Map
	path := o.bmapPath
	if !o.noBmap {
		if path == "" {
			path = discoverBmap(o.image)
			if path == "" {
				if o.image == "-" {
					return usagef("reading the image from stdin: give its bmap with --bmap, or use --nobmap to flash without a bmap")
				}
				return fmt.Errorf("no bmap file found for %s (tried %s); give one with --bmap, or use --nobmap to flash without a bmap",
					o.image, strings.Join(bmapCandidates(o.image), ", "))
			}
			log.Infof("discovered bmap file '%s'", path)
		}
		if imgFile != nil {
			if same, _ := sameFile(imgFile, path); same {
				return fmt.Errorf("the bmap %s is the image itself: make sure you are writing your image and not the bmap file", path)
			}
		}
		bmapUsed = path
		var err error
		if m, err = loadBmap(e, path, o); err != nil {
			return err
		}
		log.Infof("block map format version %s", m.Version)
		log.Infof("%d blocks of size %d (%s), mapped %d blocks (%s or %.1f%%)",
			m.BlocksCount, m.BlockSize, bmap.HumanSize(m.ImageSize), m.MappedBlocksCount,
			bmap.HumanSize(m.MappedBlocksCount*m.BlockSize), float64(m.MappedBlocksCount)*100/float64(m.BlocksCount))
	}

	// 3. The image's format; a raw file's size must match the bmap.
	dec, err := decompress.NewReader(imgIn, o.image)
	if err != nil {
		return fmt.Errorf("image %s: %w", o.image, err)
	}
	defer dec.Close()
	for _, n := range dec.Notes() {
		log.Infof("%s", n)
	}
	var src io.Reader = dec
	imageSize := int64(-1)
	if m != nil {
		imageSize = m.ImageSize
	}
	if dec.Kind() == (decompress.Kind{Format: decompress.Raw}) && imgFile != nil {
		if fi, err := imgFile.Stat(); err == nil && fi.Mode().IsRegular() {
			if m != nil && fi.Size() != m.ImageSize {
				return fmt.Errorf("image %s is %d bytes, but the bmap says the image is %d bytes: wrong image or wrong bmap",
					o.image, fi.Size(), m.ImageSize)
			}
			imageSize = fi.Size()
			// A raw local file: read it directly so holes are skipped by seeking.
			if _, err := imgFile.Seek(0, io.SeekStart); err == nil {
				src = imgFile
			}
		}
	}
	if m == nil && imageSize >= 0 {
		m = bmap.Whole(imageSize, 4096)
	}
	log.Debugf("image format: %s", dec.Kind())

	// 4. The destination, now that everything that could be checked was.
	if imgFile != nil {
		if same, _ := sameFile(imgFile, o.dest); same {
			return fmt.Errorf("the destination %s is the image itself", o.dest)
		}
	}
	dest, err := checkDestination(e, o)
	if err != nil {
		return err
	}
	t, err := flash.OpenTarget(dest, imageSize)
	if err != nil {
		return fmt.Errorf("cannot open destination: %w", err)
	}
	defer t.Close()
	if !o.noBmap {
		log.Infof("copying image '%s' to %s '%s' using bmap file '%s'", filepath.Base(o.image), t.Kind(), o.dest, filepath.Base(path))
	} else {
		log.Infof("copying image '%s' to %s '%s' without a bmap", filepath.Base(o.image), t.Kind(), o.dest)
	}

	rep.mapped, rep.imageSize = -1, imageSize
	if m != nil {
		rep.mapped = m.MappedBytes()
	}
	_, seekable := src.(io.Seeker)
	rep.stream = !seekable
	events.emit(map[string]any{"event": "start", "image": o.image, "bmap": bmapUsed, "destination": o.dest,
		"destination_kind": t.Kind().String(), "format": dec.Kind().String(), "image_size": rep.imageSize,
		"mapped_bytes": rep.mapped, "block_size": blockSize(m), "verify": !o.noVerify})

	start := time.Now()
	rep.begin()
	stats, err := flash.Copy(c.Context, t, src, m, flash.Options{NoVerify: o.noVerify, Progress: &rep.p, Verified: events.rangeVerified(m)})
	if err == nil {
		if t.Kind() != flash.CharDevice {
			log.Infof("synchronizing '%s'", o.dest)
		}
		if err = t.Finish(stats.ImageBytes); err == nil {
			if perr := t.RereadPartitions(); perr != nil {
				log.Warnf("%v", perr)
			}
			if err = t.Close(); err != nil {
				err = fmt.Errorf("closing %s: %w", o.dest, err)
			}
		}
	} else {
		err = fmt.Errorf("copying %s to %s: %w", o.image, o.dest, err)
	}
	rep.end(err == nil)
	elapsed := time.Since(start)
	if err != nil {
		if cause := context.Cause(c.Context); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", cause, err)
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

func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
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
