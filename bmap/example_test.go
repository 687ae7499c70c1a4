package bmap_test

import (
	"fmt"
	"log"
	"os"

	"github.com/bmap-tools/bmap/bmap"
)

func ExampleParse() {
	f, err := os.Open("../testdata/sample.img.bmap")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	m, err := bmap.Parse(f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("format %s, %s image: %d blocks of %d bytes, %d mapped (%s) in %d ranges\n",
		m.Version, bmap.HumanSize(m.ImageSize), m.BlocksCount, m.BlockSize,
		m.MappedBlocksCount, bmap.HumanSize(m.MappedBytes()), len(m.Ranges))
	for _, r := range m.Ranges[len(m.Ranges)-2:] {
		fmt.Printf("blocks %d-%d: bytes [%d, %d), %s %x...\n",
			r.First, r.Last, m.Offset(r), m.Offset(r)+m.Length(r), m.ChecksumType, r.Checksum[:4])
	}
	// Output:
	// format 2.0, 6.0 MiB image: 1537 blocks of 4096 bytes, 156 mapped (622.3 KiB) in 12 ranges
	// blocks 1400-1415: bytes [5734400, 5799936), sha256 c4ad9b45...
	// blocks 1535-1536: bytes [6287360, 6293801), sha256 e3e84256...
}
