package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/bmap-tools/bmap/job"
	"golang.org/x/sys/unix"
)

// Exit codes, documented in README.md; keep them stable.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 128 // plus the signal number: 130 for SIGINT, 143 for SIGTERM
)

// usageError is a command line that cannot be run as written.
type usageError struct {
	msg string
	// conflict: options that exclude each other. bmaptool checks those
	// after parsing and exits 1, so under its name we do too.
	conflict bool
}

func (e usageError) Error() string { return e.msg }

// asUsage returns err as a usage error if it is one: ours, or a job's
// options that cannot be run as given.
func asUsage(err error) (usageError, bool) {
	var ue usageError
	if errors.As(err, &ue) {
		return ue, true
	}
	var oe *job.OptionError
	if errors.As(err, &oe) {
		return usageError{msg: oe.Msg, conflict: oe.Conflict}, true
	}
	return usageError{}, false
}

func usagef(format string, args ...any) error { return usageError{msg: fmt.Sprintf(format, args...)} }

func conflictf(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...), conflict: true}
}

// bmaptoolFailure is an error that bmaptool reports with exit status 1.
type bmaptoolFailure struct{ error }

func (e bmaptoolFailure) Unwrap() error { return nil } // not a usage error any more

// interrupted is the cause of a context cancelled by a signal.
type interrupted struct{ sig os.Signal }

func (e interrupted) Error() string {
	if s, ok := e.sig.(syscall.Signal); ok && unix.SignalName(s) != "" {
		return "interrupted by " + unix.SignalName(s)
	}
	return fmt.Sprintf("interrupted by %v", e.sig)
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	if _, ok := err.(bmaptoolFailure); ok {
		return exitFailure
	}
	if _, ok := asUsage(err); ok {
		return exitUsage
	}
	var i interrupted
	if errors.As(err, &i) {
		if s, ok := i.sig.(syscall.Signal); ok {
			return exitInterrupted + int(s)
		}
		return exitInterrupted + int(syscall.SIGINT)
	}
	return exitFailure
}
