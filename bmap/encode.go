package bmap

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
)

// The header comment of bmaptool 3.9. It differs from 3.6 and older in three
// sentences ("The block map is an optimization", "has to be zero", "this
// block range"); Encode writes the 3.9 text.
const headerComment = `<?xml version="1.0" ?>
<!-- This file contains the block map for an image file, which is basically
     a list of useful (mapped) block numbers in the image file. In other words,
     it lists only those blocks which contain data (boot sector, partition
     table, file-system metadata, files, directories, extents, etc). These
     blocks have to be copied to the target device. The other blocks do not
     contain any useful data and do not have to be copied to the target
     device.

     The block map is an optimization which allows to copy or flash the image
     to the image quicker than copying of flashing the entire image. This is
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

// Encode writes m in format 2.0, byte for byte as bmaptool 3.9 "create"
// writes it, including the file's own checksum. A Map without ChecksumType
// (read from a version below 1.3) is written with sha256 as its type and no
// range checksums. Encode does not validate m; maps from Parse and Create are
// valid.
func (m *Map) Encode(w io.Writer) error {
	b, err := m.MarshalText()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// MarshalText returns the encoding Encode writes.
func (m *Map) MarshalText() ([]byte, error) {
	typ := m.ChecksumType
	if typ == "" {
		typ = "sha256"
	}
	h, err := newHash(typ)
	if err != nil {
		return nil, err
	}
	imageHuman := HumanSize(m.ImageSize)
	var b bytes.Buffer
	b.Grow(1600 + len(m.Ranges)*(40+2*h.Size()))
	b.WriteString(headerComment)
	fmt.Fprintf(&b, "<bmap version=\"2.0\">\n    <!-- Image size in bytes: %s -->\n    <ImageSize> %d </ImageSize>\n\n", imageHuman, m.ImageSize)
	fmt.Fprintf(&b, "    <!-- Size of a block in bytes -->\n    <BlockSize> %d </BlockSize>\n\n", m.BlockSize)
	fmt.Fprintf(&b, "    <!-- Count of blocks in the image file -->\n    <BlocksCount> %d </BlocksCount>\n\n", m.BlocksCount)

	// bmaptool writes blanks first and overwrites them in place once the
	// mapped count is known; a longer text eats into what follows (tiny
	// images: "4.0 KiB or 100.0%  -->").
	b.WriteString("    <!-- Count of mapped blocks: ")
	mappedPos := b.Len()
	b.Write(bytes.Repeat([]byte{' '}, len(imageHuman)+len(" or ")+len("100.0%")))
	b.WriteString("   -->\n    <MappedBlocksCount> ")
	countPos := b.Len()
	b.Write(bytes.Repeat([]byte{' '}, len(strconv.FormatInt(m.BlocksCount, 10))))
	b.WriteString(" </MappedBlocksCount>\n\n")
	fmt.Fprintf(&b, "    <!-- Type of checksum used in this file -->\n    <ChecksumType> %s </ChecksumType>\n\n", typ)
	b.WriteString("    <!-- The checksum of this bmap file. When it is calculated, the value of\n")
	b.WriteString("         the checksum has to be zero (all ASCII \"0\" symbols).  -->\n")
	b.WriteString("    <BmapFileChecksum> ")
	sumPos := b.Len()
	b.Write(bytes.Repeat([]byte{'0'}, 2*h.Size()))
	b.WriteString(" </BmapFileChecksum>\n\n")
	b.WriteString("    <!-- The block map which consists of elements which may either be a\n")
	b.WriteString("         range of blocks or a single block. The 'chksum' attribute\n")
	b.WriteString("         (if present) is the checksum of this block range. -->\n")
	b.WriteString("    <BlockMap>\n")
	var mapped int64
	for _, r := range m.Ranges {
		mapped += r.Blocks()
		b.WriteString("        <Range")
		if len(r.Checksum) > 0 && m.ChecksumType != "" {
			b.WriteString(` chksum="`)
			b.WriteString(hex.EncodeToString(r.Checksum))
			b.WriteByte('"')
		}
		b.WriteString("> ")
		b.WriteString(strconv.FormatInt(r.First, 10))
		if r.Last != r.First {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(r.Last, 10))
		}
		b.WriteString(" </Range>\n")
	}
	b.WriteString("    </BlockMap>\n</bmap>\n")

	out := b.Bytes()
	percent := float64(mapped) * 100.0 / float64(m.BlocksCount)
	copy(out[mappedPos:], fmt.Sprintf("%s or %.1f%%", HumanSize(mapped*m.BlockSize), percent))
	copy(out[countPos:], strconv.FormatInt(mapped, 10))
	h.Write(out)
	copy(out[sumPos:], hex.EncodeToString(h.Sum(nil)))
	return out, nil
}

// HumanSize formats a byte count as bmaptool's human_size does.
func HumanSize(n int64) string {
	if n == 1 {
		return "1 byte"
	}
	if n < 512 {
		return fmt.Sprintf("%d bytes", n)
	}
	size := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		size /= 1024
		if size < 1024 {
			return fmt.Sprintf("%.1f %s", size, unit)
		}
	}
	return fmt.Sprintf("%.1f EiB", size)
}
