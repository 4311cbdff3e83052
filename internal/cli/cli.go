// Package cli holds the switchboard command tree in a package that other
// wrapper binaries can include. Commands return errors and write only to the
// writers they are given, so tests can drive them with buffers.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Stdio carries the standard streams a command may use.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// command is one subcommand of switchboard.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, io Stdio, args []string) error
}

// commands lists every subcommand. Each lives in a file of its own.
func commands() []command {
	return []command{
		{"serve", "run the hub: Socket.IO chat on HTTP (and more doors as they land)", runServe},
		{"sock", "a ZeroMQ messaging socket on the terminal", runSock},
		{"bench", "performance tools (libzmq-compatible local_thr/remote_thr/local_lat/remote_lat)", runBench},
		{"listen", "listen on an endpoint and connect it to stdin/stdout, like nc -l", runListen},
		{"dial", "dial an endpoint and connect it to stdin/stdout, like nc", runDial},
		{"relay", "a rate-limited relay between two endpoints", runRelay},
		{"stat", "live per-connection statistics of running switchboard processes", runStat},
		{"chat", "a terminal chat client", runChat},
	}
}

// ErrUsage reports a command line that could not be parsed. The usage has
// already been printed to the error stream.
var ErrUsage = errors.New("cli: usage error")

// exitError carries a specific exit status.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ExitCode maps an error returned by Run to a process exit status: 2 for
// usage errors, 1 for anything else.
func ExitCode(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, ErrUsage):
		return 2
	default:
		return 1
	}
}

// Run runs switchboard with the given arguments (without the program name).
// Errors that are not usage errors are also printed to stdio.Err.
func Run(ctx context.Context, args []string, stdio Stdio) error {
	if stdio.In == nil {
		stdio.In = strings.NewReader("")
	}
	if stdio.Out == nil {
		stdio.Out = io.Discard
	}
	if stdio.Err == nil {
		stdio.Err = io.Discard
	}
	if len(args) == 0 {
		usage(stdio.Err)
		return ErrUsage
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		usage(stdio.Out)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			err := c.run(ctx, stdio, args[1:])
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return nil
			case errors.Is(err, ErrUsage):
				return err
			default:
				var ee exitError
				if !errors.As(err, &ee) {
					fmt.Fprintf(stdio.Err, "switchboard %s: %v\n", name, err)
				}
				return err
			}
		}
	}
	fmt.Fprintf(stdio.Err, "switchboard: unknown command %q\n", name)
	usage(stdio.Err)
	return ErrUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: switchboard COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'switchboard COMMAND -h' for a command's flags.")
}

// newFlagSet returns a FlagSet for a subcommand that writes its usage to
// stdio.Err and returns errors instead of exiting.
func newFlagSet(stdio Stdio, name, argsUsage string) *flag.FlagSet {
	fs := flag.NewFlagSet("switchboard "+name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	fs.Usage = func() {
		fmt.Fprintf(stdio.Err, "usage: switchboard %s %s\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and maps parse failures to ErrUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ErrUsage
	}
	return nil
}
