package main

import (
	"github.com/bmap-tools/bmap/job"
	"github.com/urfave/cli/v2"
)

func createCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a block map (bmap) of a sparse image",
		ArgsUsage: "IMAGE",
		Description: "Finds which blocks of IMAGE hold data (FIEMAP, else SEEK_DATA/SEEK_HOLE) and writes\n" +
			"the block map, with a SHA-256 of every mapped range, to stdout or to --output.\n" +
			"The output is byte-identical to what bmaptool 3.9 writes.",
		Flags: commandFlags(
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the bmap to `FILE` instead of stdout"},
			&cli.BoolFlag{Name: "no-checksum", Usage: "do not checksum the mapped ranges (faster, but copy cannot verify the data)"},
		),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if err := setupLog(c, e); err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef("create takes one IMAGE argument, got %d", c.NArg())
			}
			_, err := job.Create(c.Context, job.CreateOptions{Image: c.Args().First(), Output: c.String("output"),
				Stdout: e.stdout, NoChecksum: c.Bool("no-checksum"), Log: e.log})
			return err
		},
	}
}
