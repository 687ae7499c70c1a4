package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCopyPast4GiBToLoopDevice writes the image past 4 GiB onto a loop
// device of 4 GiB and more: the device's size (BLKGETSIZE64) and O_DIRECT
// writes and reads past byte 2^32, on a 32-bit build too.
func TestCopyPast4GiBToLoopDevice(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	li := makeLargeImage(t, dir)
	backing := filepath.Join(dir, "backing")
	f, err := os.Create(backing)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse backing file one block larger than the image, rounded up
	// to whole blocks: the device reads as zeros where nothing is written.
	err = f.Truncate(roundUp(largeSize, 4096) + 4096)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	dev := loopDevice(t, backing)
	mustRun(t, nil, "copy", "--bmap", li.bmap, "--verify-readback", li.path, dev)
	checkPieces(t, dev, li.pieces)
	mustRun(t, nil, "verify", "--bmap", li.bmap, dev)
}
