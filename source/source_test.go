package source

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBmapCandidates(t *testing.T) {
	for _, tc := range []struct {
		image string
		want  []string
	}{
		{"a.img.gz", []string{"a.img.gz.bmap", "a.img.bmap", "a.bmap"}},
		{"dir.d/disk", []string{"dir.d/disk.bmap"}},
		{"/x/.hidden", []string{"/x/.hidden.bmap"}},
		{"-", nil},
	} {
		if got := BmapCandidates(tc.image); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("BmapCandidates(%q) = %q, want %q", tc.image, got, tc.want)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "img")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	op := &Opener{Stdin: strings.NewReader("from a pipe")}

	s, err := op.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := s.(*File)
	if !ok || s.Size() != 10 || s.Name() != path {
		t.Fatalf("Open(file) = %T size %d name %q, want a *File of 10 bytes named %q", s, s.Size(), s.Name(), path)
	}
	buf := make([]byte, 3)
	if _, err := f.ReadAt(buf, 7); err != nil || string(buf) != "789" {
		t.Errorf("ReadAt(7) = %q, %v", buf, err)
	}
	s.Close()

	s, err = op.Open(ctx, Stdin)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(io.Seeker); ok || s.Size() != -1 {
		t.Errorf("Open(-) of a pipe: %T size %d, want a stream of unknown size", s, s.Size())
	}
	if b, _ := io.ReadAll(s); string(b) != "from a pipe" {
		t.Errorf("Open(-) read %q", b)
	}

	// Standard input redirected from a regular file seeks like a file, and
	// is not closed by Close.
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	s, err = (&Opener{Stdin: in}).Open(ctx, Stdin)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*File); !ok || s.Size() != 10 || s.Name() != Stdin {
		t.Errorf("Open(-) of a regular file: %T size %d name %q", s, s.Size(), s.Name())
	}
	s.Close()
	if _, err := in.Stat(); err != nil {
		t.Errorf("closing the stdin source closed standard input: %v", err)
	}

	if _, err := op.Open(ctx, filepath.Join(dir, "missing")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(missing) = %v, want ErrNotFound", err)
	}
	if _, err := op.Open(ctx, dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Open(dir) = %v, want a directory error", err)
	}
	if _, err := (&Opener{}).Open(ctx, Stdin); err == nil {
		t.Error("Open(-) without Stdin succeeded")
	}
}

func TestReadAllLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b")
	if err := os.WriteFile(path, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	op := &Opener{}
	if b, err := op.ReadAll(context.Background(), path, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("ReadAll(limit 10) = %q, %v", b, err)
	}
	if _, err := op.ReadAll(context.Background(), path, 9); err == nil || !strings.Contains(err.Error(), "larger than 9 bytes") {
		t.Errorf("ReadAll(limit 9) = %v, want a size error", err)
	}
}

func TestExistsAndSameFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	op := &Opener{}
	for name, want := range map[string]bool{a: true, dir: false, filepath.Join(dir, "none"): false, Stdin: false} {
		if got, err := op.Exists(context.Background(), name); got != want || err != nil {
			t.Errorf("Exists(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if !SameFile(a, link) || SameFile(a, dir) || SameFile(Stdin, Stdin) {
		t.Error("SameFile: wrong answer for a link, a directory or stdin")
	}
}
