package main

// Progress as its consumers see it: JSON events for CI (on stderr or on
// another file descriptor), the line redrawn on a terminal (checked in a
// real one, a tmux pane), psplash's FIFO, and the summary line.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowPipe returns the read end of a pipe into which data is written in
// chunks of n bytes with a pause after each, so a copy from it lasts long
// enough for progress to be reported.
func slowPipe(t *testing.T, data []byte, n int, pause time.Duration) *os.File {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	go func() {
		defer pw.Close()
		for len(data) > 0 {
			k := min(n, len(data))
			if _, err := pw.Write(data[:k]); err != nil {
				return
			}
			data = data[k:]
			time.Sleep(pause)
		}
	}()
	return pr
}

// progressEvent is one JSON event, its numbers as float64.
type progressEvent map[string]any

func (e progressEvent) num(key string) float64 {
	f, _ := e[key].(float64)
	return f
}

func (e progressEvent) str(key string) string {
	s, _ := e[key].(string)
	return s
}

// parseEvents splits output into JSON events and other lines, checking
// that every line that starts with "{" is one JSON object with an event
// name and a time.
func parseEvents(t *testing.T, output string) (events []progressEvent, other []string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(output, "\n"), "\n") {
		if !strings.HasPrefix(l, "{") {
			if l != "" {
				other = append(other, l)
			}
			continue
		}
		var ev progressEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("event %q is not JSON: %v", l, err)
		}
		if ev.str("event") == "" {
			t.Errorf("event %q has no name", l)
		}
		if _, err := time.Parse(time.RFC3339Nano, ev.str("time")); err != nil {
			t.Errorf("event %q: time: %v", l, err)
		}
		events = append(events, ev)
	}
	return events, other
}

// checkSuccessEvents checks the events of a successful copy of f's image
// to f.dev with f's bmap: start, a range event per range (with its
// checksum), progress events if any, then end.
func checkSuccessEvents(t *testing.T, f *compatFixture, image string, events []progressEvent) {
	t.Helper()
	if len(events) < 2 {
		t.Fatalf("%d events, want at least start and end", len(events))
	}
	mapped := float64(f.m.MappedBytes())
	start := events[0]
	for k, want := range map[string]any{"event": "start", "image": image, "bmap": f.bmap, "destination": f.dev,
		"destination_kind": "file", "format": "raw", "image_size": float64(f.m.ImageSize),
		"mapped_bytes": mapped, "block_size": float64(f.m.BlockSize), "verify": true} {
		if start[k] != want {
			t.Errorf("start event: %s = %v, want %v (event: %v)", k, start[k], want, start)
		}
	}
	// Which binary: the in-process run and the test binary have no
	// release version; TestDevelopmentBuildVersion checks a revision.
	if v := start.str("version"); !strings.HasSuffix(v, runtime.Version()+", "+runtime.GOOS+"/"+runtime.GOARCH+")") {
		t.Errorf("start event: version %q does not name the Go version and platform (event: %v)", v, start)
	}
	end := events[len(events)-1]
	for k, want := range map[string]any{"event": "end", "result": "success", "written_bytes": mapped,
		"image_bytes": float64(f.m.ImageSize), "verified_ranges": float64(len(f.m.Ranges))} {
		if end[k] != want {
			t.Errorf("end event: %s = %v, want %v (event: %v)", k, end[k], want, end)
		}
	}
	if b := end.str("bottleneck"); b != "reading and decompressing" && b != "hashing" && b != "writing" {
		t.Errorf("end event: bottleneck %q (event: %v)", b, end)
	}
	for _, k := range []string{"seconds", "read_seconds", "hash_seconds", "write_seconds", "rate_bytes_per_second"} {
		if v, ok := end[k].(float64); !ok || v < 0 {
			t.Errorf("end event: %s = %v", k, end[k])
		}
	}

	var ranges int
	var lastWritten, lastOffset float64
	for _, ev := range events[1 : len(events)-1] {
		switch ev.str("event") {
		case "range":
			if ranges >= len(f.m.Ranges) {
				t.Fatalf("more range events than the bmap's %d ranges", len(f.m.Ranges))
			}
			r := f.m.Ranges[ranges]
			if ev.num("first") != float64(r.First) || ev.num("last") != float64(r.Last) ||
				ev.num("offset") != float64(f.m.Offset(r)) || ev.num("length") != float64(f.m.Length(r)) ||
				ev.str("checksum") != hex.EncodeToString(r.Checksum) {
				t.Errorf("range event %d is %v, want range %v", ranges, ev, r)
			}
			ranges++
		case "progress":
			w, o := ev.num("written_bytes"), ev.num("image_offset")
			if w < lastWritten || o < lastOffset || w > mapped || o > float64(f.m.ImageSize) {
				t.Errorf("progress event %v after written %v, offset %v", ev, lastWritten, lastOffset)
			}
			lastWritten, lastOffset = w, o
			if p := ev.num("percent"); p < 0 || p > 100 || ev.num("mapped_bytes") != mapped {
				t.Errorf("progress event %v: percent or mapped_bytes wrong", ev)
			}
		default:
			t.Errorf("unexpected event between start and end: %v", ev)
		}
	}
	if ranges != len(f.m.Ranges) {
		t.Errorf("%d range events, want one per range: %d", ranges, len(f.m.Ranges))
	}
}

func TestProgressJSON(t *testing.T) {
	f := newCompatFixture(t)
	r := mustRun(t, nil, "copy", "--progress", "json", "--bmap", f.bmap, f.img.path, f.dev)
	events, other := parseEvents(t, r.stderr)
	if len(other) > 0 {
		t.Errorf("--progress json: stderr has lines that are not events: %q", other)
	}
	checkSuccessEvents(t, f, f.img.path, events)
	checkFile(t, f.dev, f.img.data)
}

// TestProgressJSONStream copies from a slow pipe, so that progress events
// (twice a second) are sent.
func TestProgressJSONStream(t *testing.T) {
	f := newCompatFixture(t)
	stdin := slowPipe(t, f.img.data, 64<<10, 50*time.Millisecond) // about 1.2 s
	r := mustRun(t, stdin, "copy", "--progress", "json", "--bmap", f.bmap, "-", f.dev)
	events, other := parseEvents(t, r.stderr)
	if len(other) > 0 {
		t.Errorf("--progress json: stderr has lines that are not events: %q", other)
	}
	checkSuccessEvents(t, f, "-", events)
	n := 0
	for _, ev := range events {
		if ev.str("event") == "progress" {
			n++
		}
	}
	if n == 0 {
		t.Errorf("no progress events in a copy of over a second")
	}
	checkFile(t, f.dev, f.img.data)
}

func TestProgressJSONFailure(t *testing.T) {
	f := newCompatFixture(t)
	// Corrupt the second range: the first is verified and reported, then
	// the copy stops with a checksum mismatch.
	second := f.m.Ranges[1]
	data := bytes.Clone(f.img.data)
	data[f.m.Offset(second)+5] ^= 0xff
	writeFile(t, f.img.path, data)

	r := runBmap(t, nil, "copy", "--progress", "json", "--bmap", f.bmap, f.img.path, f.dev)
	if r.code != exitFailure {
		t.Fatalf("copy of a corrupted image: exit %d, want %d\n%s", r.code, exitFailure, r.stderr)
	}
	events, other := parseEvents(t, r.stderr)
	if len(other) != 1 || !strings.HasPrefix(other[0], "bmap: ERROR: ") || !strings.HasSuffix(strings.TrimSpace(r.stderr), other[0]) {
		t.Errorf("stderr should hold events and, last, one error line; the other lines are %q", other)
	}
	if len(events) == 0 || events[0].str("event") != "start" {
		t.Fatalf("no start event: %v", events)
	}
	end := events[len(events)-1]
	if end.str("event") != "end" || end.str("result") != "failure" || !strings.Contains(end.str("error"), "checksum") {
		t.Errorf("last event %v; want end, failure, and an error about the checksum", end)
	}
	if len(other) == 1 && !strings.Contains(other[0], end.str("error")) {
		t.Errorf("the end event's error %q is not the error line %q", end.str("error"), other[0])
	}
	for _, ev := range events {
		if ev.str("event") == "range" && ev.num("first") == float64(second.First) {
			t.Errorf("the corrupted range was reported verified: %v", ev)
		}
	}

	// A failure before the copy starts (no bmap found) still ends with an
	// end event.
	r = runBmap(t, nil, "copy", "--progress", "json", f.img.path+".nope", f.dev+"2")
	events, _ = parseEvents(t, r.stderr)
	if r.code != exitFailure || len(events) != 1 || events[0].str("event") != "end" || events[0].str("result") != "failure" || events[0].str("error") == "" {
		t.Errorf("copy without a bmap: exit %d, events %v; want exit 1 and one end event with result failure", r.code, events)
	}
}

// TestProgressJSONFD sends the events to file descriptor 3: stderr keeps
// the usual info lines.
func TestProgressJSONFD(t *testing.T) {
	bin := builtBinary(t)
	f := newCompatFixture(t)
	events, err := os.Create(filepath.Join(t.TempDir(), "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	cmd := exec.Command(bin, "copy", "--progress", "json", "--progress-fd", "3", "--bmap", f.bmap, f.img.path, f.dev)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = &stdout, &stderr, []*os.File{events}
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	evs, other := parseEvents(t, string(readFile(t, events.Name())))
	if len(other) > 0 {
		t.Errorf("fd 3 has lines that are not events: %q", other)
	}
	checkSuccessEvents(t, f, f.img.path, evs)
	if strings.Contains(stderr.String(), "{") || !strings.Contains(stderr.String(), "bmap: info: copying image") {
		t.Errorf("stderr should have the info lines and no events:\n%s", stderr.String())
	}
	checkMessages(t, "bmap", stderr.String())
	checkFile(t, f.dev, f.img.data)

	// A descriptor that is not open is a usage error, not silence.
	r := runProgram(t, bin, nil, "copy", "--progress", "json", "--progress-fd", "9", "--bmap", f.bmap, f.img.path, f.dev+"2")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--progress-fd") {
		t.Errorf("--progress-fd 9 (not open): exit %d, stderr %q; want exit 2 and an error about --progress-fd", r.code, r.stderr)
	}
}

// TestProgressPsplashStream reads the psplash FIFO during a copy long
// enough for several updates.
func TestProgressPsplashStream(t *testing.T) {
	f := newCompatFixture(t)
	fifo := startPsplashFIFO(t, filepath.Join(f.dir, "psplash_fifo"))
	stdin := slowPipe(t, f.img.data, 64<<10, 40*time.Millisecond)
	mustRun(t, stdin, "copy", "--bmap", f.bmap, "--psplash-pipe", filepath.Join(f.dir, "psplash_fifo"), "-", f.dev)
	lines := fifo.finish(t)
	checkPsplashLines(t, lines)
	if len(lines) < 2 {
		t.Errorf("one psplash update in a copy of a second: %q", lines)
	}
	checkFile(t, f.dev, f.img.data)
}

// summaryLine is the last line of a copy: where the time went.
var summaryLine = regexp.MustCompile(`(?m)^bmap: info: time spent reading and decompressing (\d+h )?(\d+m )?\d+\.\ds, ` +
	`hashing (\d+h )?(\d+m )?\d+\.\ds, writing (\d+h )?(\d+m )?\d+\.\ds: (reading and decompressing|hashing|writing) was the bottleneck$`)

// TestProgressNotOnPipe copies with stderr a pipe, for long enough that
// the line would be drawn several times on a terminal: nothing of it must
// appear. It checks the summary lines too.
func TestProgressNotOnPipe(t *testing.T) {
	bin := builtBinary(t)
	f := newCompatFixture(t)
	r := runProgram(t, bin, slowPipe(t, f.img.data, 64<<10, 30*time.Millisecond), "copy", "--bmap", f.bmap, "-", f.dev)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if strings.ContainsAny(r.stderr, "\r\x1b") || strings.Contains(r.stderr, "written") {
		t.Errorf("stderr is not a terminal, but has the progress line: %q", r.stderr)
	}
	for _, l := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
		if !strings.HasPrefix(l, "bmap: info: ") {
			t.Errorf("stderr line %q is not an info line", l)
		}
	}
	if !summaryLine.MatchString(r.stderr) || !regexp.MustCompile(`(?m)^bmap: info: copying time: \S+, copying speed \S+ \S+/sec$`).MatchString(r.stderr) {
		t.Errorf("no summary lines (time, speed, where the time went and the bottleneck):\n%s", r.stderr)
	}
	checkFile(t, f.dev, f.img.data)
}

// terminalLine is the progress line on a stream: written bytes of the
// mapped, its percentage, how much of the image was read, and the rate.
var terminalLine = regexp.MustCompile(`bmap: (\S+ \S+) of (\S+ \S+) written \((\d+)%\), image (\d+)% read, \d+(\.\d)? (bytes?|KiB|MiB|GiB)/s`)

// TestProgressTerminal copies in a tmux pane, from a FIFO fed slowly, and
// looks at the screen while it runs and after.
func TestProgressTerminal(t *testing.T) {
	needTools(t, "tmux")
	bin := builtBinary(t)
	dir := t.TempDir()
	// 2 MiB of data, a 20 MiB hole, 2 MiB of data: the middle of the
	// copy only reads zeros, and the line must keep moving then too.
	const mib = 1 << 20
	spec := imageSpec{size: 24 * mib, ranges: []blockRange{{0, 2*mib/testBlockSize - 1, 'r'}, {22 * mib / testBlockSize, 24*mib/testBlockSize - 1, 'r'}}, seed: 7}
	img := makeImage(t, dir, "disk.img", spec)
	m := createBmap(t, img.path, filepath.Join(dir, "disk.bmap"))
	fifo := filepath.Join(dir, "stdin.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	sock := filepath.Join(dir, "tmux.sock")
	tmux := func(args ...string) (string, error) {
		cmd := exec.Command("tmux", append([]string{"-S", sock, "-f", "/dev/null"}, args...)...)
		cmd.Env = append(os.Environ(), "TMUX=", "SHELL=/bin/sh") // the script is sh
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	script := fmt.Sprintf("'%s' copy --bmap disk.bmap - out.img < stdin.fifo; echo EXIT=$?; sleep 60", bin)
	if out, err := tmux("new-session", "-d", "-x", "200", "-y", "50", "-c", dir, script); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { tmux("kill-server") })

	// The image, 24 MiB in 256 KiB pieces every 15 ms: about 1.5 s.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0) // never blocks, even before the shell opens it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	go func() {
		defer w.Close()
		for data := img.data; len(data) > 0; data = data[min(256<<10, len(data)):] {
			if _, err := w.Write(data[:min(256<<10, len(data))]); err != nil {
				return
			}
			time.Sleep(15 * time.Millisecond)
		}
	}()

	var screens []string
	var final string
	for deadline := time.Now().Add(20 * time.Second); ; {
		screen, err := tmux("capture-pane", "-p")
		if err != nil {
			t.Fatalf("tmux capture-pane: %v\n%s", err, screen)
		}
		if strings.Contains(screen, "EXIT=") {
			final = screen
			break
		}
		screens = append(screens, screen)
		if time.Now().After(deadline) {
			t.Fatalf("the copy did not end in 20 s; screen:\n%s", screen)
		}
		time.Sleep(40 * time.Millisecond)
	}

	// While it ran: the line, and during the hole (2 MiB written) the
	// share of the image read kept changing.
	var drawn int
	readDuringHole := map[string]bool{}
	for _, s := range screens {
		m := terminalLine.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		drawn++
		if m[1] == "2.0 MiB" {
			readDuringHole[m[4]] = true
		}
	}
	if drawn == 0 {
		t.Fatalf("no progress line in %d captures of the screen; the last:\n%s", len(screens), screens[len(screens)-1])
	}
	t.Logf("%d captures, %d with the progress line; during the hole, image read at %v%%", len(screens), drawn, readDuringHole)
	if len(readDuringHole) < 2 {
		t.Errorf("while only a hole was read, the progress line did not move: image read %v%%", readDuringHole)
	}

	// After: the line is gone, the final info lines are there, each on
	// its own line.
	var lines []string
	for _, l := range strings.Split(final, "\n") {
		if l = strings.TrimRight(l, " "); l != "" {
			lines = append(lines, l)
		}
	}
	if lines[len(lines)-1] != "EXIT=0" {
		t.Errorf("the copy failed:\n%s", final)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "bmap: info: ") || strings.Contains(l, "written") {
			t.Errorf("screen line %q is not an info line: the progress line was not cleared\n%s", l, final)
		}
	}
	for _, want := range []string{"bmap: info: synchronizing 'out.img'", "bmap: info: copying time: "} {
		if !strings.Contains(final, "\n"+want) {
			t.Errorf("the screen has no line %q:\n%s", want, final)
		}
	}
	if !summaryLine.MatchString(final) {
		t.Errorf("the screen has no summary line:\n%s", final)
	}
	checkFile(t, filepath.Join(dir, "out.img"), img.data)
	checkSparse(t, filepath.Join(dir, "out.img"), m)
}
