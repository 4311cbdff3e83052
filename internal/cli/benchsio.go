package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/loadgen"
)

const benchSIOUsage = `sio URL [flags]

A Socket.IO load generator: --clients clients on switchboard's Engine.IO
client with a lean Socket.IO layer (or, with --client full, the complete
Go Socket.IO client), against the server at URL
(http://host:port[/namespace]). Modes follow the benchmark servers'
convention (interop/node/sio/bench-server.js):
  broadcast  one client sends "go" (ROUND, payload); the server emits ROUND
             "m" events to everyone; deliveries are counted at the clients
  echo       every client keeps one "echo" with ack in flight; round trips
             are reported as p50/p99
  idle       clients connect and stay (heartbeats only)
Results are "key: value" lines; gen_cpu_per_delivery_us and gen_cpu_cores
are the generator's own cost, so it is never the unseen bottleneck.
`

// runBenchSIO is `switchboard bench sio`.
func runBenchSIO(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlagSet(stdio, "bench", benchSIOUsage)
	var cfg loadgen.Config
	fs.IntVar(&cfg.Clients, "clients", 10, "number of clients")
	fs.StringVar(&cfg.Transport, "transport", "websocket", "websocket, polling or upgrade (polling then WebSocket)")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Second, "measured time")
	fs.StringVar(&cfg.Mode, "mode", loadgen.ModeBroadcast, "broadcast, echo or idle")
	fs.IntVar(&cfg.Payload, "payload", 64, "payload size in bytes")
	fs.IntVar(&cfg.Round, "round", 100, "events asked per \"go\" in broadcast mode")
	fs.StringVar(&cfg.Path, "path", "/socket.io/", "the server's Socket.IO path")
	fs.IntVar(&cfg.ConnectConcurrency, "connect-concurrency", 64, "simultaneous connection attempts")
	kind := fs.String("client", "lean", "lean (prefix matching on the Engine.IO client) or full (the complete Go Socket.IO client)")
	// Flags may come before or after URL.
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fs.Usage()
		return ErrUsage
	}
	switch *kind {
	case "lean":
	case "full":
		cfg.Full = true
	default:
		fmt.Fprintf(stdio.Err, "switchboard bench sio: --client must be lean or full, not %q\n", *kind)
		fs.Usage()
		return ErrUsage
	}
	cfg.URL = pos[0]
	res, err := loadgen.Run(ctx, cfg)
	if res != nil {
		if _, werr := res.WriteTo(stdio.Out); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return fmt.Errorf("bench sio: %w", err)
	}
	return nil
}
