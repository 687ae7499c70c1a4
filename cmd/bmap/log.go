package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// logger prints bmaptool-style lines on stderr: "bmap: info: ...",
// "bmap: WARNING: ...", "bmap: ERROR: ...". -q hides info, -d adds debug.
type logger struct {
	w            io.Writer
	prog         string
	quiet, debug bool
	color        bool
}

func newLogger(w io.Writer, prog string) *logger {
	l := &logger{w: w, prog: prog}
	if f, ok := w.(*os.File); ok && isTerminal(f) && os.Getenv("NO_COLOR") == "" {
		l.color = true
	}
	return l
}

func (l *logger) line(label, color, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	msg = strings.TrimRight(msg, "\n")
	if l.color && color != "" {
		label = color + label + "\033[0m"
	}
	fmt.Fprintf(l.w, "%s: %s: %s\n", l.prog, label, msg)
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
