package main

import (
	"fmt"
	"os"

	"github.com/bmap-tools/bmap/bmap"
	"github.com/bmap-tools/bmap/flash"
	"github.com/urfave/cli/v2"
)

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a device or file against a bmap, without writing",
		ArgsUsage: "TARGET",
		Description: "Reads every mapped range of TARGET (a block device or an image file), past the page\n" +
			"cache, and compares it with the checksums of the bmap. Without --bmap, the bmap is looked\n" +
			"for beside TARGET as copy looks for it beside the image. The bmap's signature is checked\n" +
			"as copy checks it.",
		Flags:        commandFlags(bmapFlags()...),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if err := setupLog(c, e); err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef("verify takes one TARGET argument, got %d", c.NArg())
			}
			o := copyOptions{dest: c.Args().First(), bmapPath: c.String("bmap"), sigPath: c.String("bmap-sig"),
				noSigVerify: c.Bool("no-sig-verify"), keyring: c.String("keyring"), fingerprint: c.String("fingerprint")}
			if err := checkSigOptions(o); err != nil {
				return err
			}
			return runVerify(c, e, o)
		},
	}
}

func runVerify(c *cli.Context, e *env, o copyOptions) error {
	path := o.bmapPath
	if path == "" {
		if path = discoverBmap(o.dest); path == "" {
			return usagef("no bmap found for %s: give one with --bmap", o.dest)
		}
		e.log.Infof("discovered bmap file '%s'", path)
	}
	m, err := loadBmap(e, path, o)
	if err != nil {
		return err
	}
	if m.ChecksumType == "" {
		return fmt.Errorf("bmap %s (version %s) has no checksums to verify against", path, m.Version)
	}
	fi, err := os.Stat(o.dest)
	if err != nil {
		return fmt.Errorf("cannot verify: %w", err)
	}
	size := fi.Size()
	if fi.Mode()&os.ModeDevice != 0 {
		d, err := flash.InspectDevice(o.dest)
		if err != nil {
			return err
		}
		size = d.Size
	}
	if size < m.ImageSize {
		return fmt.Errorf("%s is %d bytes, smaller than the %d-byte image the bmap %s describes", o.dest, size, m.ImageSize, path)
	}
	r, err := flash.OpenDirectReader(o.dest)
	if err != nil {
		return fmt.Errorf("cannot verify: %w", err)
	}
	defer r.Close()
	e.log.Infof("verifying %s in %d ranges of '%s' against '%s'", bmap.HumanSize(m.MappedBytes()), len(m.Ranges), o.dest, path)
	bad, err := m.Verify(c.Context, r, 0)
	if err != nil {
		return fmt.Errorf("reading %s: %w", o.dest, err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s does not match the bmap %s: %d of %d ranges differ: %s", o.dest, path, len(bad), len(m.Ranges), describeRanges(m, bad))
	}
	e.log.Infof("all %d ranges of '%s' match the bmap", len(m.Ranges), o.dest)
	return nil
}
