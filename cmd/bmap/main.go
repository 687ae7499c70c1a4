// Command bmap creates block maps of sparse disk images and flashes images
// using them: a faster, safer drop-in for bmaptool. Run "bmap --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		signal.Reset() // a second Ctrl-C kills at once
		cancel(interrupted{sig})
	}()
	err := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	os.Exit(exitCode(err))
}
