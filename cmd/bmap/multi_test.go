package main

// Copies to several destinations at once, onto regular files and
// /dev/full; multi_linux_test.go does the same onto loop devices.

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bmap-tools/bmap/flash"
)

// destEvents sorts the events of a copy by destination: start, progress and
// end events carry one.
func destEvents(t *testing.T, events []progressEvent) map[string][]progressEvent {
	t.Helper()
	by := map[string][]progressEvent{}
	for _, ev := range events {
		switch ev.str("event") {
		case "start", "progress", "end":
			d := ev.str("destination")
			if d == "" {
				t.Errorf("%s event without a destination: %v", ev.str("event"), ev)
			}
			by[d] = append(by[d], ev)
		}
	}
	return by
}

// checkDestEvents checks that each destination had one start event (if
// started), then progress events, then one end event with the result
// wanted ("success", "failure").
func checkDestEvents(t *testing.T, events []progressEvent, started bool, results map[string]string) {
	t.Helper()
	by := destEvents(t, events)
	if len(by) != len(results) {
		t.Errorf("events for %d destinations, want %d: %v", len(by), len(results), by)
	}
	for dest, want := range results {
		evs := by[dest]
		var starts, ends int
		for _, ev := range evs {
			switch ev.str("event") {
			case "start":
				starts++
			case "end":
				ends++
			}
		}
		if started && (len(evs) < 2 || evs[0].str("event") != "start") || !started && starts != 0 {
			t.Errorf("%s: events %v; want them to begin with a start event: %v", dest, evs, started)
		}
		if ends != 1 || evs[len(evs)-1].str("event") != "end" {
			t.Errorf("%s: %d end events, want one, last", dest, ends)
			continue
		}
		end := evs[len(evs)-1]
		if end.str("result") != want {
			t.Errorf("%s: end event %v, want result %s", dest, end, want)
		}
	}
}

// TestCopyToSeveralFiles copies one image onto several regular files at
// once, from a file and from a stream: each holds the image; the summary
// has a line per destination; the events are per destination.
func TestCopyToSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	m := createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	for _, image := range []string{img.path, gz} {
		t.Run(filepath.Base(image), func(t *testing.T) {
			out := t.TempDir()
			dests := []string{filepath.Join(out, "a.img"), filepath.Join(out, "b.img"), filepath.Join(out, "c.img")}
			writeFile(t, dests[1], []byte("old content\n"))
			r := mustRun(t, nil, append([]string{"copy", "--bmap", bm, image}, dests...)...)
			for _, d := range dests {
				checkFile(t, d, img.data)
				checkSparse(t, d, m)
				line := regexp.MustCompile(`(?m)^bmap: info: ` + regexp.QuoteMeta(d) + `: \S+ \S+ written in \S+, \S+ \S+/sec: success$`)
				if !line.MatchString(r.stderr) {
					t.Errorf("no summary line for %s:\n%s", d, r.stderr)
				}
			}
			if !summaryLine.MatchString(r.stderr) {
				t.Errorf("no line on where the time went:\n%s", r.stderr)
			}

			// The same with --progress json and --verify-readback.
			r = mustRun(t, nil, append([]string{"copy", "--progress", "json", "--verify-readback", "--bmap", bm, image}, dests...)...)
			events, other := parseEvents(t, r.stderr)
			if len(other) > 0 {
				t.Errorf("stderr has lines that are not events: %q", other)
			}
			results := map[string]string{}
			for _, d := range dests {
				results[d] = "success"
				checkFile(t, d, img.data)
			}
			checkDestEvents(t, events, true, results)
			for _, ev := range events {
				if ev.str("event") == "end" && ev.num("written_bytes") != float64(m.MappedBytes()) {
					t.Errorf("end event %v: written_bytes, want %d", ev, m.MappedBytes())
				}
			}
		})
	}
}

// TestCopyToSeveralOneFails copies onto two files and /dev/full, whose
// writes fail: it is dropped, the files are written in full, the exit
// status is 1 and the error names /dev/full only.
func TestCopyToSeveralOneFails(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skipf("no /dev/full here: %v", err)
	}
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	createBmap(t, img.path, bm)
	gz := compress(t, formatNamed(t, "gzip"), img.path, dir)
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	r := runBmap(t, nil, "copy", "--progress", "json", "--bmap", bm, gz, a, "/dev/full", b)
	wantFailure(t, r, exitFailure, "1 of 3 destinations failed", "/dev/full", "no space left")
	if msg := errorLine(t, r); strings.Contains(msg, a) || strings.Contains(msg, b) {
		t.Errorf("the error names a destination that was written: %s", msg)
	}
	checkFile(t, a, img.data)
	checkFile(t, b, img.data)
	events, other := parseEvents(t, r.stderr)
	checkDestEvents(t, events, true, map[string]string{a: "success", "/dev/full": "failure", b: "success"})
	// Said when it happens, not only at the end.
	if len(other) != 2 || !strings.HasPrefix(other[0], "bmap: WARNING: dropping '/dev/full' after 0 bytes written: ") || !strings.Contains(other[0], "the others go on") {
		t.Errorf("want a warning that /dev/full was dropped, then the error; got %q", other)
	}
}

// TestCopyToSeveralRefused: when one destination is refused before the
// copy (a directory, a name given twice), none is written and each
// refusal is named.
func TestCopyToSeveralRefused(t *testing.T) {
	dir := t.TempDir()
	img := makeImage(t, dir, "disk.img", defaultSpec)
	bm := filepath.Join(dir, "disk.img.bmap")
	createBmap(t, img.path, bm)
	old := []byte("precious\n")
	a, b, sub := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img"), filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.img") // another name of a.img
	if err := os.Symlink("a.img", link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		dests []string
		want  []string
	}{
		{"directory", []string{a, sub, b}, []string{"1 of 3 destinations cannot be written", sub, "directory"}},
		{"twice", []string{a, b, link}, []string{"1 of 3", link + " is given twice (also as " + a + ")"}},
		{"image", []string{a, img.path}, []string{"1 of 2", "is the image itself"}},
		{"two", []string{a, img.path, link}, []string{"2 of 3", "is the image itself", "given twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeFile(t, a, old)
			writeFile(t, b, old)
			r := runBmap(t, nil, append([]string{"copy", "--progress", "json", "--bmap", bm, img.path}, tt.dests...)...)
			wantFailure(t, r, exitFailure, append(tt.want, "none was written")...)
			checkFile(t, a, old)
			checkFile(t, b, old)
			checkFile(t, img.path, img.data)
			events, _ := parseEvents(t, r.stderr)
			results := map[string]string{}
			for _, d := range tt.dests {
				results[d] = "failure"
			}
			checkDestEvents(t, events, false, results)
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("a file was left beside the destinations: %s", e.Name())
				}
			}
		})
	}
}

// TestCopyToSeveralTerminalLine: the progress line names the slowest
// destination (drawn once a copy takes long enough; here only its shape
// is checked through reporter.update).
func TestCopyToSeveralTerminalLine(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, "bmap")
	r := &reporter{prog: "bmap", dests: []string{"/dev/sdb", "/dev/sdc", "/dev/sdd"}, mapped: 100 << 20, imageSize: 200 << 20, term: log}
	r.p.Dests = make([]flash.DestProgress, 3)
	r.p.Dests[0].WrittenBytes.Store(50 << 20)
	r.p.Dests[1].WrittenBytes.Store(20 << 20)
	r.p.Dests[1].Dropped.Store(true)
	r.p.Dests[2].WrittenBytes.Store(30 << 20)
	r.p.WrittenBytes.Store(30 << 20)
	r.update(false)
	want := "bmap: 30.0 MiB of 100.0 MiB written (30%) to each of 2 destinations left of 3, slowest /dev/sdd"
	if !strings.Contains(buf.String(), want) {
		t.Errorf("progress line %q, want it to say %q", buf.String(), want)
	}
	// A message while the line is drawn goes above it; the line is drawn
	// again below.
	buf.Reset()
	log.Warnf("dropping '%s'", "/dev/sdc")
	if got := buf.String(); !strings.HasPrefix(got, "\r\033[Kbmap: WARNING: dropping '/dev/sdc'\n"+want) {
		t.Errorf("a warning while the line is drawn: %q", got)
	}
}
