package fiemap_test

import (
	"fmt"
	"log"
	"os"

	"github.com/bmap-tools/bmap/fiemap"
)

func ExampleExtents() {
	f, err := os.CreateTemp("", "sparse")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()

	// A 1 MiB file that is all hole except 4 KiB at 512 KiB.
	if err := f.Truncate(1 << 20); err != nil {
		log.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 512<<10); err != nil {
		log.Fatal(err)
	}

	ext, err := fiemap.Extents(f)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range ext {
		fmt.Printf("data at [%d, %d)\n", e.Offset, e.End())
	}
	// Output:
	// data at [524288, 528384)
}
