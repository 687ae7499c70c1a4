package fiemap

import (
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	blk = 4 * kib // the block size the exact expectations below assume
)

func TestStructSizes(t *testing.T) {
	if got := unsafe.Sizeof(fiemapHeader{}); got != 32 {
		t.Errorf("unsafe.Sizeof(fiemapHeader{}) = %d, want 32 (struct fiemap)", got)
	}
	if got := unsafe.Sizeof(fiemapExtent{}); got != 56 {
		t.Errorf("unsafe.Sizeof(fiemapExtent{}) = %d, want 56 (struct fiemap_extent)", got)
	}
}

// layout is a file built at test time: truncated to size, then fallocated,
// written with random bytes, fallocated past EOF and punched, in that order.
type layout struct {
	name     string
	size     int64
	falloc   []Extent // fallocate(0): unwritten extents inside the file
	writes   []Extent
	keepSize []Extent // fallocate(FALLOC_FL_KEEP_SIZE), may be past EOF
	punch    []Extent // fallocate(FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE)
	want     []Extent // exact result with 4 KiB blocks on ext4
	wantSeek []Extent // exact MethodSeek result if it differs from want (unwritten extents)
	seekDiff bool     // wantSeek applies, even if nil
}

var layouts = []layout{
	{name: "empty"},
	{name: "all hole", size: mib},
	{name: "fully written", size: mib, writes: []Extent{{0, mib}}, want: []Extent{{0, mib}}},
	{
		name: "blocks", size: mib,
		writes: []Extent{{0, blk}, {5 * blk, 3 * blk}, {100 * blk, blk}, {255 * blk, blk}},
		want:   []Extent{{0, blk}, {5 * blk, 3 * blk}, {100 * blk, blk}, {255 * blk, blk}},
	},
	{
		name: "partial last block", size: mib + 1000,
		writes: []Extent{{10 * blk, blk}, {mib, 1000}},
		want:   []Extent{{10 * blk, blk}, {mib, 1000}},
	},
	{
		name: "unaligned write spans two blocks", size: mib,
		writes: []Extent{{blk - 1, 10}},
		want:   []Extent{{0, 2 * blk}},
	},
	{
		name: "data then hole to end", size: 64 * mib,
		writes: []Extent{{0, 3 * blk}},
		want:   []Extent{{0, 3 * blk}},
	},
	{
		name: "punched", size: mib,
		writes: []Extent{{0, mib}},
		punch:  []Extent{{256 * kib, 256 * kib}},
		want:   []Extent{{0, 256 * kib}, {512 * kib, 512 * kib}},
	},
	{
		name: "fallocated only", size: mib,
		falloc:   []Extent{{0, mib}},
		want:     []Extent{{0, mib}},
		seekDiff: true, wantSeek: nil,
	},
	{
		name: "fallocated and partly written", size: mib,
		falloc:   []Extent{{10 * blk, 10 * blk}},
		writes:   []Extent{{12 * blk, blk}, {30 * blk, blk}},
		want:     []Extent{{10 * blk, 10 * blk}, {30 * blk, blk}},
		seekDiff: true, wantSeek: []Extent{{12 * blk, blk}, {30 * blk, blk}},
	},
	{
		name: "preallocated past EOF", size: 64 * kib,
		writes:   []Extent{{0, blk}},
		keepSize: []Extent{{64 * kib, 64 * kib}},
		want:     []Extent{{0, blk}},
	},
}

// build creates l in dir and returns it open for reading and writing.
func (l layout) build(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "img"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(l.size); err != nil {
		t.Fatal(err)
	}
	fallocate := func(mode uint32, ext []Extent) {
		for _, e := range ext {
			if err := unix.Fallocate(int(f.Fd()), mode, e.Offset, e.Length); err != nil {
				if errors.Is(err, unix.EOPNOTSUPP) {
					t.Skipf("fallocate(%#x) unsupported on %s", mode, dir)
				}
				t.Fatalf("fallocate(%#x, %v): %v", mode, e, err)
			}
		}
	}
	fallocate(0, l.falloc)
	for _, e := range l.writes {
		buf := make([]byte, e.Length)
		rand.Read(buf)
		if _, err := f.WriteAt(buf, e.Offset); err != nil {
			t.Fatal(err)
		}
	}
	fallocate(unix.FALLOC_FL_KEEP_SIZE, l.keepSize)
	fallocate(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, l.punch)
	return f
}

// written returns the ranges that hold written data: writes less punch.
func (l layout) written() []Extent {
	out := slices.Clone(l.writes)
	for _, p := range l.punch {
		var next []Extent
		for _, w := range out {
			if left := min(w.End(), p.Offset) - w.Offset; left > 0 {
				next = append(next, Extent{w.Offset, left})
			}
			if start := max(w.Offset, p.End()); start < w.End() {
				next = append(next, Extent{start, w.End() - start})
			}
		}
		out = next
	}
	return out
}

// fsInfo says whether dir is on ext4 or tmpfs with 4 KiB blocks, where the
// layouts' results are exact.
func fsInfo(t *testing.T, dir string) (ext4, tmpfs bool) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Type == unix.EXT4_SUPER_MAGIC && st.Bsize == blk, st.Type == unix.TMPFS_MAGIC && st.Bsize == blk
}

// checkExtents checks the package invariants of ext for a file of the given
// size, and that ext covers every byte in cover.
func checkExtents(t *testing.T, what string, ext []Extent, size int64, cover []Extent) {
	t.Helper()
	for i, e := range ext {
		if e.Offset < 0 || e.Length <= 0 || e.End() > size {
			t.Errorf("%s: extent %d = %v: outside [0, %d) or empty", what, i, e, size)
		}
		if i > 0 && ext[i-1].End() >= e.Offset {
			t.Errorf("%s: extents %d and %d (%v, %v) not sorted and separated", what, i-1, i, ext[i-1], e)
		}
	}
	for _, c := range normalize(slices.Clone(cover), size) {
		if !slices.ContainsFunc(ext, func(e Extent) bool { return e.Offset <= c.Offset && c.End() <= e.End() }) {
			t.Errorf("%s = %v: does not cover %v", what, ext, c)
		}
	}
}

// testLayouts runs every layout in dir with FIEMAP, SEEK_DATA/SEEK_HOLE and
// ExtentsMethod. exactFIEMAP and exactSeek say whether the methods report
// exactly layout.want (and wantSeek); else only coverage is checked.
func testLayouts(t *testing.T, dir string, method Method, exactFIEMAP, exactSeek bool) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			f := l.build(t, dir)
			wantSeek := l.want
			if l.seekDiff {
				wantSeek = l.wantSeek
			}

			got, m, err := ExtentsMethod(f)
			if err != nil {
				t.Fatalf("ExtentsMethod: %v", err)
			}
			if m != method {
				t.Errorf("ExtentsMethod used %v, want %v", m, method)
			}
			checkExtents(t, "ExtentsMethod", got, l.size, l.written())

			if method == MethodFIEMAP {
				fm, err := extentsWith(f, MethodFIEMAP)
				if err != nil {
					t.Fatalf("FIEMAP: %v", err)
				}
				checkExtents(t, "FIEMAP", fm, l.size, append(l.written(), l.falloc...))
				if exactFIEMAP && !slices.Equal(fm, l.want) {
					t.Errorf("FIEMAP = %v, want %v", fm, l.want)
				}
			}

			if _, err := f.Seek(123, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			sk, err := extentsWith(f, MethodSeek)
			if err != nil {
				t.Fatalf("SEEK_DATA: %v", err)
			}
			if off, _ := f.Seek(0, io.SeekCurrent); off != 123 {
				t.Errorf("SEEK_DATA left the file offset at %d, want 123", off)
			}
			checkExtents(t, "SEEK_DATA", sk, l.size, l.written())
			if exactSeek && !slices.Equal(sk, wantSeek) {
				t.Errorf("SEEK_DATA = %v, want %v", sk, wantSeek)
			}
		})
	}
}

func TestExtentsTempDir(t *testing.T) {
	dir := t.TempDir()
	ext4, _ := fsInfo(t, dir)
	if !ext4 {
		t.Logf("%s is not ext4 with 4 KiB blocks: checking coverage only", dir)
	}
	testLayouts(t, dir, MethodFIEMAP, ext4, ext4)
}

// TestExtentsTmpfs mounts a tmpfs, which has no FIEMAP, to test the
// SEEK_DATA fallback.
func TestExtentsTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; TestExtentsDevShm covers tmpfs without")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=128m"); err != nil {
		t.Skipf("mount -t tmpfs %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v", dir, err)
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	testTmpfs(t, dir)
}

// TestExtentsDevShm is TestExtentsTmpfs for /dev/shm, which needs no root.
func TestExtentsDevShm(t *testing.T) {
	if _, tmpfs := fsInfo(t, "/dev/shm"); !tmpfs {
		t.Skip("/dev/shm is not a tmpfs with 4 KiB pages")
	}
	dir, err := os.MkdirTemp("/dev/shm", "fiemap-test-")
	if err != nil {
		t.Skipf("/dev/shm not writable: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	testTmpfs(t, dir)
}

func testTmpfs(t *testing.T, dir string) {
	if _, tmpfs := fsInfo(t, dir); !tmpfs {
		t.Fatalf("%s: not a tmpfs with 4 KiB pages", dir)
	}
	t.Run("no FIEMAP", func(t *testing.T) {
		f := layouts[0].build(t, dir)
		_, err := extentsWith(f, MethodFIEMAP)
		var pe *os.PathError
		if !errors.Is(err, unix.EOPNOTSUPP) || !errors.As(err, &pe) || pe.Op != "fiemap" || pe.Path != f.Name() {
			t.Errorf("FIEMAP on tmpfs: %v; want a *os.PathError{Op: \"fiemap\", Path: %q} wrapping EOPNOTSUPP", err, f.Name())
		}
	})
	testLayouts(t, dir, MethodSeek, false, true)
}

// TestManyExtents maps every other block of a 16 MiB file: 2048 extents,
// several FIEMAP calls. Not more: on ext4 mounted with -o discard, deleting
// the file costs one discard per extent (about 2 ms each on a virtio disk).
func TestManyExtents(t *testing.T) {
	size := int64(16 * mib)
	if testing.Short() {
		size = 4 * mib // 512 extents, one FIEMAP call of extentsPerCall
	}
	n := int(size / blk / 2)
	dir := t.TempDir()
	ext4, _ := fsInfo(t, dir)
	if !ext4 {
		t.Skipf("%s is not ext4 with 4 KiB blocks", dir)
	}
	f, err := os.Create(filepath.Join(dir, "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, blk)
	rand.Read(buf)
	want := make([]Extent, n)
	for i := range want {
		want[i] = Extent{int64(2*i) * blk, blk}
		if _, err := f.WriteAt(buf, want[i].Offset); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, got []Extent, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d extents, want %d", what, len(got), len(want))
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("%s: extent %d = %v, want %v", what, i, got[i], want[i])
				}
			}
		}
	}
	got, m, err := ExtentsMethod(f)
	check("ExtentsMethod", got, err)
	if m != MethodFIEMAP {
		t.Errorf("ExtentsMethod used %v, want FIEMAP", m)
	}
	got, err = extentsWith(f, MethodSeek)
	check("SEEK_DATA", got, err)
	for _, per := range []int{1, 7, n - 1, n, n + 1} { // loop boundaries
		got, err := fiemapExtents(f, size, per)
		check("FIEMAP", normalize(got, size), err)
	}
}

func TestBlockSize(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if got, err := BlockSize(f); err != nil || got != int64(st.Bsize) {
		t.Errorf("BlockSize = %d, %v; want %d (statfs f_bsize)", got, err, st.Bsize)
	}
	f.Close()
	if got, err := BlockSize(f); err == nil {
		t.Errorf("BlockSize(closed file) = %d, nil; want an error", got)
	}
}

func TestUnsupported(t *testing.T) {
	wrap := func(errno error) error {
		return &os.PathError{Op: "fiemap", Path: "x", Err: os.NewSyscallError("ioctl(FS_IOC_FIEMAP)", errno)}
	}
	tests := []struct {
		m    Method
		err  error
		want bool
	}{
		{MethodFIEMAP, wrap(unix.EOPNOTSUPP), true},
		{MethodFIEMAP, wrap(unix.ENOTTY), true},
		{MethodFIEMAP, wrap(unix.EINVAL), true},
		{MethodFIEMAP, wrap(unix.EIO), false},
		{MethodFIEMAP, wrap(unix.EBADF), false},
		{MethodSeek, wrap(unix.EINVAL), true},
		{MethodSeek, wrap(unix.EOPNOTSUPP), false},
		{MethodSeek, wrap(unix.EIO), false},
		{MethodWhole, wrap(unix.EINVAL), false},
	}
	for _, tt := range tests {
		if got := unsupported(tt.m, tt.err); got != tt.want {
			t.Errorf("unsupported(%v, %v) = %v, want %v", tt.m, tt.err, got, tt.want)
		}
	}
}

// BenchmarkExtents maps a 2 GiB file with 8192 fallocated 4 KiB extents
// (FIEMAP counts them as data; no data is written).
func BenchmarkExtents(b *testing.B) {
	const size, n = 2 << 30, 8192
	f, err := os.Create(filepath.Join(b.TempDir(), "img"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	for i := range int64(n) {
		if err := unix.Fallocate(int(f.Fd()), 0, i*(size/n), blk); err != nil {
			b.Skipf("fallocate: %v", err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ext, m, err := ExtentsMethod(f)
		if err != nil || len(ext) != n {
			b.Fatalf("ExtentsMethod = %d extents, %v, %v; want %d", len(ext), m, err, n)
		}
	}
}
