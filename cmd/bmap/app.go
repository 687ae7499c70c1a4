package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

// env is what a command needs from the process: its streams and logger.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *logger
}

// run is the whole program: main only adds the process's streams, signals
// and exit code. It prints errors itself, one line each.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	prog := "bmap"
	if len(args) > 0 && strings.HasPrefix(filepath.Base(args[0]), "bmaptool") {
		prog = "bmaptool"
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, log: newLogger(stderr, prog)}
	app := newApp(prog, e)
	err := app.RunContext(ctx, append([]string{prog}, permute(args[min(1, len(args)):], valueFlags(app))...))
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		e.log.Errorf("%s", oneLine(err.Error()))
		if ue, ok := asUsage(err); ok {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", prog)
			if ue.conflict && prog == "bmaptool" {
				err = bmaptoolFailure{err}
			}
		}
	}
	return err
}

// oneLine joins a multi-line message so every error is one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

var globalFlags = []cli.Flag{
	&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "be quiet: print only warnings and errors"},
	&cli.BoolFlag{Name: "debug", Aliases: []string{"d"}, Usage: "print debugging messages"},
}

func newApp(prog string, e *env) *cli.App {
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintf(c.App.Writer, "%s %s\n", prog, c.App.Version) }
	app := &cli.App{
		Name:            prog,
		Usage:           "create block maps of sparse disk images and flash images fast and safely",
		Version:         versionOf(prog),
		Reader:          e.stdin,
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		Flags:           globalFlags,
		HideHelpCommand: true,
		// Without this, urfave/cli calls os.Exit on errors.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{msg: err.Error()}
		},
		Before: func(c *cli.Context) error { return setupLog(c, e) },
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("unknown command %q (want create, copy, verify or convert)", c.Args().First())
			}
			return usagef("no command given (want create, copy, verify or convert)")
		},
		Commands:             []*cli.Command{createCommand(e), copyCommand(e), verifyCommand(e), convertCommand(e), completionCommand(e), manCommand(e)},
		EnableBashCompletion: true,
	}
	return app
}

// setupLog applies -q and -d, which may come before or after the command.
func setupLog(c *cli.Context, e *env) error {
	wasDebug := e.log.debug
	e.log.quiet = e.log.quiet || c.Bool("quiet")
	e.log.debug = e.log.debug || c.Bool("debug")
	if e.log.quiet && e.log.debug {
		return conflictf("-q and -d cannot be used together")
	}
	if e.log.debug && !wasDebug {
		e.log.Debugf("bmap %s", buildVersion())
	}
	return nil
}

// commandFlags returns a command's own flags plus the global ones, so that
// "bmap copy -q ..." works like "bmap -q copy ...".
func commandFlags(own ...cli.Flag) []cli.Flag { return append(own, globalFlags...) }

func onUsageError(_ *cli.Context, err error, _ bool) error { return usageError{msg: err.Error()} }

// valueFlags returns the options of app's commands that take a value, as
// they are written on a command line ("-o", "--bmap").
func valueFlags(app *cli.App) map[string]bool {
	out := map[string]bool{}
	for _, cmd := range app.Commands {
		for _, f := range cmd.Flags {
			if _, isBool := f.(*cli.BoolFlag); isBool {
				continue
			}
			for _, name := range f.Names() {
				if len(name) == 1 {
					out["-"+name] = true
				} else {
					out["--"+name] = true
				}
			}
		}
	}
	return out
}

// permute moves options after a command's positional arguments in front of
// them, as bmaptool (argparse) accepts them anywhere: "create IMG -o OUT",
// "copy IMG DEV --bmap=X". urfave/cli stops at the first positional. A "--"
// ends the options; "-" alone is a positional (stdin).
func permute(args []string, valueFlags map[string]bool) []string {
	for _, a := range args {
		if a == "--generate-bash-completion" { // urfave/cli's completion protocol: leave as typed
			return args
		}
	}
	var global, opts, pos []string
	i := 0
	for ; i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" && args[i] != "--"; i++ {
		global = append(global, args[i])
	}
	if i == len(args) || args[i] == "--" {
		return args
	}
	command := args[i]
	for i++; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case a == "-" || !strings.HasPrefix(a, "-"):
			pos = append(pos, a)
		default:
			opts = append(opts, a)
			if valueFlags[a] {
				if i+1 == len(args) {
					// No value: end with the option, so the parser
					// reports it instead of taking the "--" added
					// below as its value.
					return append(append(global, command), opts...)
				}
				i++
				opts = append(opts, args[i])
			}
		}
	}
	out := append(append(global, command), opts...)
	if len(pos) > 0 {
		out = append(append(out, "--"), pos...)
	}
	return out
}
