package cli

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/monitor"
)

func runDial(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlagSet(stdio, "dial", "[--lines] [--timeout D] [--wait D] SPEC")
	var o ncOpts
	o.register(fs, false)
	timeout := fs.Duration("timeout", 10*time.Second, "give up connecting after this long")
	wait := fs.Duration("wait", time.Second, "datagram endpoints: how long to wait for replies after stdin ends")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return ErrUsage
	}
	dctx, dcancel := context.WithTimeout(ctx, *timeout)
	c, err := endpoint.Dial(dctx, fs.Arg(0), nil)
	dcancel()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	table := newNCTable()
	defer table.add(func(id string) monitor.Conn { return connRow(id, "dial", "open", c, nil) })()
	defer startControl(ctx, stdio, &o, "dial", args, table)()

	datagram := c.Proto() == endpoint.UDP || c.Proto() == endpoint.Unixgram
	readDone := make(chan error, 1)
	go func() {
		out := &ncOut{w: stdio.Out}
		err := ncReadMsgs(c, o.lines && !datagram, func(b []byte) error {
			out.write("", b, datagram && o.lines)
			return nil
		})
		readDone <- err
	}()
	stdinDone := make(chan error, 1)
	go func() {
		err := ncReadMsgs(stdio.In, o.lines, func(b []byte) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			_, err := c.Write(b)
			return err
		})
		stdinDone <- err
	}()
	var result error
	readGot := false
	select {
	case <-ctx.Done():
	case err := <-readDone:
		readGot = true
		if err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
			result = err
		}
	case err := <-stdinDone:
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) {
			result = err
			break
		}
		if datagram {
			select { // replies may still come
			case <-time.After(*wait):
			case <-ctx.Done():
			case <-readDone:
				readGot = true
			}
			break
		}
		// Half-close: the peer sees EOF; we read until it closes.
		if c.CloseWrite() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-readDone:
			readGot = true
		}
	}
	c.Close()
	if !readGot {
		<-readDone
	}
	return result
}
