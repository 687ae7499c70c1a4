//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// stdoutClosed reports whether bmap was started with its standard output
// closed ("bmap create img >&-"). The Go runtime then opens /dev/null
// read-write on file descriptor 1 before main runs, so that nothing else
// lands there, and every write "succeeds": a bmap written there would be
// lost without a word. A shell's ">/dev/null" opens it write-only, which
// tells the two apart.
func stdoutClosed() bool {
	var st, null unix.Stat_t
	if err := unix.Fstat(1, &st); err != nil {
		return true
	}
	if err := unix.Stat(os.DevNull, &null); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != null.Rdev {
		return false
	}
	fl, err := unix.FcntlInt(1, unix.F_GETFL, 0)
	return err == nil && fl&unix.O_ACCMODE == unix.O_RDWR
}
