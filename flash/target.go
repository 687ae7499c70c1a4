package flash

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// Kind is what a destination path is.
type Kind int

const (
	RegularFile Kind = iota
	BlockDevice
	CharDevice
)

func (k Kind) String() string {
	switch k {
	case BlockDevice:
		return "block device"
	case CharDevice:
		return "character device"
	}
	return "file"
}

// ErrTooSmall is returned (wrapped) by OpenTarget when the image does not fit
// the block device.
var ErrTooSmall = errors.New("flash: image does not fit the device")

// A Target is an opened destination. It writes with O_DIRECT where it can
// (aligned buffers and offsets; see WriteAt) and falls back to buffered
// writes for what is not aligned, such as an image's partial last block.
//
// A regular file is not written where it is: the image goes to a new file
// beside it, which Commit renames over it once the copy is complete and
// checked, so a failed or interrupted copy leaves the old file as it was
// (see OpenTarget).
type Target struct {
	f    *os.File
	path string // what is written: for a replaced regular file, the new file beside it
	dest string // the destination as given
	kind Kind
	size int64 // device size; for a regular file the image size, -1 unknown
	// offset is where the image starts: WriteAt's offsets are the
	// image's, the destination's are offset more.
	offset int64

	replace   string // a regular file to rename path over at Commit; "" in place
	committed bool

	direct     bool  // f is currently in O_DIRECT mode
	canDirect  bool  // O_DIRECT may be used
	sectorSize int64 // alignment O_DIRECT needs for offsets and lengths

	// Flushing behind the writes (see WriteAt).
	unflushed int64          // bytes written since the last flush started
	flushing  atomic.Bool    // a flush is running
	flushes   sync.WaitGroup // the running flush
	flushErr  error          // the first failed flush; read after flushes.Wait
}

// flushEvery is how many bytes WriteAt writes between two flushes it starts
// in the background. A variable so tests can lower it.
//
// On the benchmark VM's disk a flush stops the writes until it ends (an
// O_DIRECT write waits for the whole of an fsync, even of another file), so
// short flushes suit the pipeline: its buffers ride them out. A zst copy of
// the benchmark image, medians of runs alternated: 2.35 s with 32 MiB, 2.43
// s with 64 MiB, 2.62 s with 128 MiB, 2.68 s with 512 MiB and 2.77 s with
// no flush behind (9 runs each); in another run 2.33 against 2.42 s for 32
// and 128 MiB (7 runs). A raw copy was unchanged (1.78 and 1.87 s).
var flushEvery int64 = 32 << 20

var _ io.WriterAt = (*Target)(nil)

// ErrNoSpace is returned (wrapped) by OpenTarget when the filesystem of a
// regular-file destination has less free space than the image's data.
var ErrNoSpace = errors.New("flash: not enough free space")

// TargetOptions describe the image a destination will receive.
type TargetOptions struct {
	// ImageSize is the image's size in bytes, -1 if unknown.
	ImageSize int64
	// MappedBytes is how many bytes will be written (the data a sparse
	// file will hold), -1 if unknown: a regular file's filesystem must
	// have that much free.
	MappedBytes int64
	// InPlace writes a regular file where it is, keeping what is not
	// written, instead of replacing it.
	InPlace bool
	// Offset is where the image starts in the destination, in bytes: a
	// bootloader at 8 KiB, a partition's image inside a whole-disk file.
	// A regular file is then written in place, and only ever grown. An
	// offset that is not a multiple of the device's sector size is
	// written through the page cache (O_DIRECT needs aligned offsets).
	Offset int64
}

// OpenTarget checks and opens the destination at path:
//   - a regular file is replaced: the image is written to a new file beside
//     it (".NAME.bmap-*", in the same directory), sized to the image so
//     unwritten ranges are holes, and Commit renames it over the old one;
//     until then the old file is untouched, and Close without Commit
//     removes the new one. Where no file can be created beside it (a
//     directory without write permission), the file is truncated and
//     written in place. Either way the filesystem must first have
//     MappedBytes free (or, in place, with the old file's space counted).
//     With InPlace the file is opened where it is, not truncated;
//   - a block device is opened exclusively (the kernel refuses a mounted or
//     otherwise busy device) and must be at least ImageSize bytes;
//   - a character device (such as /dev/null) is opened for writing.
//
// A path under /dev that does not exist is an error: a typo there would
// otherwise create a file on the root filesystem.
func OpenTarget(path string, o TargetOptions) (*Target, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if abs, _ := filepath.Abs(path); strings.HasPrefix(abs, "/dev/") {
			return nil, fmt.Errorf("%s does not exist: no such device (refusing to create a regular file under /dev)", path)
		}
		return openFile(path, nil, o)
	case err != nil:
		return nil, err
	}
	switch mode := fi.Mode(); {
	case mode.IsRegular():
		return openFile(path, fi, o)
	case mode&os.ModeDevice != 0 && mode&os.ModeCharDevice == 0:
		need := o.ImageSize
		if need >= 0 {
			need += o.Offset
		}
		t, err := openBlockDevice(path, need)
		if err != nil {
			if errors.Is(err, ErrTooSmall) {
				if o.Offset > 0 {
					err = fmt.Errorf("%w (a %d-byte image from byte %d)", err, o.ImageSize, o.Offset)
				} else {
					err = fmt.Errorf("%w (a %d-byte image)", err, o.ImageSize)
				}
			}
			return nil, err
		}
		t.offset = o.Offset
		return t, nil
	case mode&os.ModeCharDevice != 0:
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &Target{f: f, path: path, dest: path, kind: CharDevice, size: -1, offset: o.Offset}, nil
	case mode.IsDir():
		return nil, fmt.Errorf("%s is a directory, not a file or device", path)
	}
	return nil, fmt.Errorf("%s is a %s, not a file or device: cannot write at offsets there", path, fi.Mode().Type())
}

// openFile opens a regular-file destination; old is the existing file's
// information, nil if there is none.
func openFile(path string, old os.FileInfo, o TargetOptions) (*Target, error) {
	// Write where the name leads: replacing a symlink by a file would
	// leave its target as it was.
	real := path
	if old != nil {
		if r, err := filepath.EvalSymlinks(path); err == nil {
			real = r
		}
	}
	t := &Target{dest: path, kind: RegularFile, size: o.ImageSize, sectorSize: alignment, offset: o.Offset}
	var err error
	switch {
	case o.InPlace || o.Offset > 0:
		t.f, t.direct, err = openDirect(real, os.O_WRONLY|os.O_CREATE, 0o644)
		t.path = real
	default:
		if err = checkSpace(real, old, o.MappedBytes, false); err != nil {
			return nil, err
		}
		t.f, t.direct, err = createBeside(real, old)
		if err == nil {
			t.path, t.replace = t.f.Name(), real
		} else if errors.Is(err, os.ErrPermission) || isReadOnlyFS(err) {
			// No file can be made beside it: write it in place.
			if err = checkSpace(real, old, o.MappedBytes, true); err != nil {
				return nil, err
			}
			t.f, t.direct, err = openDirect(real, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			t.path, t.replace = real, ""
		}
	}
	if err != nil {
		return nil, err
	}
	t.canDirect = t.direct
	if o.ImageSize >= 0 {
		// Size first: a file that will have this size anyway avoids
		// speculative preallocation beyond it (XFS) and shows holes as
		// holes from the start.
		if err := t.sizeFile(o.ImageSize); err != nil {
			t.Close()
			return nil, err
		}
	}
	return t, nil
}

// createBeside creates a new file in the directory of path, with the
// permissions of the file it will replace (old; nil: 0644).
func createBeside(path string, old os.FileInfo) (*os.File, bool, error) {
	perm := os.FileMode(0o644)
	if old != nil {
		perm = old.Mode().Perm()
	}
	dir, base := filepath.Split(path)
	var err error
	for i := 0; i < 100; i++ {
		name := filepath.Join(dir, fmt.Sprintf(".%s.bmap-%06d", base, rand.IntN(1000000)))
		var f *os.File
		var direct bool
		f, direct, err = openDirect(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err == nil {
			if old != nil {
				f.Chmod(perm) // the umask may have narrowed it
			}
			return f, direct, nil
		}
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	return nil, false, err
}

// checkSpace fails with ErrNoSpace if the filesystem holding path has less
// than need bytes free (need < 0: unknown, no check). In place, the old
// file's space is freed first and counts as free.
func checkSpace(path string, old os.FileInfo, need int64, inPlace bool) error {
	if need < 0 {
		return nil
	}
	free, err := freeSpace(filepath.Dir(path))
	if err != nil {
		return nil // cannot tell: the writes will say
	}
	oldSize := int64(0)
	if old != nil {
		oldSize = allocated(old)
	}
	if inPlace {
		free += oldSize
	}
	// A little room for the filesystem's own metadata.
	need += need / 64
	if free >= need {
		return nil
	}
	hint := ""
	if !inPlace && old != nil && free+oldSize >= need {
		hint = fmt.Sprintf("; the old %s (%d bytes) is kept until the new one is complete: remove it first to make room", path, oldSize)
	}
	return fmt.Errorf("%w: %s needs %d bytes for the image's data and its filesystem has %d free%s", ErrNoSpace, path, need, free, hint)
}

// Path returns the path being written: the destination, or for a regular
// file that will be replaced, the new file beside it (see Commit).
func (t *Target) Path() string { return t.path }

// Replacing reports whether the target is a new file that Commit renames
// over the destination: until then the destination is as it was.
func (t *Target) Replacing() bool { return t.replace != "" && !t.committed }

// Dest returns the destination as given to OpenTarget.
func (t *Target) Dest() string { return t.dest }

// Commit puts a replaced regular file in place: the new file, complete and
// synced (see Finish), is renamed over the destination and the directory
// synced. For every other target it does nothing.
func (t *Target) Commit() error {
	if t.replace == "" || t.committed {
		return nil
	}
	if err := os.Rename(t.path, t.replace); err != nil {
		return fmt.Errorf("replacing %s: %w", t.replace, err)
	}
	t.committed = true
	if d, err := os.Open(filepath.Dir(t.replace)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Kind returns what the target is.
func (t *Target) Kind() Kind { return t.kind }

// Size returns the size of a block device, the image size of a regular file,
// or -1.
func (t *Target) Size() int64 { return t.size }

// File returns the underlying file.
func (t *Target) File() *os.File { return t.f }

// WriteAt writes p at the image offset off (at off plus the target's Offset in
// the destination). Aligned writes from aligned memory go through
// O_DIRECT, bypassing the page cache; others are written buffered.
//
// Every flushEvery bytes it also starts a flush (fsync) in the background,
// unless one is still running, so that the device (or the file's host: a VM
// disk, a loop device's backing file) commits the data while the copy goes
// on, and Finish's final flush has little left to do: on the benchmark VM
// it took 0.65 s after a 1.3 GB copy, and 0.03-0.05 s with flushes behind.
// (bmaptool gets the same effect by lowering the device's dirty page
// limit.) A failed background flush is reported by Finish, since the
// kernel reports a writeback error to one fsync only.
//
// WriteAt must not be called from several goroutines at once.
func (t *Target) WriteAt(p []byte, off int64) (int, error) {
	off += t.offset
	t.flushBehind(len(p))
	if t.kind == BlockDevice && off+int64(len(p)) > t.size {
		// Only an image of unknown size (--nobmap from a stream) gets here.
		return 0, fmt.Errorf("%w: writing byte %d, past the end of %s (%d bytes)", ErrTooSmall, off+int64(len(p))-1, t.path, t.size)
	}
	if t.canDirect {
		aligned := off%t.sectorSize == 0 && int64(len(p))%t.sectorSize == 0 && isAligned(p)
		if aligned != t.direct {
			if err := setDirect(t.f, aligned); err != nil {
				t.canDirect = false
			} else {
				t.direct = aligned
			}
		}
	}
	n, err := t.f.WriteAt(p, off)
	if err != nil && t.direct && n == 0 && isEINVAL(err) {
		// Some filesystems accept O_DIRECT at open and refuse it at write.
		if setDirect(t.f, false) == nil {
			t.direct, t.canDirect = false, false
			return t.f.WriteAt(p, off)
		}
	}
	return n, err
}

// flushBehind counts n bytes written and starts a background flush when
// flushEvery bytes were written since the last one started and it is done.
func (t *Target) flushBehind(n int) {
	if t.kind == CharDevice {
		return
	}
	t.unflushed += int64(n)
	if t.unflushed < flushEvery || t.flushing.Load() {
		return
	}
	t.unflushed = 0
	t.flushing.Store(true)
	t.flushes.Add(1)
	go func() {
		defer t.flushes.Done()
		if err := t.f.Sync(); err != nil && t.flushErr == nil {
			t.flushErr = err // only one flush runs at a time
		}
		t.flushing.Store(false)
	}()
}

// Finish makes the written data durable: a regular file gets its final size
// (size, or the image size given to OpenTarget if size < 0) and every target
// but a character device is synced. Finish does not close the target.
func (t *Target) Finish(size int64) error {
	t.flushes.Wait()
	if t.flushErr != nil {
		return fmt.Errorf("synchronizing %s: %w", t.path, t.flushErr)
	}
	if size < 0 {
		size = t.size
	}
	if t.kind == RegularFile && size >= 0 {
		if err := t.sizeFile(size); err != nil {
			return err
		}
	}
	if t.kind == CharDevice {
		return nil
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("synchronizing %s: %w", t.path, err)
	}
	return nil
}

// sizeFile gives a regular file the size of an image of size bytes: that
// size exactly, or, with an offset, at least the offset plus that size
// (what follows the image in the file stays).
func (t *Target) sizeFile(size int64) error {
	want := size + t.offset
	if t.offset > 0 {
		fi, err := t.f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() >= want {
			return nil
		}
	}
	if err := t.f.Truncate(want); err != nil {
		return fmt.Errorf("sizing %s to %d bytes: %w", t.path, want, err)
	}
	return nil
}

// Offset returns where the image starts in the destination.
func (t *Target) Offset() int64 { return t.offset }

// Close closes the target. A replaced regular file that was not committed
// is removed: the destination keeps its old content.
func (t *Target) Close() error {
	if t.f == nil {
		return nil
	}
	t.flushes.Wait()
	err := t.f.Close()
	t.f = nil
	if t.replace != "" && !t.committed {
		os.Remove(t.path)
	}
	return err
}
