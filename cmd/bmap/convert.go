package main

import (
	"github.com/bmap-tools/bmap/job"
	"github.com/urfave/cli/v2"
)

func convertCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "convert",
		Usage:     "convert an image and its bmap to an Android sparse image, or back",
		ArgsUsage: "IMAGE OUT",
		Description: "--to simg: IMAGE (raw or compressed) and its bmap (--bmap, else found beside IMAGE as\n" +
			"copy finds it; a raw sparse file without one is mapped as create maps it) become an\n" +
			"Android sparse image OUT, for fastboot, U-Boot's mmc swrite, NXP uuu and Qualcomm qdl.\n" +
			"The bmap's range checksums are checked as the image is read.\n" +
			"--to raw: the Android sparse image IMAGE (maybe compressed) becomes the sparse file OUT\n" +
			"and its bmap OUT.bmap. OUT is replaced only once complete.",
		Flags: commandFlags(append(bmapFlags(),
			&cli.StringFlag{Name: "to", Usage: "the format to write: simg or raw", Required: true},
			&cli.BoolFlag{Name: "zero-fill-holes", Usage: "with --to raw, leave FILL chunks of zeros out as holes (img2simg writes every zero block, holes included, as one; images made otherwise may need their zeros written to a device)"},
		)...),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if err := setupLog(c, e); err != nil {
				return err
			}
			if c.NArg() != 2 {
				return usagef("convert takes IMAGE and OUT arguments, got %d", c.NArg())
			}
			op, err := e.opener(c)
			if err != nil {
				return err
			}
			_, err = job.Convert(c.Context, job.ConvertOptions{To: job.ConvertTo(c.String("to")),
				Image: c.Args().Get(0), Output: c.Args().Get(1), Bmap: c.String("bmap"), Signature: signatureFrom(c),
				ZeroFillIsHole: c.Bool("zero-fill-holes"), Opener: op, Log: e.log})
			return err
		},
	}
}
