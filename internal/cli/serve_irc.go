package cli

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"sync"
	"syscall"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/irc"
)

// defaultIRC is where serve's IRC door listens unless told otherwise.
const defaultIRC = "tcp://127.0.0.1:6667"

// ircFlags are serve's flags for the IRC door and IRC relays.
type ircFlags struct {
	addr   *string
	relays relaySpecs
}

// relaySpecs is the repeatable --relay ROOM=irc://HOST:PORT/#channel flag.
type relaySpecs []*irc.RelayConfig

func (r *relaySpecs) String() string { return "" }

func (r *relaySpecs) Set(v string) error {
	cfg, err := irc.ParseRelay(v)
	if err != nil {
		return err
	}
	*r = append(*r, cfg)
	return nil
}

func addIRCFlags(fs *flag.FlagSet) *ircFlags {
	f := &ircFlags{
		addr: fs.String("irc", defaultIRC, "IRC door `ENDPOINT` (channels #room are the hub's rooms; nc works too); \"\" or off: none"),
	}
	fs.Var(&f.relays, "relay", "link a room to a channel of another IRC network, `ROOM=irc://HOST:PORT/#channel[?nick=N&rate=1&burst=4]`, rate-limited (repeatable)")
	return f
}

// startIRC opens the IRC door and starts the relays on h; stop ends them
// and returns what failed. When the IRC endpoint was left at its default
// and the port is taken, serve runs without the door and says so.
func startIRC(ctx context.Context, fs *flag.FlagSet, h *hub.Hub, f *ircFlags, log *slog.Logger, out func(string)) (stop func() error, err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs error
	run := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				log.Error("irc stopped", "err", err)
				mu.Lock()
				errs = errors.Join(errs, err)
				mu.Unlock()
			}
		}()
	}
	stop = func() error {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return errs
	}
	if spec := on(f.addr); spec != "" {
		explicit := false
		fs.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "irc" })
		door, err := irc.New(h, &irc.Config{Logger: log.With("door", "irc")})
		if err != nil {
			cancel()
			return nil, err
		}
		ln, err := endpoint.Listen(ctx, spec, nil)
		switch {
		case err == nil:
			out("irc on " + ln.Addr().String())
			run(func() error { return door.Serve(ctx, ln) })
		case !explicit && errors.Is(err, syscall.EADDRINUSE):
			log.Warn("irc door off: its default address is taken (give --irc to choose another)", "endpoint", spec, "err", err)
		default:
			cancel()
			return nil, err
		}
	}
	for _, rc := range f.relays {
		c := *rc
		c.Logger = log.With("relay", c.Room)
		r, err := irc.NewRelay(h, &c)
		if err != nil {
			stop()
			return nil, err
		}
		out("room " + c.Room + " relayed to irc://" + c.Server + "/" + c.Channel)
		run(func() error { return r.Run(ctx) })
	}
	return stop, nil
}
