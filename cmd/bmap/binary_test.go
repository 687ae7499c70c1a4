package main

// The built program: the command lines of compat_test.go run again with the
// real binary, as "bmap" and through a symlink named "bmaptool", and
// compared with Debian's bmaptool where it accepts the same line.

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// binVersion is stamped into the test binary with -ldflags, as a release
// build stamps the real version.
const binVersion = "9.8.7-compat"

var (
	binOnce sync.Once
	binDir  string // holds the binary and the bmaptool symlink; removed by TestMain
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if sharedRemote.dir != "" {
		os.RemoveAll(sharedRemote.dir)
	}
	os.Exit(code)
}

// pkgDir is this package's directory, taken before any test changes the
// working directory.
var pkgDir, _ = os.Getwd()

// builtBinary builds cmd/bmap once per test run and returns the path of the
// binary, or skips the test if the go tool is not available.
func builtBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			binErr = err
			return
		}
		if binDir, binErr = os.MkdirTemp("", "bmap-binary-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "bmap")
		cmd := exec.Command(goTool, "build", "-buildvcs=false", "-o", binPath, "-ldflags", "-X main.version="+binVersion, ".")
		cmd.Dir = pkgDir
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New(err.Error() + "\n" + string(out))
			return
		}
		binErr = os.Symlink(binPath, filepath.Join(binDir, "bmaptool"))
	})
	if errors.Is(binErr, exec.ErrNotFound) {
		t.Skip("the go tool is not on PATH: cannot build the binary")
	}
	if binErr != nil {
		t.Fatalf("building the binary: %v", binErr)
	}
	return binPath
}

// binaryRunner runs the built binary, or its "bmaptool" symlink.
func binaryRunner(t *testing.T, asBmaptool bool) compatRunner {
	bin := builtBinary(t)
	prog := "bmap"
	if asBmaptool {
		bin, prog = filepath.Join(binDir, "bmaptool"), "bmaptool"
	}
	return compatRunner{name: "binary-" + prog, prog: prog, parallel: true, run: func(t *testing.T, stdin io.Reader, args ...string) compatResult {
		return runProgram(t, bin, stdin, args...)
	}}
}

// runProgram runs the program at path with args and returns what it did.
func runProgram(t *testing.T, path string, stdin io.Reader, args ...string) compatResult {
	t.Helper()
	cmd := exec.Command(path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", path, err)
	}
	return compatResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func TestBinaryCommandLines(t *testing.T) {
	for _, asBmaptool := range []bool{false, true} {
		r := binaryRunner(t, asBmaptool)
		t.Run(r.name, func(t *testing.T) { testCommandLines(t, r) })
	}
}

func TestBinaryUsageErrors(t *testing.T) {
	for _, asBmaptool := range []bool{false, true} {
		r := binaryRunner(t, asBmaptool)
		t.Run(r.name, func(t *testing.T) { testUsageErrors(t, r) })
	}
}

func TestBinaryHelpAndVersion(t *testing.T) {
	for _, asBmaptool := range []bool{false, true} {
		r := binaryRunner(t, asBmaptool)
		t.Run(r.name, func(t *testing.T) {
			testHelp(t, r)
			out := r.run(t, nil, "--version")
			want := "bmap " + binVersion + " (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
			if asBmaptool {
				want = "bmaptool 3.9.0\n"
			}
			if out.code != 0 || out.stdout != want {
				t.Errorf("--version: exit %d, stdout %q, want exit 0 and %q", out.code, out.stdout, want)
			}
		})
	}
}

// TestBinaryMatchesDebianBmaptool runs every command line that Debian's
// bmaptool (3.6) also accepts with both programs: same exit code, same
// output file. Where they differ on purpose the test says so.
func TestBinaryMatchesDebianBmaptool(t *testing.T) {
	needTools(t, "bmaptool")
	ours := binaryRunner(t, true)
	theirs := compatRunner{name: "debian-bmaptool", prog: "bmaptool", run: func(t *testing.T, stdin io.Reader, args ...string) compatResult {
		return runProgram(t, "bmaptool", stdin, args...)
	}}
	for _, tc := range compatCases {
		if !tc.debian {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := newCompatFixture(t), newCompatFixture(t)
			if tc.discard {
				os.Remove(a.img.path + ".bmap")
				os.Remove(b.img.path + ".bmap")
			}
			ra := a.run(t, ours, tc.line)
			rb := b.run(t, theirs, tc.line)
			if ra.code != rb.code {
				t.Fatalf("exit %d, Debian's bmaptool exits %d\nours:\n%s\ntheirs:\n%s", ra.code, rb.code, ra.stderr, rb.stderr)
			}
			if tc.create {
				if g, w := ranges(string(readFile(t, a.img.path+".bmap"))), ranges(string(readFile(t, b.img.path+".bmap"))); g != w {
					t.Errorf("the bmaps map different ranges:\n%s\n---\n%s", g, w)
				}
				return
			}
			sameBytes(t, "our output vs Debian bmaptool's", readFile(t, a.dev), readFile(t, b.dev))
			checkFile(t, a.dev, a.img.data)
		})
	}

	for _, tc := range usageCases {
		if tc.debian == 0 {
			continue
		}
		t.Run("usage/"+tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := newCompatFixture(t), newCompatFixture(t)
			ra := a.run(t, ours, tc.line)
			rb := b.run(t, theirs, tc.line)
			if rb.code != tc.debian {
				t.Errorf("Debian's bmaptool exits %d, expected %d\n%s", rb.code, tc.debian, rb.stderr)
			}
			if ra.code != tc.code(ours.prog) {
				t.Errorf("exit %d, want %d", ra.code, tc.code(ours.prog))
			}
			for _, f := range []*compatFixture{a, b} {
				if _, err := os.Stat(f.dev); !os.IsNotExist(err) {
					t.Errorf("the destination was created (stat: %v)", err)
				}
			}
		})
	}
}

// TestBinaryFailureExitCode checks what a shell sees of a plain failure:
// exit 1 and one error line.
func TestBinaryFailureExitCode(t *testing.T) {
	r := binaryRunner(t, false)
	f := newCompatFixture(t)
	out := f.run(t, r, "copy --bmap BMAP "+filepath.Join(f.dir, "missing.img")+" DEV")
	lines := strings.Split(strings.TrimSuffix(out.stderr, "\n"), "\n")
	if out.code != exitFailure || strings.Count(out.stderr, "ERROR") != 1 ||
		!strings.HasPrefix(lines[len(lines)-1], "bmap: ERROR: cannot open image: ") {
		t.Errorf("copy of a missing image: exit %d, stderr %q; want exit 1 and one ERROR line, last", out.code, out.stderr)
	}
}

// TestDevelopmentBuildVersion builds the program as a developer does, with
// no release version stamped, and checks that --version, the -d log and
// the JSON start event all name the git revision it was built from, and
// "dirty" exactly when the checkout has uncommitted changes: a CI log then
// says which binary flashed the board.
func TestDevelopmentBuildVersion(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH: cannot build the binary")
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = pkgDir
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("not in a git checkout (git %s: %v): no revision to record", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	top := git("rev-parse", "--show-toplevel")
	if fi, err := os.Stat(filepath.Join(top, ".git")); err != nil || !fi.IsDir() {
		t.Skipf("%s is a git worktree or submodule (.git is not a directory): the go command records VCS information only in a plain checkout", top)
	}
	head := git("rev-parse", "HEAD")
	dirty := git("status", "--porcelain") != ""

	dir := t.TempDir()
	bin := filepath.Join(dir, "bmap")
	// -buildvcs=true, not the default auto: the environment may set
	// GOFLAGS=-buildvcs=false, and a checkout that cannot be stamped must fail.
	cmd := exec.Command(goTool, "build", "-buildvcs=true", "-o", bin, ".")
	cmd.Dir = pkgDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	details := "revision " + head[:12]
	if dirty {
		details += ", dirty"
	}
	details += ", " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	want := regexp.MustCompile(`^bmap (devel|v[0-9][^ ]*) \(` + regexp.QuoteMeta(details) + `$`)

	out := runProgram(t, bin, nil, "--version")
	line := strings.TrimSuffix(out.stdout, "\n")
	if out.code != 0 || !want.MatchString(line) {
		t.Fatalf("--version: exit %d, stdout %q; want a line matching %s", out.code, out.stdout, want)
	}

	f := newCompatFixture(t)
	out = runProgram(t, bin, nil, "-d", "copy", "--progress", "json", "--bmap", f.bmap, f.img.path, f.dev)
	if out.code != 0 {
		t.Fatalf("copy: exit %d: %s", out.code, out.stderr)
	}
	if !strings.Contains(out.stderr, "bmap: debug: "+line+"\n") {
		t.Errorf("-d: no line %q in\n%s", "bmap: debug: "+line, out.stderr)
	}
	events, _ := parseEvents(t, out.stderr)
	if len(events) == 0 || events[0].str("event") != "start" || "bmap "+events[0].str("version") != line {
		t.Errorf("the start event has no version %q: %v", strings.TrimPrefix(line, "bmap "), events)
	}
}
