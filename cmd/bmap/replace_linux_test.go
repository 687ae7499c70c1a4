package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallFS mounts a tmpfs of size bytes for the test.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// TestCopyKeepsOldFile: a copy into a regular file that fails, for lack of
// space or anything else, leaves the file that was there as it was.
func TestCopyKeepsOldFile(t *testing.T) {
	src := t.TempDir()
	// 6 MiB of data in an 8 MiB image.
	img := makeImage(t, src, "full.img", imageSpec{size: 2048 * testBlockSize, ranges: []blockRange{{0, 1535, 'r'}}, seed: 7})
	createBmap(t, img.path, filepath.Join(src, "full.img.bmap"))

	t.Run("no-space", func(t *testing.T) {
		dir := smallFS(t, "4m")
		dest := filepath.Join(dir, "dest.img")
		writeFile(t, dest, []byte("precious\n"))
		r := runBmap(t, nil, "copy", "--bmap", filepath.Join(src, "full.img.bmap"), img.path, dest)
		wantFailure(t, r, exitFailure, dest, "not enough free space", "needs")
		if got := string(readFile(t, dest)); got != "precious\n" {
			t.Errorf("after the failed copy %s holds %d bytes, want its old content", dest, len(got))
		}
		assertOnly(t, dir, "dest.img")
	})

	// Room for the new image, but not beside the old one: the error says
	// so, and the old file stays.
	t.Run("room-for-one", func(t *testing.T) {
		dir := smallFS(t, "10m")
		dest := filepath.Join(dir, "dest.img")
		writeFile(t, dest, make([]byte, 5<<20))
		r := runBmap(t, nil, "copy", "--bmap", filepath.Join(src, "full.img.bmap"), img.path, dest)
		wantFailure(t, r, exitFailure, "not enough free space", "remove it first")
		if fi, err := os.Stat(dest); err != nil || fi.Size() != 5<<20 {
			t.Errorf("after the failed copy %s is %v, %v; want the old 5 MiB file", dest, fi, err)
		}
		assertOnly(t, dir, "dest.img")
	})

	// A checksum mismatch mid-way: the old file stays.
	t.Run("bad-image", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "dest.img")
		writeFile(t, dest, []byte("precious\n"))
		bad := filepath.Join(t.TempDir(), "bad.img")
		data := append([]byte(nil), img.data...)
		data[3<<20] ^= 1
		writeFile(t, bad, data)
		r := runBmap(t, nil, "copy", "--bmap", filepath.Join(src, "full.img.bmap"), bad, dest)
		wantFailure(t, r, exitFailure, "checksum mismatch", "was left as it was")
		if got := string(readFile(t, dest)); got != "precious\n" {
			t.Errorf("after the failed copy %s holds %d bytes, want its old content", dest, len(got))
		}
		assertOnly(t, filepath.Dir(dest), "dest.img")
	})

	// Success replaces the file, keeps its permissions, and writes through
	// a symlink to the file it names.
	t.Run("replaced", func(t *testing.T) {
		dir := t.TempDir()
		dest := filepath.Join(dir, "dest.img")
		writeFile(t, dest, []byte("old\n"))
		if err := os.Chmod(dest, 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.img")
		if err := os.Symlink("dest.img", link); err != nil {
			t.Fatal(err)
		}
		mustRun(t, nil, "copy", "--bmap", filepath.Join(src, "full.img.bmap"), img.path, link)
		checkFile(t, dest, img.data)
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symlink: %v, %v", link, fi, err)
		}
		if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want the old file's 0600", dest, fi.Mode().Perm())
		}
		assertOnly(t, dir, "dest.img", "link.img")
	})

	// No file can be made beside it (the directory is not writable, the
	// file is): it is written in place, after the space check.
	t.Run("in-place", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to drop to another user")
		}
		// A directory of root's that user nobody can read but not write,
		// holding everything the copy needs, and the destination, which
		// nobody owns.
		dir, err := os.MkdirTemp("", "bmap-inplace-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		bin := filepath.Join(dir, "bmap")
		writeFile(t, bin, readFile(t, builtBinary(t)))
		image, bmapFile, dest := filepath.Join(dir, "full.img"), filepath.Join(dir, "full.img.bmap"), filepath.Join(dir, "dest.img")
		writeFile(t, image, img.data)
		writeFile(t, bmapFile, readFile(t, filepath.Join(src, "full.img.bmap")))
		writeFile(t, dest, []byte("old\n"))
		const nobody = 65534
		for p, mode := range map[string]os.FileMode{dir: 0o755, bin: 0o755, image: 0o644, bmapFile: 0o644, dest: 0o644} {
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(dest, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "copy", image, dest)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("copy as nobody: %v\n%s", err, out)
		}
		checkFile(t, dest, img.data)
		assertOnly(t, dir, "bmap", "dest.img", "full.img", "full.img.bmap")
	})
}

// assertOnly fails unless dir holds exactly names: nothing left behind.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}

// TestCopyReadOnlyDevice: a read-only device (a write-protect switch,
// losetup -r) is refused before anything is written, and says why.
func TestCopyReadOnlyDevice(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	createBmap(t, img.path, img.path+".bmap")
	backing := filepath.Join(dir, "backing")
	writeFile(t, backing, oldContent(2<<20))
	out, err := exec.Command("losetup", "--read-only", "--find", "--show", backing).CombinedOutput()
	if err != nil {
		t.Skipf("cannot set up a read-only loop device here: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	r := runBmap(t, nil, "copy", img.path, dev)
	wantFailure(t, r, exitFailure, dev, "read-only", "write-protect")
	if strings.Contains(r.stderr, "copying image") {
		t.Errorf("the copy started before the device was refused:\n%s", r.stderr)
	}
}
