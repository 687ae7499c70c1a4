// Command bmap creates block maps of sparse disk images and flashes images
// using them: a faster, safer drop-in for bmaptool. Run "bmap --help".
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		signal.Reset() // a second Ctrl-C kills at once
		cancel(interrupted{sig})
		// The copy stops between reads; a source that sends nothing (a
		// stalled pipe) would keep it waiting. Don't wait for ever.
		time.Sleep(10 * time.Second)
		fmt.Fprintf(os.Stderr, "bmap: ERROR: %v, and the copy did not stop within 10s (stalled input?); exiting: the destination is incomplete\n", interrupted{sig})
		os.Exit(exitCode(interrupted{sig}))
	}()
	var stdout io.Writer = os.Stdout
	if stdoutClosed() {
		stdout = closedOutput{}
	}
	err := run(ctx, os.Args, os.Stdin, stdout, os.Stderr)
	os.Exit(exitCode(err))
}

// closedOutput stands for a standard output that was closed: writing to it
// fails.
type closedOutput struct{}

func (closedOutput) Write([]byte) (int, error) {
	return 0, errors.New("standard output is closed")
}
