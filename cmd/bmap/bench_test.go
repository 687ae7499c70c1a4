package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkCopyFiles runs a whole `bmap copy` of real images into a
// regular file, to set against the decoder alone (decompress's
// BenchmarkDecodeFiles) and against bmaptool (../shared/bench/compare.sh):
//
//	BMAP_BENCH_BMAP=/tmp/bmapbench/rootfs.img.bmap \
//	BMAP_BENCH_FILES="/tmp/bmapbench/rootfs.img.gz /tmp/bmapbench/rootfs.img.zst" \
//	go test ./cmd/bmap -run - -bench CopyFiles -benchtime=1x -count=3
//
// BMAP_BENCH_DEST sets the destination (default: a file in the test's
// temporary directory; a block device path writes to the device).
func BenchmarkCopyFiles(b *testing.B) {
	paths := strings.Fields(os.Getenv("BMAP_BENCH_FILES"))
	bmapFile := os.Getenv("BMAP_BENCH_BMAP")
	if len(paths) == 0 || bmapFile == "" {
		b.Skip("set BMAP_BENCH_FILES to the images and BMAP_BENCH_BMAP to their bmap")
	}
	dest := os.Getenv("BMAP_BENCH_DEST")
	if dest == "" {
		dest = filepath.Join(b.TempDir(), "out.img")
	}
	for _, path := range paths {
		b.Run(filepath.Base(path), func(b *testing.B) {
			b.ResetTimer()
			for range b.N {
				args := []string{"bmap", "copy", "-q", "--bmap", bmapFile, path, dest}
				if err := run(context.Background(), args, nil, io.Discard, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
