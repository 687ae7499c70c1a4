package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
)

// logger prints bmaptool-style lines on stderr: "bmap: info: ...",
// "bmap: WARNING: ...", "bmap: ERROR: ...". -q hides info, -d adds debug.
type logger struct {
	w            io.Writer
	prog         string
	quiet, debug bool
	color        bool
	// secrets are removed from every line: the passwords, user names,
	// secret query values of the URLs given, and the values of --header.
	// Messages redact URLs already; this guards against text from
	// libraries that quote a URL or a header as it was.
	secrets []string
	mu      sync.Mutex // lines come from several goroutines (downloads)
	// statusLine is a progress line drawn at the bottom of a terminal,
	// below the messages: each message clears it and draws it again.
	statusLine string
}

// addSecrets adds strings never to print.
func (l *logger) addSecrets(s ...string) {
	for _, x := range s {
		if len(x) >= 3 {
			l.secrets = append(l.secrets, x)
		}
	}
	// Longest first, so that a secret containing another goes whole.
	sort.Slice(l.secrets, func(i, j int) bool { return len(l.secrets[i]) > len(l.secrets[j]) })
}

// scrub replaces every secret in s by "***", also as JSON escapes it.
func (l *logger) scrub(s string) string {
	for _, x := range l.secrets {
		s = strings.ReplaceAll(s, x, "***")
		if q, _ := json.Marshal(x); len(q) > 2 && string(q[1:len(q)-1]) != x {
			s = strings.ReplaceAll(s, string(q[1:len(q)-1]), "***")
		}
	}
	return s
}

func newLogger(w io.Writer, prog string) *logger {
	l := &logger{w: w, prog: prog}
	if f, ok := w.(*os.File); ok && isTerminal(f) && os.Getenv("NO_COLOR") == "" {
		l.color = true
	}
	return l
}

func (l *logger) line(label, color, format string, args ...any) {
	msg := l.scrub(fmt.Sprintf(format, args...))
	msg = strings.TrimRight(msg, "\n")
	if l.color && color != "" {
		label = color + label + "\033[0m"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.statusLine != "" {
		fmt.Fprintf(l.w, "\r\033[K%s: %s: %s\n%s", l.prog, label, msg, l.statusLine)
		return
	}
	fmt.Fprintf(l.w, "%s: %s: %s\n", l.prog, label, msg)
}

// status draws s as the progress line at the bottom of a terminal, in
// place of the one before; "" clears it.
func (l *logger) status(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "\r\033[K%s", s)
	l.statusLine = s
}

func (l *logger) Infof(format string, args ...any) {
	if !l.quiet {
		l.line("info", "", format, args...)
	}
}

func (l *logger) Debugf(format string, args ...any) {
	if l.debug {
		l.line("debug", "", format, args...)
	}
}

func (l *logger) Warnf(format string, args ...any) { l.line("WARNING", "\033[93m", format, args...) }

func (l *logger) Errorf(format string, args ...any) { l.line("ERROR", "\033[91m", format, args...) }
