package decompress

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

// skim reads r's image as a copy that skips holes does: Discard and Read
// in turns, of random lengths. If want is not nil, every byte read must be
// the image's byte at that offset and the end must come at its end. It
// returns how far it got and the error that stopped it (nil at io.EOF).
func skim(t *testing.T, r io.Reader, name string, want []byte, seed uint64) (int, error) {
	t.Helper()
	z, err := NewReader(r, Options{Name: name})
	if err != nil {
		return 0, err
	}
	defer z.Close()
	rng := rand.New(rand.NewPCG(seed, 1))
	pos := 0
	for {
		k := 1 + rng.IntN(256<<10)
		var n int
		if rng.IntN(2) == 0 {
			n, err = z.Discard(k)
			if err == nil && n != k {
				t.Fatalf("%s: Discard(%d) at %d skipped %d without an error", name, k, pos, n)
			}
		} else {
			buf := make([]byte, k)
			n, err = io.ReadFull(z, buf)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF // the image ended inside this read
			}
			if want != nil && (pos+n > len(want) || !bytes.Equal(buf[:n], want[pos:pos+n])) {
				t.Fatalf("%s: %d bytes read at %d, after discards, are not the image's", name, n, pos)
			}
		}
		pos += n
		if err == io.EOF {
			if want != nil && pos != len(want) {
				t.Fatalf("%s: the image ended at byte %d, want %d", name, pos, len(want))
			}
			return pos, nil
		}
		if err != nil {
			return pos, err
		}
	}
}

// TestDiscard skims every fixture, as a file and as a stream: the bytes
// read between discards are the image's, and the end comes exactly at the
// image's end, integrity checks passed.
func TestDiscard(t *testing.T) {
	s := getFixtures(t)
	for i, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			data, want, path := s.load(t, fx)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if n, err := skim(t, f, fx.file, want, uint64(i)); err != nil {
				t.Fatalf("file: %v after %d of %d bytes", err, n, len(want))
			}
			if n, err := skim(t, stream{bytes.NewReader(data)}, "", want, uint64(i)); err != nil {
				t.Fatalf("stream: %v after %d of %d bytes", err, n, len(want))
			}
		})
	}
}

// TestDiscardDamaged: a truncated or corrupted stream fails when its
// damaged part is skipped rather than read, as it fails Read: skipping
// never turns a broken image into a good one.
func TestDiscardDamaged(t *testing.T) {
	s := getFixtures(t)
	for i, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			data, _, _ := s.load(t, fx)
			cut := data[:len(data)/2]
			flipped := bytes.Clone(data)
			flipped[len(data)*2/3] ^= 0x55
			for what, bad := range map[string][]byte{"truncated": cut, "corrupted": flipped} {
				_, _, readErr := readAll(bytes.NewReader(bad), fx.file)
				n, err := skim(t, bytes.NewReader(bad), fx.file, nil, uint64(i))
				if (err == nil) != (readErr == nil) || errors.Is(err, io.ErrUnexpectedEOF) != errors.Is(readErr, io.ErrUnexpectedEOF) {
					t.Errorf("%s: skimming ended with %v after %d bytes, reading with %v", what, err, n, readErr)
				}
				if err != nil {
					if !errors.As(err, new(*Error)) {
						t.Errorf("%s: %v is not an *Error", what, err)
					}
				}
			}
		})
	}
}

// TestDiscardToTheEnd skips every fixture's image to its exact end, as a
// copy skips an image's final hole: Discard returns every byte and no
// error, as bufio.Reader.Discard does, after the end checks ran; the io.EOF
// comes with the next call. Also in two steps, the second ending there.
func TestDiscardToTheEnd(t *testing.T) {
	s := getFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			data, want, _ := s.load(t, fx)
			for _, mode := range []string{"file", "stream"} {
				var r io.Reader = bytes.NewReader(data)
				name := fx.file
				if mode == "stream" {
					r = stream{r}
				}
				for _, steps := range [][]int{{len(want)}, {len(want) - 1, 1}, {len(want) / 2, len(want) - len(want)/2}} {
					z, err := NewReader(r, Options{Name: name})
					if err != nil {
						t.Fatal(err)
					}
					for i, n := range steps {
						if k, err := z.Discard(n); k != n || err != nil {
							t.Fatalf("%s: Discard(%d), step %d of %v skipping the %d-byte image: %d, %v; want %d, nil", mode, n, i+1, steps, len(want), k, err, n)
						}
					}
					if k, err := z.Discard(1); k != 0 || err != io.EOF {
						t.Errorf("%s: Discard(1) at the end: %d, %v; want 0, io.EOF", mode, k, err)
					}
					if k, err := z.Read(make([]byte, 10)); k != 0 || err != io.EOF {
						t.Errorf("%s: Read at the end: %d, %v; want 0, io.EOF", mode, k, err)
					}
					z.Close()
					r = bytes.NewReader(data)
					if mode == "stream" {
						r = stream{r}
					}
				}
			}
		})
	}
}

// TestDiscardEndChecks: what follows the image is checked when a Discard
// reaches its end, and a failure comes with all the bytes (the tar
// member's reader says it ended, so the rest of the archive and the codec's
// trailer are read then), or with the next call (a codec that does not look
// past the image's last byte until asked to): never a clean io.EOF.
func TestDiscardEndChecks(t *testing.T) {
	s := getFixtures(t, "tar-gz", "zstd", "gzip")
	for _, fx := range fixtures {
		if fx.name != "tar-gz" && fx.name != "zstd" && fx.name != "gzip" {
			continue
		}
		data, want, _ := s.load(t, fx)
		bad := append(bytes.Clone(data), "garbage after the end"...)
		z, err := NewReader(bytes.NewReader(bad), Options{Name: fx.file})
		if err != nil {
			t.Fatal(err)
		}
		k, err := z.Discard(len(want))
		if k != len(want) {
			t.Errorf("%s with trailing garbage: Discard of the whole image: %d, %v; want %d", fx.name, k, err, len(want))
		}
		if err == nil && fx.kind.Tar {
			t.Errorf("%s with trailing garbage: Discard of the whole tar member: no error", fx.name)
		}
		if err == nil {
			k, err = z.Discard(1)
		}
		if !errors.Is(err, ErrTrailingData) && fx.kind.Format == Gzip || err == nil || err == io.EOF {
			t.Errorf("%s with trailing garbage: skipping to the end: %d, %v; want the trailing data", fx.name, k, err)
		}
		z.Close()
	}
}
