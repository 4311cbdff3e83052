package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/switchboard/switchboard/hub"
)

// runServe runs the hub daemon: the chat page and Socket.IO on HTTP until
// ctx is done (SIGINT/SIGTERM in the switchboard command).
func runServe(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlagSet(stdio, "serve", "[flags]")
	addr := fs.String("http", "127.0.0.1:8080", "`ADDR` to serve the chat page and Socket.IO on (host:port; loopback unless you say otherwise)")
	origins := fs.String("allow-origin", "", "comma-separated browser `ORIGINS` (scheme://host:port) allowed besides the server's own")
	verbose := fs.Bool("v", false, "log debug records")
	df := addDoorFlags(fs)
	irf := addIRCFlags(fs)
	pf := addProtectFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := pf.load(fs); err != nil {
		fmt.Fprintf(stdio.Err, "switchboard serve: %v\n", err)
		return ErrUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stdio.Err, "switchboard serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return ErrUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stdio.Err, &slog.HandlerOptions{Level: level}))
	var allowed []string
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			allowed = append(allowed, o)
		}
	}
	scfg := &hub.ServerConfig{Logger: log, AllowedOrigins: allowed}
	if err := pf.apply(scfg); err != nil {
		fmt.Fprintf(stdio.Err, "switchboard serve: %v\n", err)
		return ErrUsage
	}
	srv, err := hub.NewServer(scfg)
	if err != nil {
		return err
	}
	if *pf.checkConfig {
		srv.Close()
		fmt.Fprintln(stdio.Out, "switchboard serve: configuration ok")
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		srv.Close()
		return err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		log.Warn("listening beyond loopback: anyone who can reach this address can chat", "addr", tcp.String())
	}
	stopControl := pf.startControl(ctx, srv, log)
	defer stopControl()
	url := "http://" + ln.Addr().String() + "/"
	log.Info("serving chat", "url", url)
	fmt.Fprintf(stdio.Out, "switchboard: chat on %s\n", url)
	df.fs, df.token = fs, *pf.token
	doors, err := startDoors(ctx, srv, df, log, func(s string) { fmt.Fprintf(stdio.Out, "switchboard: %s\n", s) })
	if err != nil {
		ln.Close()
		srv.Close()
		return err
	}
	stopIRC, err := startIRC(ctx, fs, srv.Hub(), irf, log, func(s string) { fmt.Fprintf(stdio.Out, "switchboard: %s\n", s) })
	if err != nil {
		doors.stop()
		ln.Close()
		srv.Close()
		return err
	}
	err = srv.Serve(ctx, ln)
	if derr := doors.stop(); err == nil {
		err = derr
	}
	if ierr := stopIRC(); err == nil && ierr != nil {
		err = fmt.Errorf("serve: %w", ierr)
	}
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
