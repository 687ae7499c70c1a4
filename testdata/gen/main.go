// Command gen makes the shared test fixtures in testdata/: the sample image
// sample.img.gz and a block map of it in every format version bmaptool ever
// wrote. Run it from the module root:
//
//	go run ./testdata/gen            # rewrite the hand-derived fixtures
//	go run ./testdata/gen -check     # fail if any committed fixture differs
//	go run ./testdata/gen -bmaptool  # also rewrite sample.img.bmap with bmaptool
//
// Everything is computed from the layout table below and a fixed PRNG, so
// the output is the same on every machine. The .bmap renderings are written
// from the format description (see testdata/README.md), independently of
// package bmap, so the tests of package bmap compare two implementations.
//
// The go command ignores directories named testdata for ./... patterns, so
// this program is not built or vetted with the module's packages.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The sample image: 1537 blocks of 4096 bytes, the last one partial.
const (
	blockSize = 4096
	imageSize = 1536*blockSize + 2345
	blocks    = (imageSize + blockSize - 1) / blockSize
)

type content int

const (
	text   content = iota // compressible text lines, different in every block
	random                // incompressible PRNG bytes
	zeros                 // zero bytes that are written, so mapped
)

// layout lists the mapped block ranges (inclusive) and what they hold. It
// mixes single blocks, a one-block hole (100, 102), a written all-zero range
// and a range that ends with the image's partial last block.
var layout = []struct {
	first, last int64
	fill        content
}{
	{0, 3, text},
	{5, 5, random},
	{16, 47, text},
	{100, 100, text},
	{102, 102, text},
	{256, 319, text},
	{700, 703, zeros},
	{1000, 1019, text},
	{1200, 1200, random},
	{1300, 1309, text},
	{1400, 1415, text},
	{1535, 1536, text},
}

// splitmix64 is a tiny PRNG with a fixed, documented output sequence.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// fillBlock writes block blk's content into b (len(b) == blockSize).
func fillBlock(b []byte, blk int64, fill content) {
	rng := splitmix64(blk)
	switch fill {
	case zeros:
		clear(b)
	case random:
		for i := 0; i < len(b); i += 8 {
			v := rng.next()
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
	case text:
		// 64 lines of 64 bytes: a header naming the block and line, 24
		// pseudo-random letters from "acgt", padding dots, a newline.
		for line := range 64 {
			l := b[line*64 : (line+1)*64]
			n := copy(l, fmt.Sprintf("sample.img block %04d line %02d ", blk, line))
			v := rng.next()
			for k := range 24 {
				l[n+k] = "acgt"[v>>(2*k)&3]
			}
			for k := n + 24; k < 63; k++ {
				l[k] = '.'
			}
			l[63] = '\n'
		}
	}
}

// image returns the sample image's bytes; holes read as zeros.
func image() []byte {
	img := make([]byte, blocks*blockSize)
	for _, r := range layout {
		for blk := r.first; blk <= r.last; blk++ {
			fillBlock(img[blk*blockSize:(blk+1)*blockSize], blk, r.fill)
		}
	}
	return img[:imageSize]
}

func main() {
	dir := flag.String("dir", "testdata", "directory to write the fixtures to")
	check := flag.Bool("check", false, "compare the fixtures in -dir with what would be written; write nothing")
	useBmaptool := flag.Bool("bmaptool", false, "also rewrite sample.img.bmap by running bmaptool create on the sparse image")
	flag.Parse()
	if err := run(*dir, *check, *useBmaptool); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string, check, useBmaptool bool) error {
	img := image()
	files := renderAll(img)
	var stale []string

	// sample.img.gz: compare decompressed bytes, since compressed output
	// may change with the Go version.
	gzPath := filepath.Join(dir, "sample.img.gz")
	old, err := gunzip(gzPath)
	if err != nil || !bytes.Equal(old, img) {
		if check {
			stale = append(stale, "sample.img.gz")
		} else if err := writeGzip(gzPath, img); err != nil {
			return err
		}
	}

	if useBmaptool && !check {
		out, err := bmaptoolCreate(img)
		if err != nil {
			return err
		}
		if !bytes.Equal(out, files["sample.img.bmap"]) {
			os.WriteFile(filepath.Join(os.TempDir(), "sample.img.bmap.bmaptool"), out, 0o644)
			return errors.New("bmaptool's output differs from the 3.6 rendering (did the file system map other blocks?); " +
				"saved it as " + filepath.Join(os.TempDir(), "sample.img.bmap.bmaptool"))
		}
	}

	for _, name := range fixtureNames {
		path := filepath.Join(dir, name)
		old, err := os.ReadFile(path)
		if err == nil && bytes.Equal(old, files[name]) {
			continue
		}
		// sample.img.bmap is bmaptool's output: only -bmaptool writes it
		// (after checking it equals the rendering above).
		if check || (name == "sample.img.bmap" && !useBmaptool) {
			stale = append(stale, name)
			continue
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	if len(stale) > 0 {
		return fmt.Errorf("out of date in %s: %s (run go run ./testdata/gen)", dir, strings.Join(stale, ", "))
	}
	return nil
}

func gunzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func writeGzip(path string, img []byte) error {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Name = "sample.img" // no ModTime: the output depends on the input only
	zw.Write(img)
	if err := zw.Close(); err != nil {
		return err
	}
	fmt.Println("wrote", path)
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// bmaptoolCreate writes the image as a sparse file (only the layout's ranges
// are written) and returns the output of "bmaptool create" on it.
func bmaptoolCreate(img []byte) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "bmap-gen-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "sample.img")
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(imageSize); err != nil {
		f.Close()
		return nil, err
	}
	for _, r := range layout {
		off := r.first * blockSize
		end := min((r.last+1)*blockSize, imageSize)
		if _, err := f.WriteAt(img[off:end], off); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command("bmaptool", "create", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bmaptool create: %v: %s", err, stderr.Bytes())
	}
	return out, nil
}

var fixtureNames = []string{
	"sample.img.bmap",
	"sample.img.bmap.v1.0",
	"sample.img.bmap.v1.1",
	"sample.img.bmap.v1.2",
	"sample.img.bmap.v1.3",
	"sample.img.bmap.v1.4",
	"sample.img.bmap.v2.0",
	"sample.img.bmap.v2.0-sha1",
	"sample.img.bmap.v2.0-sha512",
}

func renderAll(img []byte) map[string][]byte {
	return map[string][]byte{
		"sample.img.bmap":             render(img, style36, "sha256"),
		"sample.img.bmap.v1.0":        render(img, style10, ""),
		"sample.img.bmap.v1.1":        render(img, style11, "sha1"),
		"sample.img.bmap.v1.2":        render(img, style12, "sha1"),
		"sample.img.bmap.v1.3":        render(img, style13, "sha1"),
		"sample.img.bmap.v1.4":        render(img, style14, "sha256"),
		"sample.img.bmap.v2.0":        render(img, style39, "sha256"),
		"sample.img.bmap.v2.0-sha1":   render(img, style39, "sha1"),
		"sample.img.bmap.v2.0-sha512": render(img, style39, "sha512"),
	}
}

type style int

const (
	style10 style = iota // format 1.0: tabs, "A-B" ranges, no checksums, count at the end, no final newline
	style11              // format 1.1: as 1.0 plus sha1= range attributes
	style12              // format 1.2 (bmap-tools 2.x): 4 spaces, sha1= attributes, count after </BlockMap>
	style13              // format 1.3: count in the header, <BmapFileSHA1>
	style14              // format 1.4 (bmap-tools 3.0): the 2.0 layout as of 2013, version "1.4"
	style36              // format 2.0 as bmaptool 3.1-3.6 write it
	style39              // format 2.0 as bmaptool 3.9 writes it
)

// Header comments. headerOld is the text of bmap-tools 2.x-3.6; header39
// fixes three sentences. The 1.0/1.1 comment is a short stand-in: files of
// those versions had a different, longer comment that no test depends on.
const (
	headerOld = `<?xml version="1.0" ?>
<!-- This file contains the block map for an image file, which is basically
     a list of useful (mapped) block numbers in the image file. In other words,
     it lists only those blocks which contain data (boot sector, partition
     table, file-system metadata, files, directories, extents, etc). These
     blocks have to be copied to the target device. The other blocks do not
     contain any useful data and do not have to be copied to the target
     device.

     The block map an optimization which allows to copy or flash the image to
     the image quicker than copying of flashing the entire image. This is
     because with bmap less data is copied: <MappedBlocksCount> blocks instead
     of <BlocksCount> blocks.

     Besides the machine-readable data, this file contains useful commentaries
     which contain human-readable information like image size, percentage of
     mapped data, etc.

     The 'version' attribute is the block map file format version in the
     'major.minor' format. The version major number is increased whenever an
     incompatible block map format change is made. The minor number changes
     in case of minor backward-compatible changes. -->

`
	header10 = `<?xml version="1.0" ?>

<!-- Block map of an image file: the numbers of the blocks which hold data
     and have to be copied to the target device. The other blocks are holes.
     (Hand-written stand-in for the comment of format 1.0/1.1 files.) -->
`
)

var header39 = strings.NewReplacer(
	"     The block map an optimization which allows to copy or flash the image to\n     the image quicker",
	"     The block map is an optimization which allows to copy or flash the image\n     to the image quicker",
).Replace(headerOld)

func newHash(name string) hash.Hash {
	switch name {
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	}
	panic("unknown hash " + name)
}

// humanSize is bmaptool's human_size.
func humanSize(n int64) string {
	if n == 1 {
		return "1 byte"
	}
	if n < 512 {
		return fmt.Sprintf("%d bytes", n)
	}
	f := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 {
			return fmt.Sprintf("%.1f %s", f, unit)
		}
	}
	return fmt.Sprintf("%.1f EiB", f)
}

// render writes the sample's block map in the given style. sumType is the
// range checksum ("" for none) and, from 1.3 on, the file checksum's type.
func render(img []byte, st style, sumType string) []byte {
	var mapped int64
	for _, r := range layout {
		mapped += r.last - r.first + 1
	}
	imageHuman := humanSize(imageSize)
	mappedText := fmt.Sprintf("%s or %.1f%%", humanSize(mapped*blockSize), float64(mapped)*100/float64(blocks))
	// padded overwrites the start of a run of blanks with s, as bmaptool
	// does when it patches the counts in place; a longer s eats into the
	// text that follows.
	padded := func(s string, blanks int, after string) string {
		if len(s) >= blanks {
			return s + after[len(s)-blanks:]
		}
		return s + strings.Repeat(" ", blanks-len(s)) + after
	}
	mappedComment := "    <!-- Count of mapped blocks: " + padded(mappedText, len(imageHuman)+len(" or ")+len("100.0%"), "   -->") + "\n"
	countWidth := len(fmt.Sprint(blocks)) // 3.1 and later
	if st <= style14 {
		countWidth = len(fmt.Sprint(imageSize)) // the 2013 files reserve the image size's digits
	}
	countLine := fmt.Sprintf("    <MappedBlocksCount> %s </MappedBlocksCount>\n\n", padded(fmt.Sprint(mapped), countWidth, ""))

	var b strings.Builder
	ind, ind2 := "    ", "        "
	switch st {
	case style10, style11:
		ind, ind2 = "\t", "\t\t"
		b.WriteString(header10)
	case style39:
		b.WriteString(header39)
	default:
		b.WriteString(headerOld)
	}
	version := map[style]string{style10: "1.0", style11: "1.1", style12: "1.2", style13: "1.3", style14: "1.4", style36: "2.0", style39: "2.0"}[st]
	fmt.Fprintf(&b, "<bmap version=%q>\n", version)
	if st <= style12 {
		fmt.Fprintf(&b, "%s<!-- Image size in bytes (%s) -->\n", ind, imageHuman)
	} else {
		fmt.Fprintf(&b, "%s<!-- Image size in bytes: %s -->\n", ind, imageHuman)
	}
	fmt.Fprintf(&b, "%s<ImageSize> %d </ImageSize>\n\n", ind, imageSize)
	fmt.Fprintf(&b, "%s<!-- Size of a block in bytes -->\n%s<BlockSize> %d </BlockSize>\n\n", ind, ind, blockSize)
	fmt.Fprintf(&b, "%s<!-- Count of blocks in the image file -->\n%s<BlocksCount> %d </BlocksCount>\n\n", ind, ind, blocks)

	var sumTag, zeroSum string
	if st >= style13 {
		b.WriteString(mappedComment)
		b.WriteString(countLine)
		zeroSum = strings.Repeat("0", 2*newHash(sumType).Size())
		switch st {
		case style13:
			sumTag = "BmapFileSHA1"
			b.WriteString("    <!-- The checksum of this bmap file. When it is calculated, the value of\n")
			b.WriteString("         the SHA1 checksum has be zero (40 ASCII \"0\" symbols).  -->\n")
		default:
			sumTag = "BmapFileChecksum"
			fmt.Fprintf(&b, "    <!-- Type of checksum used in this file -->\n    <ChecksumType> %s </ChecksumType>\n\n", sumType)
			b.WriteString("    <!-- The checksum of this bmap file. When it is calculated, the value of\n")
			if st == style39 {
				b.WriteString("         the checksum has to be zero (all ASCII \"0\" symbols).  -->\n")
			} else {
				b.WriteString("         the checksum has be zero (all ASCII \"0\" symbols).  -->\n")
			}
		}
		fmt.Fprintf(&b, "    <%s> %s </%s>\n\n", sumTag, zeroSum, sumTag)
	}

	attr := "chksum"
	switch st {
	case style10, style11:
		attr = "sha1"
		fmt.Fprintf(&b, "%s<!-- The block map which consists of elements which may either\n", ind)
		if st == style10 {
			fmt.Fprintf(&b, "%s     be a range of blocks or a single block. -->\n", ind)
		} else {
			fmt.Fprintf(&b, "%s     be a range of blocks or a single block. The 'sha1' attribute\n", ind)
			fmt.Fprintf(&b, "%s     is the SHA1 checksum of the this range of blocks. -->\n", ind)
		}
	case style12, style13:
		attr = "sha1"
		b.WriteString("    <!-- The block map which consists of elements which may either be a\n")
		b.WriteString("         range of blocks or a single block. The 'sha1' attribute (if present)\n")
		b.WriteString("         is the SHA1 checksum of this blocks range. -->\n")
	default:
		b.WriteString("    <!-- The block map which consists of elements which may either be a\n")
		b.WriteString("         range of blocks or a single block. The 'chksum' attribute\n")
		if st == style39 {
			b.WriteString("         (if present) is the checksum of this block range. -->\n")
		} else {
			b.WriteString("         (if present) is the checksum of this blocks range. -->\n")
		}
	}
	fmt.Fprintf(&b, "%s<BlockMap>\n", ind)
	for _, r := range layout {
		b.WriteString(ind2 + "<Range")
		if sumType != "" && st != style10 {
			h := newHash(sumType)
			h.Write(img[r.first*blockSize : min((r.last+1)*blockSize, imageSize)])
			fmt.Fprintf(&b, " %s=\"%x\"", attr, h.Sum(nil))
		}
		switch {
		case st <= style11: // mic wrote every range as A-B
			fmt.Fprintf(&b, "> %d-%d </Range>\n", r.first, r.last)
		case r.first == r.last:
			fmt.Fprintf(&b, "> %d </Range>\n", r.first)
		default:
			fmt.Fprintf(&b, "> %d-%d </Range>\n", r.first, r.last)
		}
	}
	fmt.Fprintf(&b, "%s</BlockMap>\n", ind)
	if st <= style12 {
		fmt.Fprintf(&b, "\n%s<!-- Count of mapped blocks (%s mapped) -->\n", ind, mappedText)
		fmt.Fprintf(&b, "%s<MappedBlocksCount> %d </MappedBlocksCount>\n", ind, mapped)
	}
	b.WriteString("</bmap>")
	if st >= style12 {
		b.WriteString("\n")
	}

	out := []byte(b.String())
	if sumTag != "" {
		// As bmaptool: hash the file with the field all zeros, fill it in.
		h := newHash(sumType)
		h.Write(out)
		i := bytes.Index(out, []byte("<"+sumTag+"> "+zeroSum)) + len(sumTag) + 3
		copy(out[i:], hex.EncodeToString(h.Sum(nil)))
	}
	return out
}
