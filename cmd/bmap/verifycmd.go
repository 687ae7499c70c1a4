package main

import (
	"github.com/bmap-tools/bmap/job"
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
			op, err := e.opener(c)
			if err != nil {
				return err
			}
			return job.Verify(c.Context, job.VerifyOptions{Target: c.Args().First(), Bmap: c.String("bmap"),
				Signature: signatureFrom(c), Opener: op, Log: e.log})
		},
	}
}
