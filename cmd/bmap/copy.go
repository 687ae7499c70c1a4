package main

import (
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/flash"
	"github.com/bmap-tools/bmap/job"
	"github.com/bmap-tools/bmap/source"
	"github.com/urfave/cli/v2"
)

func copyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "copy",
		Usage:     "write an image to block devices or files, only its mapped blocks, verified",
		ArgsUsage: "IMAGE DEST [DEST...]",
		Description: "IMAGE is a path, - for stdin, or an http://, https://, ftp:// or ssh://user@host:/path URL,\n" +
			"raw or compressed (gz, bz2, xz, lzma, zst, lz4, lzo, zip, tar.*), detected by content.\n" +
			"Without --bmap, the bmap is looked for beside IMAGE: IMAGE.bmap, then with one extension\n" +
			"after another removed (a.img.gz: a.img.gz.bmap, a.img.bmap, a.bmap); for a URL, in its\n" +
			"path, its query kept. Of a raw image on a server that honours Range, only the mapped\n" +
			"ranges are fetched.\n" +
			"DEST is a block device, a character device such as /dev/null, or a regular file, which is\n" +
			"replaced by a sparse copy of the image.\n" +
			"With several DESTs, the image is read, decompressed and verified once and written to all\n" +
			"of them at once, each by its own writer; every option applies to each. Every DEST is\n" +
			"checked before any is written: if one is refused, none is written. A DEST that fails\n" +
			"while being written is dropped and the others finish; the exit status is then 1.",
		Flags: commandFlags(append(bmapFlags(),
			&cli.BoolFlag{Name: "nobmap", Usage: "copy the whole image, without a bmap"},
			&cli.BoolFlag{Name: "no-verify", Usage: "do not verify the checksums of the mapped ranges"},
			&cli.StringFlag{Name: "psplash-pipe", Usage: "write progress to the psplash `FIFO`"},
			&cli.BoolFlag{Name: "removable-device", Usage: "refuse a DEST that is not a removable block device"},
			&cli.BoolFlag{Name: "verify-readback", Usage: "after writing, read every mapped range back from DEST, past the cache, and check it"},
			&cli.IntFlag{Name: "retries", Usage: "with --verify-readback, write ranges that read back wrong again, up to `N` times"},
			&cli.StringFlag{Name: "dest-offset", Usage: "write the image starting at byte `N` of DEST (K, M and G suffixes: 8K for a bootloader at 8 KiB); a regular DEST is then written in place"},
			&cli.BoolFlag{Name: "force", Usage: "skip bmap's checks that DEST is in use (mounted, swap, LVM/RAID/dm-crypt), for when they are wrong; the kernel still refuses a device that is in use, and the root filesystem's disk is always refused"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress output: auto (a line on a terminal), none, or json (one event per line, for CI)"},
			&cli.IntFlag{Name: "progress-fd", Value: 2, Usage: "write --progress json events to file descriptor `N`"},
		)...),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if err := setupLog(c, e); err != nil {
				return err
			}
			if c.NArg() < 2 {
				return usagef("copy takes IMAGE and DEST arguments (and more DESTs), got %d", c.NArg())
			}
			op, err := e.opener(c)
			if err != nil {
				return err
			}
			var offset int64
			if v := c.String("dest-offset"); v != "" {
				if offset, err = parseSize(v); err != nil {
					return usagef("--dest-offset %v", err)
				}
			}
			o := job.CopyOptions{
				Image: c.Args().Get(0), Dest: c.Args().Get(1), Dests: c.Args().Slice()[2:],
				Bmap: c.String("bmap"), NoBmap: c.Bool("nobmap"),
				Signature:  signatureFrom(c),
				NoVerify:   c.Bool("no-verify"),
				DestPolicy: job.DestPolicy{RemovableOnly: c.Bool("removable-device"), Force: c.Bool("force")},
				DestOffset: offset,
				Readback:   c.Bool("verify-readback"), Retries: c.Int("retries"),
				Opener: op,
				Log:    e.log,
			}
			return runCopy(c, e, o, c.String("progress"), c.Int("progress-fd"), c.String("psplash-pipe"))
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
		&cli.StringSliceFlag{Name: "header", Usage: "send the HTTP header `'NAME: VALUE'` to the URLs' host (repeatable; a token such as 'JOB-TOKEN: ...' or 'Authorization: Bearer ...'), never to another host"},
	}
}

func signatureFrom(c *cli.Context) job.Signature {
	return job.Signature{Path: c.String("bmap-sig"), Skip: c.Bool("no-sig-verify"),
		Keyring: c.String("keyring"), Fingerprint: c.String("fingerprint")}
}

// runCopy runs the copy with its progress shown as asked: a line on a
// terminal, PROGRESS lines for psplash, JSON events for machines.
func runCopy(c *cli.Context, e *env, o job.CopyOptions, progress string, progressFD int, psplash string) (err error) {
	if err := o.Check(); err != nil {
		return err
	}
	dests := append([]string{o.Dest}, o.Dests...)
	rep := &reporter{prog: e.log.prog, dests: dests}
	rep.p.Dests = make([]flash.DestProgress, len(dests))
	var events *jsonEvents
	switch progress {
	case "json":
		w := io.Writer(e.stderr)
		if progressFD != 2 {
			f := os.NewFile(uintptr(progressFD), "progress")
			if _, err := f.Stat(); err != nil { // not open: the events would be lost silently
				return usagef("--progress-fd %d: file descriptor %d is not open", progressFD, progressFD)
			}
			w = f
		}
		events = &jsonEvents{w: w, scrub: e.log.scrub}
		rep.events = events
		if progressFD == 2 {
			e.log.quiet = true // keep stderr parseable: events and the error line only
		}
	case "auto":
		if f, ok := e.stderr.(*os.File); ok && !e.log.quiet && !e.log.debug && isTerminal(f) {
			rep.term = e.log
		}
	case "none":
	default:
		return usagef("--progress %q: want auto, none or json", progress)
	}
	rep.psplash = checkPsplash(e.log, psplash)
	o.Progress = &rep.p
	o.Hooks = job.Hooks{
		Started: func(info job.CopyInfo) {
			rep.mapped, rep.imageSize, rep.stream, rep.transfer = info.MappedBytes(), info.ImageSize, info.Stream, info.Transfer
			for _, d := range info.Dests {
				events.emit(map[string]any{"event": "start", "image": info.Image, "bmap": info.Bmap, "destination": d.Dest,
					"destination_kind": d.Kind.String(), "format": info.FormatName(), "image_size": info.ImageSize,
					"mapped_bytes": info.MappedBytes(), "block_size": blockSize(info.Map), "verify": info.Verify, "version": buildVersion()})
			}
			rep.begin()
		},
		// End the progress line before "synchronizing" is logged, which
		// would otherwise be printed at the end of the line.
		Written: func(_ flash.Stats, err error) { rep.end(err == nil) },
	}
	if events != nil {
		o.Hooks.Verified = func(m *bmap.Map, r bmap.Range) {
			events.emit(map[string]any{"event": "range", "first": r.First, "last": r.Last,
				"offset": m.Offset(r), "length": m.Length(r), "checksum": hex.EncodeToString(r.Checksum)})
		}
	}
	res, err := job.Copy(c.Context, o)
	for _, ev := range endEvents(dests, res, err) {
		events.emit(ev)
	}
	return err
}

func blockSize(m *bmap.Map) int64 {
	if m == nil {
		return 0
	}
	return m.BlockSize
}

// opener returns the Opener for the command's sources: standard input,
// the --header values, debugging lines through the logger. The secrets
// of the names and headers given are registered with the logger, which
// keeps them out of every line and event.
func (e *env) opener(c *cli.Context) (*source.Opener, error) {
	o := &source.Opener{Stdin: e.stdin, Debugf: e.log.Debugf}
	for _, name := range []string{c.Args().First(), c.String("bmap"), c.String("bmap-sig")} {
		e.log.addSecrets(source.Secrets(name)...)
	}
	for _, h := range c.StringSlice("header") {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(strings.TrimSpace(k), " \t") {
			return nil, usagef("--header wants 'NAME: VALUE', got a value without a name")
		}
		if o.Header == nil {
			o.Header = http.Header{}
		}
		o.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		e.log.addSecrets(strings.TrimSpace(v))
		if _, tok, ok := strings.Cut(strings.TrimSpace(v), " "); ok { // "Bearer TOKEN"
			e.log.addSecrets(strings.TrimSpace(tok))
		}
	}
	return o, nil
}
