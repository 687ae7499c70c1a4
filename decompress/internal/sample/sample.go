// Package sample makes the inputs of the decoders' tests: bytes shaped
// like the disk images bmap flashes, and what the real compressors (gzip,
// bzip2, xz, zstd, lzop, ...) make of them, run at test time. A test whose
// compressor is not installed is skipped, saying which; CI installs them
// all (.ci/run).
//
// Compressor output is cached for the life of the test binary, keyed by
// the input's SHA-256 and the command line, so the many tests and fuzz
// seeds that compress the same input run the tool once. It is for tests
// only: the decoders never import it.
package sample

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Random returns n pseudo-random bytes, the same for the same seed.
func Random(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// Text returns n bytes of numbered lines of text.
func Text(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d: the quick brown fox %d jumps over the lazy dog %x\n", i, i*i, i*7919)
	}
	return b.Bytes()[:n]
}

// Mixed returns n bytes in pieces of 1 to 64 KiB: random bytes, text
// made of words, runs of one byte and runs of zeros.
func Mixed(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while bmap flashes images to block devices")
	b := make([]byte, 0, n)
	for len(b) < n {
		seg := 1<<10 + rng.IntN(64<<10)
		end := min(n, len(b)+seg)
		switch rng.IntN(4) {
		case 0:
			for len(b) < end {
				b = append(b, byte(rng.Uint32()))
			}
		case 1:
			for len(b) < end {
				b = append(b, words[rng.IntN(len(words))]...)
				b = append(b, ' ')
			}
			b = b[:end]
		case 2:
			c := byte(rng.Uint32())
			for len(b) < end {
				b = append(b, c)
			}
		default:
			b = append(b, make([]byte, end-len(b))...)
		}
	}
	return b
}

// Sparse returns n bytes like a sparse disk image: pieces of real files
// (from /usr; Mixed bytes where there are none) between runs of zeros
// that are multiples of 4 KiB long.
func Sparse(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	files := Files()
	b := make([]byte, 0, n)
	for len(b) < n {
		switch rng.IntN(4) {
		case 0:
			b = append(b, make([]byte, min(n-len(b), 4096*(1+rng.IntN(512))))...)
		default:
			if len(files) == 0 {
				b = append(b, Mixed(min(n-len(b), 64<<10), rng.Uint64())...)
				continue
			}
			f := files[rng.IntN(len(files))]
			i := rng.IntN(len(f))
			b = append(b, f[i:min(len(f), i+1<<20, i+n-len(b))]...)
		}
	}
	return b
}

// Files returns the contents of up to 24 MiB of files over 4 KiB under
// /usr (programs, libraries, documentation), read once.
var Files = sync.OnceValue(func() [][]byte {
	var files [][]byte
	total := 0
	for _, dir := range []string{"/usr/bin", "/usr/share/doc", "/usr/share/perl5", "/usr/lib/x86_64-linux-gnu", "/usr/share"} {
		filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err != nil || total > 24<<20 {
				return filepath.SkipDir
			}
			if !e.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err == nil && len(b) > 4096 {
				files = append(files, b[:min(len(b), 1<<20)])
				total += min(len(b), 1<<20)
			}
			return nil
		})
	}
	return files
})

// Have reports whether the program name is installed.
func Have(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// NeedTool skips the test if the program name is not installed.
func NeedTool(tb testing.TB, name string) {
	tb.Helper()
	if !Have(name) {
		tb.Skipf("%s is not installed: it makes this test's input", name)
	}
}

var (
	cacheMu sync.Mutex
	cache   = map[string][]byte{}
)

// Compress runs tool with args, data on its standard input, and returns
// its standard output (pass the tool's option to write there, -c, if it
// needs one). It skips the test if tool is not installed and fails it if
// the tool fails.
func Compress(tb testing.TB, data []byte, tool string, args ...string) []byte {
	tb.Helper()
	return run(tb, data, "", tool, args)
}

// CompressFile is Compress with data in a file, named name, whose path is
// the last argument: for a tool that records the name or the size in its
// output (zstd writes the content size only for a file, lzop the name).
func CompressFile(tb testing.TB, data []byte, name, tool string, args ...string) []byte {
	tb.Helper()
	return run(tb, data, name, tool, args)
}

// CompressErr is Compress for use outside a test (benchmark set-up, a
// goroutine): it returns the tool's failure, or the missing tool's.
func CompressErr(data []byte, tool string, args ...string) ([]byte, error) {
	return compress(data, "", "", tool, args)
}

func run(tb testing.TB, data []byte, name, tool string, args []string) []byte {
	tb.Helper()
	NeedTool(tb, tool)
	out, err := compress(data, name, tb.TempDir(), tool, args)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func compress(data []byte, name, dir, tool string, args []string) ([]byte, error) {
	sum := sha256.Sum256(data)
	key := fmt.Sprintf("%x %q %s %q", sum, name, tool, args)
	cacheMu.Lock()
	out, ok := cache[key]
	cacheMu.Unlock()
	if ok {
		return out, nil
	}
	cmd := exec.Command(tool, args...)
	if name == "" {
		cmd.Stdin = bytes.NewReader(data)
	} else {
		if dir == "" {
			d, err := os.MkdirTemp("", "fixture-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(d)
			dir = d
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, err
		}
		cmd.Args = append(cmd.Args, path)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	cacheMu.Lock()
	cache[key] = stdout.Bytes()
	cacheMu.Unlock()
	return stdout.Bytes(), nil
}

// FirstDiff returns the index of the first byte where a and b differ, or
// the shorter one's length.
func FirstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Watchdog panics, printing every goroutine's stack, unless the returned
// stop is called within d: in a fuzz target, a decoder that hangs (a
// deadlock, an endless loop) becomes a crasher the fuzzer saves, rather
// than a fuzzing run that stalls. d should be far above any input's
// decoding time.
func Watchdog(d time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(d):
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic(fmt.Sprintf("no result after %v:\n%s", d, buf[:n]))
		}
	}()
	return func() { close(done) }
}
