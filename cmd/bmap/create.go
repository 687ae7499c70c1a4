package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/bmap-tools/bmap/bmap"
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
			return runCreate(c, e, c.Args().First(), c.String("output"), c.Bool("no-checksum"))
		},
	}
}

func runCreate(c *cli.Context, e *env, image, output string, noChecksum bool) error {
	f, err := os.Open(image)
	if err != nil {
		return fmt.Errorf("cannot open image: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return err
	} else if fi.IsDir() {
		return fmt.Errorf("image %s is a directory, not an image file", image)
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("image %s is not a regular file (a bmap describes the holes of a file)", image)
	}
	m, err := bmap.Create(c.Context, f, bmap.CreateOptions{NoChecksum: noChecksum})
	if errors.Is(err, bmap.ErrEmptyImage) {
		return fmt.Errorf("cannot create a bmap of %s: it is empty (0 bytes)", image)
	}
	if err != nil {
		return fmt.Errorf("cannot create a bmap of %s: %w", image, err)
	}
	if m.MappedBlocksCount == m.BlocksCount {
		e.log.Warnf("all %s are mapped, no holes in '%s'", bmap.HumanSize(m.ImageSize), image)
		e.log.Warnf("was the image handled incorrectly and holes were expanded?")
	}
	data, err := m.MarshalText()
	if err != nil {
		return err
	}
	if output == "" {
		_, err = e.stdout.Write(data)
		return err
	}
	// The map is complete before the output is opened, so a failure above
	// leaves an existing output file as it was.
	if err := os.WriteFile(output, data, 0o644); err != nil {
		return fmt.Errorf("cannot write the bmap: %w", err)
	}
	return nil
}
