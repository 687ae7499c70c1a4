package main

// The safety checks of copy on real block devices: a destination that is in
// use (a mounted partition, swap), reached through a symlink, not removable,
// or too small is refused with one line saying what and why, and not one
// byte of it changes; a copy stopped by a signal says so and exits 128+N;
// the partition table of a written image is read again. Loop devices over
// files in t.TempDir() stand in for SD cards. These need root (and losetup,
// sfdisk, ...); without them they skip, saying why. Cleanup undoes
// everything: swapoff, umount, losetup --detach.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/flash"
)

// sfDevSize is the size of the partitioned loop devices: a 12 MiB ext4
// partition and a swap partition in the rest.
const sfDevSize = 32 << 20

// sfTable is the sfdisk script of those devices.
const sfTable = "label: dos\n,12M,L\n,,S\n"

// sfAttach attaches a loop device with partition scanning to backing and
// detaches it when the test ends. It skips the test if that is impossible.
func sfAttach(t *testing.T, backing string) string {
	t.Helper()
	out, err := exec.Command("losetup", "--find", "--show", "--partscan", backing).CombinedOutput()
	if err != nil {
		t.Skipf("cannot set up a loop device here (losetup --find --show --partscan: %v: %s)", err, bytes.TrimSpace(out))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

// sfWaitFor waits up to a second for path to exist.
func sfWaitFor(path string) bool {
	for range 20 {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// sfPartitioned returns a loop device of sfDevSize bytes partitioned as
// sfTable, and its two partitions (/dev/loopNp1, /dev/loopNp2). The kernel
// finds them itself with --partscan; a kernel built without partition table
// parsers does not, and then partx registers them (BLKPG, which needs no
// parser).
func sfPartitioned(t *testing.T) (dev string, parts []string) {
	t.Helper()
	needRoot(t, "sfdisk")
	backing := filepath.Join(t.TempDir(), "backing")
	writeFile(t, backing, nil)
	if err := os.Truncate(backing, sfDevSize); err != nil {
		t.Fatal(err)
	}
	sfdisk(t, backing, sfTable)
	dev = sfAttach(t, backing)
	parts = []string{dev + "p1", dev + "p2"}
	// The kernel scans at attach: the partitions are in sysfs by now, or
	// never will be.
	sys := filepath.Join("/sys/class/block", filepath.Base(dev), filepath.Base(parts[1]))
	if _, err := os.Stat(sys); err != nil {
		if _, err := exec.LookPath("partx"); err != nil {
			t.Skipf("the kernel found no partitions on %s, and partx is not installed to add them", dev)
		}
		if out, err := exec.Command("partx", "--add", dev).CombinedOutput(); err != nil {
			t.Skipf("the kernel found no partitions on %s, and partx --add failed: %v: %s", dev, err, bytes.TrimSpace(out))
		}
		t.Logf("the kernel did not scan the partitions of %s; added them with partx", dev)
	}
	for _, p := range parts {
		if !sfWaitFor(p) {
			t.Skipf("no %s after attaching %s", p, dev)
		}
	}
	return dev, parts
}

// sfdisk writes a partition table described by script onto path.
func sfdisk(t *testing.T, path, script string) {
	t.Helper()
	cmd := exec.Command("sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", path)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk %s: %v: %s", path, err, out)
	}
}

// sfHash returns the SHA-256 of the first size bytes of dev, read past
// every cache (a partition's page cache is not the disk's).
func sfHash(t *testing.T, dev string, size int64) string {
	t.Helper()
	r, err := flash.OpenDirectReader(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	if n, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil || n != size {
		t.Fatalf("reading %s: %d of %d bytes: %v", dev, n, size, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sfUnchanged fails the test if dev's content differs from before.
func sfUnchanged(t *testing.T, dev string, size int64, before string) {
	t.Helper()
	if after := sfHash(t, dev, size); after != before {
		t.Errorf("%s changed: sha256 %s before, %s after", dev, before, after)
	}
}

// sfImage is a small image with its bmap, raw and gzipped.
type sfImage struct {
	*testImage
	bmap, gz string
}

func sfMakeImage(t *testing.T) sfImage {
	t.Helper()
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	createBmap(t, img.path, bm)
	return sfImage{testImage: img, bmap: bm, gz: compress(t, formatNamed(t, "gzip"), img.path, dir)}
}

// sfMkfs makes an ext4 filesystem on dev without lazy initialisation (the
// kernel would otherwise write to it in the background while the test
// compares its content) and mounts it; it returns the mount point.
func sfMkfs(t *testing.T, dev string) string {
	t.Helper()
	execute(t, "", "mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", dev)
	mnt := t.TempDir()
	mount(t, mnt, dev)
	execute(t, "", "sync")
	return mnt
}

// sfRefused runs copy with args and checks that it was refused (exit 1, one
// error line containing every want) and that dev did not change.
func sfRefused(t *testing.T, dev string, size int64, before string, args []string, want ...string) {
	t.Helper()
	r := runBmap(t, nil, append([]string{"copy"}, args...)...)
	wantFailure(t, r, exitFailure, want...)
	if strings.Contains(r.stderr, "copying image") {
		t.Errorf("the refused copy started:\n%s", r.stderr)
	}
	// --force cannot help with a device the kernel holds: no hint to it.
	if !containsString(args, "--force") && strings.Contains(r.stderr, "--force") {
		t.Errorf("the refusal suggests --force, which the kernel's exclusive open defeats:\n%s", r.stderr)
	}
	sfUnchanged(t, dev, size, before)
}

// TestSafetyMountedPartition: a disk one of whose partitions is mounted is
// refused, naming the partition and the mount point; so is the mounted
// partition itself. --force skips bmap's check, but the kernel refuses the
// exclusive open (EBUSY): the device is unchanged either way.
func TestSafetyMountedPartition(t *testing.T) {
	needRoot(t, "sfdisk", "mkfs.ext4", "mount", "umount")
	img := sfMakeImage(t)
	dev, parts := sfPartitioned(t)
	mnt := sfMkfs(t, parts[0])
	before := sfHash(t, dev, sfDevSize)
	p1 := filepath.Base(parts[0])

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"disk", []string{"--bmap", img.bmap, img.path, dev}, []string{"refusing", dev, p1 + " is mounted on " + mnt, "unmount " + p1}},
		{"disk-nobmap", []string{"--nobmap", img.gz, dev}, []string{"refusing", dev, p1, mnt}},
		{"disk-force", []string{"--force", "--bmap", img.bmap, img.path, dev}, []string{dev, "busy"}},
		{"partition", []string{"--bmap", img.bmap, img.path, parts[0]}, []string{"refusing", parts[0], "mounted on " + mnt}},
		{"partition-force", []string{"--force", "--nobmap", img.path, parts[0]}, []string{parts[0], "busy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sfRefused(t, dev, sfDevSize, before, tt.args, tt.want...)
		})
	}
	// The other partition is free: writing it is no business of the
	// mounted one.
	t.Run("sibling", func(t *testing.T) {
		mustRun(t, nil, "copy", "--bmap", img.bmap, img.path, parts[1])
		// The partition was zeros, as are the image's holes.
		sameBytes(t, parts[1], readDevice(t, parts[1], len(img.data)), img.data)
	})
}

// TestSafetySwapPartition: a disk with a partition used as swap is refused,
// naming the partition and saying swap; the kernel refuses it even with
// --force.
func TestSafetySwapPartition(t *testing.T) {
	needRoot(t, "sfdisk", "mkswap", "swapon", "swapoff")
	img := sfMakeImage(t)
	dev, parts := sfPartitioned(t)
	execute(t, "", "mkswap", parts[1])
	if out, err := exec.Command("swapon", parts[1]).CombinedOutput(); err != nil {
		t.Skipf("cannot enable swap here (swapon %s: %v: %s)", parts[1], err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("swapoff", parts[1]).CombinedOutput(); err != nil {
			t.Errorf("swapoff %s: %v: %s", parts[1], err, out)
		}
	})
	// The kernel may swap out to the partition at any time (this test's
	// memory limits are not ours to know): compare the device up to the
	// end of the swap header, not the swapped pages. A write of the image
	// would change its first block.
	start, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(parts[1]), "start"))
	if err != nil {
		t.Fatal(err)
	}
	sectors, err := strconv.ParseInt(strings.TrimSpace(string(start)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	size := sectors*512 + 4096
	before := sfHash(t, dev, size)
	p2 := filepath.Base(parts[1])

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"disk", []string{"--bmap", img.bmap, img.path, dev}, []string{"refusing", dev, p2 + " is used as swap"}},
		{"disk-force", []string{"--force", "--bmap", img.bmap, img.gz, dev}, []string{dev, "busy"}},
		{"partition", []string{"--nobmap", img.path, parts[1]}, []string{"refusing", parts[1], "swap"}},
		{"partition-force", []string{"--force", "--nobmap", img.path, parts[1]}, []string{parts[1], "busy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sfRefused(t, dev, size, before, tt.args, tt.want...)
		})
	}
}

// sfLinks makes the kind of links udev makes, in a temporary directory: an
// absolute link to dev, and a relative link to that one, as
// /dev/disk/by-id/usb-... → ../../sdb. It returns the relative one.
func sfLinks(t *testing.T, dev string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(dev, filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	byID := filepath.Join(dir, "disk", "by-id")
	if err := os.MkdirAll(byID, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(byID, "usb-Fake_Card_Reader_0123-0:0")
	if err := os.Symlink("../../alias", link); err != nil {
		t.Fatal(err)
	}
	return link
}

// TestSafetySymlink: a destination given as a symlink is resolved before it
// is checked: a link to a mounted device is refused, a link to a free one
// is written.
func TestSafetySymlink(t *testing.T) {
	needRoot(t, "mkfs.ext4", "mount", "umount")
	img := sfMakeImage(t)

	t.Run("mounted", func(t *testing.T) {
		const size = 16 << 20
		backing := filepath.Join(t.TempDir(), "backing")
		writeFile(t, backing, nil)
		if err := os.Truncate(backing, size); err != nil {
			t.Fatal(err)
		}
		dev := loopDevice(t, backing)
		mnt := sfMkfs(t, dev)
		link := sfLinks(t, dev)
		before := sfHash(t, dev, size)
		sfRefused(t, dev, size, before, []string{"--bmap", img.bmap, img.path, link},
			"refusing", link, filepath.Base(dev)+" is mounted on "+mnt)
		sfRefused(t, dev, size, before, []string{"--force", "--bmap", img.bmap, img.path, link}, "busy")
	})

	t.Run("free", func(t *testing.T) {
		const size = 4 << 20
		old := oldContent(size)
		dev := deviceWith(t, old)
		link := sfLinks(t, dev)
		r := mustRun(t, nil, "-d", "copy", "--nobmap", img.gz, link)
		if !strings.Contains(r.stderr, link+" is "+dev) {
			t.Errorf("the debug output does not say %s is %s:\n%s", link, dev, r.stderr)
		}
		if !strings.Contains(r.stderr, "block device") {
			t.Errorf("stderr does not say %s is a block device:\n%s", link, r.stderr)
		}
		want := bytes.Clone(old)
		copy(want, img.data)
		sameBytes(t, dev, readDevice(t, dev, size), want)
		if fi, err := os.Lstat(link); err != nil {
			t.Error(err)
		} else if fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link %s was replaced by a %v", link, fi.Mode().Type())
		}
	})
}

// TestSafetyRemovable: --removable-device refuses a loop device, which is
// not removable, even with --force; on a partition the message names the
// disk it is on.
func TestSafetyRemovable(t *testing.T) {
	needRoot(t, "sfdisk")
	img := sfMakeImage(t)
	dev, parts := sfPartitioned(t)
	disk := filepath.Base(dev)
	if b, err := os.ReadFile(filepath.Join("/sys/block", disk, "removable")); err != nil || strings.TrimSpace(string(b)) != "0" {
		t.Skipf("%s does not say it is fixed (/sys/block/%s/removable: %q, %v)", dev, disk, b, err)
	}
	before := sfHash(t, dev, sfDevSize)

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"disk", []string{"--removable-device", "--bmap", img.bmap, img.path, dev}, []string{dev, "not a removable block device", "--removable-device"}},
		{"force", []string{"--removable-device", "--force", "--bmap", img.bmap, img.path, dev}, []string{dev, "not a removable block device"}},
		{"partition", []string{"--removable-device", "--nobmap", img.path, parts[0]}, []string{parts[0] + " (" + disk + ")", "not a removable block device"}},
		{"link-to-partition", []string{"--removable-device", "--nobmap", img.gz, sfLinks(t, parts[1])}, []string{"(" + disk + ")", "not a removable block device"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sfRefused(t, dev, sfDevSize, before, tt.args, tt.want...)
		})
	}
}

// TestSafetyTooSmallForce: an image larger than the device is refused before
// anything is written, and --force does not override that (the sizes are
// known from the bmap or the raw file). TestCopyDeviceTooSmall checks the
// same without --force.
func TestSafetyTooSmallForce(t *testing.T) {
	needRoot(t)
	img := sfMakeImage(t)
	const size = 1 << 20
	dev := deviceWith(t, oldContent(size))
	before := sfHash(t, dev, size)
	tests := []struct {
		name string
		args []string
	}{
		{"raw", []string{"--force", "--bmap", img.bmap, img.path, dev}},
		{"gzip", []string{"--force", "--bmap", img.bmap, img.gz, dev}},
		{"nobmap-raw", []string{"--nobmap", "--force", img.path, dev}},
		{"no-verify", []string{"--force", "--no-verify", "--bmap", img.bmap, img.path, dev}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sfRefused(t, dev, size, before, tt.args, dev, strconv.Itoa(len(img.data)), strconv.Itoa(size))
		})
	}
	// A compressed image without a bmap has no known size: the copy
	// finds out when the device ends. It must fail, never report success.
	t.Run("nobmap-gzip", func(t *testing.T) {
		r := runBmap(t, nil, "copy", "--force", "--nobmap", img.gz, dev)
		wantFailure(t, r, exitFailure, dev)
	})
}

// sfStdin is a pipe fed with data in small chunks and pauses, so a copy
// from it runs for a while; consumed counts what the reader has taken (the
// pipe buffers at most 64 KiB more).
type sfStdin struct {
	r, w     *os.File
	consumed atomic.Int64
}

func sfSlowStdin(t *testing.T, data []byte, chunk int, pause time.Duration) *sfStdin {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &sfStdin{r: pr, w: pw}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	go func() {
		defer pw.Close()
		for len(data) > 0 {
			k := min(chunk, len(data))
			n, err := pw.Write(data[:k])
			s.consumed.Add(int64(n))
			if err != nil {
				return // the reader is gone
			}
			data = data[k:]
			time.Sleep(pause)
		}
	}()
	return s
}

// TestSafetyInterrupt stops the built program with SIGINT and SIGTERM in the
// middle of a copy from a slow stdin: it stops reading at once, exits 128+N
// within a few seconds, and says it was interrupted and what the destination
// holds: a device holds an incomplete image, a file keeps its old content
// (the image was being written beside it).
func TestSafetyInterrupt(t *testing.T) {
	bin := builtBinary(t)
	dir := t.TempDir()
	// 8 MiB, nearly all mapped; fed at 32 KiB every 20 ms it takes 5 s to
	// arrive.
	img := makeImage(t, dir, "big.img", imageSpec{
		size:   2048 * testBlockSize,
		ranges: []blockRange{{0, 1500, 'r'}, {1600, 2047, 't'}},
		seed:   5,
	})
	bm := filepath.Join(dir, "big.img.bmap")
	createBmap(t, img.path, bm)

	dests := []struct {
		name string
		dest func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string {
			dest := filepath.Join(t.TempDir(), "out.img")
			writeFile(t, dest, []byte("precious\n"))
			return dest
		}},
		{"loop", func(t *testing.T) string {
			needRoot(t)
			return deviceWith(t, oldContent(len(img.data)))
		}},
	}
	sigs := []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGINT, "SIGINT", 130},
		{syscall.SIGTERM, "SIGTERM", 143},
	}
	for _, d := range dests {
		for _, s := range sigs {
			t.Run(d.name+"-"+s.name, func(t *testing.T) {
				dest := d.dest(t)
				in := sfSlowStdin(t, img.data, 32<<10, 20*time.Millisecond)
				cmd := exec.Command(bin, "copy", "--bmap", bm, "-", dest)
				var stderr bytes.Buffer
				cmd.Stdin, cmd.Stderr = in.r, &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				in.r.Close() // the child has it
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()

				// Running: past the checks, and reading the image (the
				// pipe holds 64 KiB that nobody read).
				const running = 512 << 10
				deadline := time.Now().Add(5 * time.Second)
				for in.consumed.Load() < running && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				select {
				case err := <-done:
					t.Fatalf("the copy ended before it was interrupted: %v\n%s", err, stderr.String())
				default:
				}
				if in.consumed.Load() < running {
					cmd.Process.Kill()
					<-done
					t.Fatalf("the copy did not read its image within 5 s\n%s", stderr.String())
				}
				if err := cmd.Process.Signal(s.sig); err != nil {
					t.Fatal(err)
				}
				sent, atSignal := time.Now(), in.consumed.Load()
				var err error
				select {
				case err = <-done:
				case <-time.After(5 * time.Second):
					cmd.Process.Kill()
					<-done
					t.Fatalf("still running 5 s after %s\n%s", s.name, stderr.String())
				}
				took := time.Since(sent)
				after := in.consumed.Load() - atSignal
				t.Logf("exited %v after %s; %d bytes were fed after it", took.Round(time.Millisecond), s.name, after)
				if took > 4*time.Second {
					t.Errorf("took %v to exit after %s, want a few seconds at most", took, s.name)
				}
				// It stops reading at once, not when its 4 MiB buffer
				// is full (over 2 s at this rate).
				if after > 1<<20 {
					t.Errorf("%d bytes of the image were read after %s", after, s.name)
				}
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("exit: %v, want status %d\n%s", err, s.code, stderr.String())
				}
				if ee.ExitCode() != s.code {
					t.Errorf("exit status %d (%v), want %d", ee.ExitCode(), ee, s.code)
				}
				msg := errorLine(t, result{stderr: stderr.String(), code: ee.ExitCode()})
				holds := "incomplete"
				if d.name == "file" {
					holds = "was left as it was"
					if got := string(readFile(t, dest)); got != "precious\n" {
						t.Errorf("after the interrupted copy, %s holds %d bytes, want its old content", dest, len(got))
					}
					if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), ".*")); len(left) > 0 {
						t.Errorf("the interrupted copy left %v behind", left)
					}
				}
				for _, w := range []string{"interrupted by " + s.name, dest, holds} {
					if !strings.Contains(msg, w) {
						t.Errorf("error %q does not mention %q", msg, w)
					}
				}
				if in.consumed.Load() >= int64(len(img.data)) {
					t.Errorf("the whole image was read: the signal came too late to test anything")
				}
			})
		}
	}
}

// TestSafetyRereadPartitions: after an image with a partition table is
// written to a disk, the kernel knows the image's partitions (BLKRRPART).
func TestSafetyRereadPartitions(t *testing.T) {
	needRoot(t, "sfdisk")
	dir := t.TempDir()
	image := filepath.Join(dir, "part.img")
	writeFile(t, image, nil)
	if err := os.Truncate(image, 8<<20); err != nil {
		t.Fatal(err)
	}
	sfdisk(t, image, "label: dos\n,4M,L\n")
	// Something in the partition, so it has mapped blocks beyond the table.
	f, err := os.OpenFile(image, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte("partition data "), 1000), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	bm := filepath.Join(dir, "part.img.bmap")
	createBmap(t, image, bm)

	// Does this kernel read partition tables at all? Attach the image
	// itself, read-only, and look.
	probe, detach := sfAttachRO(t, image)
	found := sfWaitFor(probe + "p1")
	detach()
	if !found {
		t.Skipf("this kernel does not read partition tables: losetup --partscan of an image with one partition shows no %sp1 (built without CONFIG_MSDOS_PARTITION and CONFIG_EFI_PARTITION?)", probe)
	}

	backing := filepath.Join(dir, "backing")
	writeFile(t, backing, nil)
	if err := os.Truncate(backing, 16<<20); err != nil {
		t.Fatal(err)
	}
	dev := sfAttach(t, backing)
	if _, err := os.Stat(dev + "p1"); err == nil {
		t.Fatalf("%sp1 exists before the copy", dev)
	}
	mustRun(t, nil, "copy", "--bmap", bm, image, dev)
	if !sfWaitFor(dev + "p1") {
		t.Errorf("no %sp1 after copying an image with a partition onto %s: the partition table was not re-read", dev, dev)
	}
	if b, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(dev)+"p1", "size")); err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(4<<20/512) {
		t.Errorf("%sp1 is %q sectors (%v), want %d", dev, b, err, 4<<20/512)
	}
}

// sfAttachRO attaches a read-only loop device with partition scanning. It
// returns the device and a function that detaches it, which the test's
// cleanup calls too if the test did not (but never twice: the number may
// have gone to another device by then).
func sfAttachRO(t *testing.T, backing string) (string, func()) {
	t.Helper()
	out, err := exec.Command("losetup", "--find", "--show", "--partscan", "--read-only", backing).CombinedOutput()
	if err != nil {
		t.Skipf("cannot set up a loop device here (losetup --find --show --partscan --read-only: %v: %s)", err, bytes.TrimSpace(out))
	}
	dev := strings.TrimSpace(string(out))
	var once sync.Once
	detach := func() {
		once.Do(func() {
			if out, err := exec.Command("losetup", "--detach", dev).CombinedOutput(); err != nil {
				t.Errorf("losetup --detach %s: %v: %s", dev, err, out)
			}
		})
	}
	t.Cleanup(detach)
	return dev, detach
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
