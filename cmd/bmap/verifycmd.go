package main

import (
	"github.com/bmap-tools/bmap/job"
	"github.com/urfave/cli/v2"
)

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a device or file against a bmap, without writing",
		ArgsUsage: "TARGET [TARGET...]",
		Description: "Reads every mapped range of TARGET (a block device or an image file), past the page\n" +
			"cache, and compares it with the checksums of the bmap. Without --bmap, the bmap is looked\n" +
			"for beside TARGET as copy looks for it beside the image. The bmap's signature is checked\n" +
			"as copy checks it. Several TARGETs are read at once; with --bmap, all against that bmap.",
		Flags:        commandFlags(bmapFlags()...),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if err := setupLog(c, e); err != nil {
				return err
			}
			if c.NArg() < 1 {
				return usagef("verify takes TARGET arguments, got none")
			}
			op, err := e.opener(c)
			if err != nil {
				return err
			}
			return job.Verify(c.Context, job.VerifyOptions{Targets: c.Args().Slice(), Bmap: c.String("bmap"),
				Signature: signatureFrom(c), Opener: op, Log: e.log})
		},
	}
}
