// Command switchboard is the switchboard daemon and toolkit: a many-to-many
// socket hub (Socket.IO, ZeroMQ, IRC, datagrams) and the raw-socket tools
// around it. Run "switchboard help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/switchboard/switchboard/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	if err != nil {
		os.Exit(cli.ExitCode(err))
	}
}
