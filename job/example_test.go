package job_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/bmap-tools/bmap/job"
)

// Flash an image into a sparse file through its bmap, as "bmap create" and
// "bmap copy" do.
func Example() {
	dir, err := os.MkdirTemp("", "job-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A 1 MiB image holding 8 KiB of data at its start: the rest is a hole.
	image := filepath.Join(dir, "disk.img")
	f, err := os.Create(image)
	if err != nil {
		log.Fatal(err)
	}
	f.Truncate(1 << 20)
	f.WriteAt(make([]byte, 8192), 0)
	f.Write([]byte("boot sector"))
	f.Close()

	ctx := context.Background()
	if _, err := job.Create(ctx, job.CreateOptions{Image: image, Output: image + ".bmap"}); err != nil {
		log.Fatal(err)
	}
	// The bmap is found beside the image, as bmaptool finds it.
	res, err := job.Copy(ctx, job.CopyOptions{Image: image, Dest: filepath.Join(dir, "copy.img")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: wrote %d bytes of a %d-byte image, %d ranges verified\n",
		res.Info.DestKind, res.Stats.WrittenBytes, res.Info.ImageSize, res.Stats.VerifiedRanges)
	// Output:
	// file: wrote 8192 bytes of a 1048576-byte image, 1 ranges verified
}
