package main

// The command lines bmaptool's callers run, exactly as they write them:
// Yocto's image class, labgrid's USB storage driver, installers that show
// progress through psplash, and shell scripts. Each runs in-process here,
// as "bmap" and as "bmaptool"; binary_test.go runs them again with the
// built program. The checks are what a user looks at: the exit code, the
// messages, and the output file (equal to the image, and sparse).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bmap-tools/bmap/bmap"
)

// compatResult is what one run of a program did.
type compatResult struct {
	stdout, stderr string
	code           int
}

// compatRunner runs the program one way: in-process, the binary, or
// Debian's bmaptool. prog is the name its messages start with.
type compatRunner struct {
	name, prog string
	run        func(t *testing.T, stdin io.Reader, args ...string) compatResult
	// parallel: runs may overlap (not in-process: run sets globals).
	parallel bool
}

// inProcessRunner calls run with args[0] = prog.
func inProcessRunner(prog string) compatRunner {
	return compatRunner{name: "in-process-" + prog, prog: prog, run: func(t *testing.T, stdin io.Reader, args ...string) compatResult {
		if stdin == nil {
			stdin = strings.NewReader("")
		}
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{prog}, args...), stdin, &stdout, &stderr)
		return compatResult{stdout: stdout.String(), stderr: stderr.String(), code: exitCode(err)}
	}}
}

// compatFixture is a directory with a sparse image disk.img, its bmap
// made by "bmap create" beside it (disk.img.bmap, where bmaptool looks),
// and the path of a destination that does not exist yet.
type compatFixture struct {
	dir  string
	img  *testImage
	m    *bmap.Map
	bmap string
	dev  string
	fifo *psplashFIFO // set when the command line names FIFO
}

func newCompatFixture(t *testing.T) *compatFixture {
	t.Helper()
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	f := &compatFixture{dir: dir, img: img, bmap: img.path + ".bmap", dev: filepath.Join(dir, "dev.img")}
	// Made with the package, not the CLI, so that tests running the
	// binary can run in parallel (run sets urfave/cli's globals).
	in, err := os.Open(img.path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if f.m, err = bmap.Create(context.Background(), in, bmap.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	data, err := f.m.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, f.bmap, data)
	return f
}

// run runs the command line line with placeholders replaced: IMG, DEV,
// BMAP, IMG.bmap, FIFO (a FIFO with a reader, created here) and NOFIFO (a
// path where there is none).
func (f *compatFixture) run(t *testing.T, r compatRunner, line string) compatResult {
	t.Helper()
	fifo := filepath.Join(f.dir, "psplash_fifo")
	repl := strings.NewReplacer("IMG.bmap", f.img.path+".bmap", "IMG", f.img.path, "DEV", f.dev,
		"BMAP", f.bmap, "NOFIFO", filepath.Join(f.dir, "no_psplash_fifo"), "FIFO", fifo)
	var args []string
	for _, a := range strings.Fields(line) {
		if a == "FIFO" {
			f.fifo = startPsplashFIFO(t, fifo)
		}
		args = append(args, repl.Replace(a))
	}
	return r.run(t, nil, args...)
}

// compatCase is a command line a caller of bmaptool runs, with what a user
// expects of it.
type compatCase struct {
	name    string
	line    string
	create  bool   // a create: IMG.bmap is the output
	sparse  bool   // copied with a bmap: DEV must be sparse
	quiet   bool   // nothing on stderr
	debug   bool   // debug lines on stderr
	want    string // on stderr, after "PROG: "
	debian  bool   // Debian's bmaptool 3.6 accepts the line too
	discard bool   // remove IMG.bmap before running
}

var compatCases = []compatCase{
	// Yocto, image_types_bmap / IMAGE_CMD:bmap.
	{name: "yocto/create", line: "create IMG -o IMG.bmap", create: true, debian: true, discard: true},
	// labgrid, USBStorageDriver.write_image(mode=BMAPTOOL).
	{name: "labgrid/bmap-equals", line: "copy IMG DEV --bmap=BMAP", sparse: true, want: "info: copying image", debian: true},
	{name: "labgrid/nobmap-last", line: "copy IMG DEV --nobmap", want: "info: no bmap given, copy entire image to", debian: true},
	// Installers showing progress on a psplash boot screen. (Debian's
	// bmaptool 3.6 fails on --psplash-pipe with a NameError, fixed
	// upstream in 3.7, so it is not compared.)
	{name: "installer/psplash", line: "copy --bmap BMAP --psplash-pipe FIFO -- IMG DEV", sparse: true, want: "info: copying image"},
	{name: "installer/psplash-missing", line: "copy --bmap BMAP --psplash-pipe NOFIFO -- IMG DEV", sparse: true, want: "WARNING: the psplash pipe"},
	// Shell scripts.
	{name: "scripts/quiet", line: "-q copy IMG DEV", sparse: true, quiet: true, debian: true},
	{name: "scripts/debug", line: "-d copy IMG DEV", sparse: true, debug: true, want: "info: discovered bmap file", debian: true},
	{name: "scripts/quiet-after-command", line: "copy -q --bmap BMAP IMG DEV", sparse: true, quiet: true},
	{name: "scripts/quiet-last", line: "copy --bmap BMAP IMG DEV -q", sparse: true, quiet: true},
	{name: "scripts/no-sig-verify-no-verify", line: "copy --bmap BMAP --no-sig-verify --no-verify IMG DEV", sparse: true, want: "info: copying image", debian: true},
	{name: "scripts/nobmap-first", line: "copy --nobmap IMG DEV", want: "info: no bmap given, copy entire image to", debian: true},
	{name: "scripts/discovered", line: "copy IMG DEV", sparse: true, want: "info: discovered bmap file", debian: true},
}

func TestCompatCommandLines(t *testing.T) {
	for _, prog := range []string{"bmap", "bmaptool"} {
		r := inProcessRunner(prog)
		t.Run(r.name, func(t *testing.T) { testCommandLines(t, r) })
	}
}

func testCommandLines(t *testing.T, r compatRunner) {
	for _, tc := range compatCases {
		t.Run(tc.name, func(t *testing.T) {
			if r.parallel {
				t.Parallel()
			}
			f := newCompatFixture(t)
			if tc.discard {
				os.Remove(f.img.path + ".bmap")
			}
			out := f.run(t, r, tc.line)
			if out.code != 0 {
				t.Fatalf("%s %s: exit %d\nstderr:\n%s", r.prog, tc.line, out.code, out.stderr)
			}
			checkMessages(t, r.prog, out.stderr)
			switch {
			case tc.quiet && out.stderr != "":
				t.Errorf("quiet, but stderr is:\n%s", out.stderr)
			case tc.debug && !strings.Contains(out.stderr, r.prog+": debug: "):
				t.Errorf("-d, but no debug lines:\n%s", out.stderr)
			case !tc.debug && strings.Contains(out.stderr, ": debug: "):
				t.Errorf("debug lines without -d:\n%s", out.stderr)
			}
			if tc.want != "" && !strings.Contains(out.stderr, r.prog+": "+tc.want) {
				t.Errorf("stderr does not say %q:\n%s", r.prog+": "+tc.want, out.stderr)
			}
			if tc.create {
				if out.stdout != "" {
					t.Errorf("create -o wrote to stdout: %q", out.stdout)
				}
				if m := readBmap(t, f.img.path+".bmap"); fmt.Sprint(m.Ranges) != fmt.Sprint(f.m.Ranges) {
					t.Errorf("create -o mapped %v, want %v", m.Ranges, f.m.Ranges)
				}
				return
			}
			checkFile(t, f.dev, f.img.data)
			if tc.sparse {
				checkSparse(t, f.dev, f.m)
			}
			if f.fifo != nil {
				checkPsplashLines(t, f.fifo.finish(t))
			}
		})
	}
}

// checkMessages checks that every line on stderr is prog's: "PROG: info:",
// "PROG: WARNING:" ..., never the other name.
func checkMessages(t *testing.T, prog, stderr string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, prog+": ") {
			t.Errorf("stderr line %q does not start with %q", l, prog+": ")
		}
	}
}

// usageCase is a command line that cannot run. debian is the exit code of
// Debian's bmaptool for it, 0 if it is not comparable.
type usageCase struct {
	name, line, want string
	debian           int
	conflict         bool // options that exclude each other: exit 1 under bmaptool's name, as bmaptool does
}

// code is the exit status expected when the program runs as prog.
func (tc usageCase) code(prog string) int {
	if tc.conflict && prog == "bmaptool" {
		return exitFailure
	}
	return exitUsage
}

var usageCases = []usageCase{
	{"nobmap-and-bmap", "copy --nobmap --bmap BMAP IMG DEV", "--nobmap and --bmap", 1, true},
	{"copy-missing-dest", "copy IMG", "IMAGE and DEST", 2, false},
	{"copy-missing-args", "copy", "IMAGE and DEST", 2, false},
	{"create-missing-image", "create", "one IMAGE", 2, false},
	{"no-command", "", "no command", 2, false},
	{"unknown-command", "flash IMG DEV", "unknown command", 2, false},
	{"unknown-flag", "copy --frobnicate IMG DEV", "frobnicate", 2, false},
	{"unknown-global-flag", "--frobnicate copy IMG DEV", "frobnicate", 2, false},
	{"bmap-without-value", "copy IMG DEV --bmap", "bmap", 2, false},
	{"quiet-and-debug", "-q -d copy --bmap BMAP IMG DEV", "-q and -d", 1, true},
	// bmaptool 3.6 rejects -q after the command for another reason.
	{"quiet-and-debug-after-command", "copy -q -d --bmap BMAP IMG DEV", "-q and -d", 0, true},
	{"quiet-and-debug-split", "-q copy -d --bmap BMAP IMG DEV", "-q and -d", 0, true},
	{"bad-progress", "copy --progress fancy --bmap BMAP IMG DEV", "--progress", 0, false},
}

func TestCompatUsageErrors(t *testing.T) {
	for _, prog := range []string{"bmap", "bmaptool"} {
		r := inProcessRunner(prog)
		t.Run(r.name, func(t *testing.T) { testUsageErrors(t, r) })
	}
}

func testUsageErrors(t *testing.T, r compatRunner) {
	f := newCompatFixture(t) // nothing is written
	for _, tc := range usageCases {
		t.Run(tc.name, func(t *testing.T) {
			if r.parallel {
				t.Parallel()
			}
			out := f.run(t, r, tc.line)
			if out.code != tc.code(r.prog) {
				t.Errorf("%s %s: exit %d, want %d", r.prog, tc.line, out.code, tc.code(r.prog))
			}
			if out.stdout != "" {
				t.Errorf("stdout: %q", out.stdout)
			}
			lines := strings.Split(strings.TrimSuffix(out.stderr, "\n"), "\n")
			want := []string{r.prog + ": ERROR: ", "Run '" + r.prog + " --help' for usage."}
			if len(lines) != 2 || !strings.HasPrefix(lines[0], want[0]) || !strings.Contains(lines[0], tc.want) || lines[1] != want[1] {
				t.Errorf("stderr:\n%s\nwant one line %q... mentioning %q, then %q", out.stderr, want[0], tc.want, want[1])
			}
			if _, err := os.Stat(f.dev); !os.IsNotExist(err) {
				t.Errorf("a usage error created the destination (stat: %v)", err)
			}
		})
	}
}

func TestCompatHelpAndVersion(t *testing.T) {
	for _, prog := range []string{"bmap", "bmaptool"} {
		r := inProcessRunner(prog)
		t.Run(r.name, func(t *testing.T) {
			testHelp(t, r)
			out := r.run(t, nil, "--version")
			// What this test binary is; binary_test.go checks the
			// version of a release and of a development build.
			want := "bmap " + buildVersion() + "\n"
			if prog == "bmaptool" {
				want = "bmaptool 3.9.0\n"
			}
			goVersion := runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
			if out.code != 0 || out.stdout != want || out.stderr != "" || prog == "bmap" && !strings.HasSuffix(out.stdout, goVersion) {
				t.Errorf("--version: exit %d, stdout %q, stderr %q; want exit 0 and %q", out.code, out.stdout, out.stderr, want)
			}
		})
	}
}

// testHelp checks that every help text exits 0 on stdout and names the
// options a user looks for.
func testHelp(t *testing.T, r compatRunner) {
	for _, tc := range []struct {
		args string
		want []string
	}{
		{"--help", []string{r.prog + " ", "create", "copy", "verify", "--quiet", "-q", "--debug", "-d", "--version"}},
		{"-h", []string{"create", "copy", "verify"}},
		{"copy --help", []string{r.prog + " copy", "IMAGE DEST", "--bmap", "--nobmap", "--bmap-sig", "--no-sig-verify",
			"--no-verify", "--psplash-pipe", "--progress", "--progress-fd", "--quiet", "--debug"}},
		{"copy -h", []string{r.prog + " copy", "--bmap"}},
		{"create --help", []string{r.prog + " create", "IMAGE", "--output", "-o", "--no-checksum"}},
		{"verify --help", []string{r.prog + " verify", "TARGET", "--bmap", "--bmap-sig"}},
	} {
		t.Run(tc.args, func(t *testing.T) {
			if r.parallel {
				t.Parallel()
			}
			out := r.run(t, nil, strings.Fields(tc.args)...)
			if out.code != 0 || out.stderr != "" {
				t.Errorf("%s %s: exit %d, stderr %q", r.prog, tc.args, out.code, out.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.stdout, w) {
					t.Errorf("%s %s does not mention %q:\n%s", r.prog, tc.args, w, out.stdout)
				}
			}
			if r.prog == "bmaptool" && regexp.MustCompile(`(?m)^\s+bmap\s`).MatchString(out.stdout) {
				t.Errorf("%s %s calls the program bmap:\n%s", r.prog, tc.args, out.stdout)
			}
		})
	}
}

// psplashFIFO is a FIFO with a reader, as psplash reads it.
type psplashFIFO struct {
	f     *os.File
	done  chan struct{}
	lines []string
	once  sync.Once
}

// startPsplashFIFO makes a FIFO at path and reads lines from it until
// finish. It opens the FIFO for reading and writing, so it is always open
// for reading (the writer's non-blocking open succeeds) and never sees EOF
// between the writer's updates.
func startPsplashFIFO(t *testing.T, path string) *psplashFIFO {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	p := &psplashFIFO{f: f, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if sc.Text() == "END" {
				return
			}
			p.lines = append(p.lines, sc.Text())
		}
	}()
	return p
}

// finish returns the lines written to the FIFO so far: it writes a marker
// after them and waits for the reader to reach it.
func (p *psplashFIFO) finish(t *testing.T) []string {
	t.Helper()
	p.once.Do(func() { p.f.WriteString("END\n") })
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the psplash reader did not get to the end of the FIFO")
	}
	return p.lines
}

var progressLine = regexp.MustCompile(`^PROGRESS (\d+)$`)

// checkPsplashLines checks psplash's protocol: "PROGRESS N" lines with N a
// percentage that never goes down, ending at 100.
func checkPsplashLines(t *testing.T, lines []string) {
	t.Helper()
	if len(lines) == 0 {
		t.Fatal("nothing was written to the psplash FIFO")
	}
	prev := -1
	for _, l := range lines {
		m := progressLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("psplash FIFO line %q is not \"PROGRESS N\"", l)
		}
		n, _ := strconv.Atoi(m[1])
		if n < 0 || n > 100 || n < prev {
			t.Errorf("psplash progress %d after %d (all: %q)", n, prev, lines)
		}
		prev = n
	}
	if prev != 100 {
		t.Errorf("the psplash progress ends at %d, not 100 (all: %q)", prev, lines)
	}
}
