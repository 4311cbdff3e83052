package irc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/internal/speakers"
	"github.com/switchboard/switchboard/internal/ratelimit"
)

// RelayConfig configures a Relay. The zero value of each field means its
// default, which the field's doc names. NewRelay copies it.
type RelayConfig struct {
	// Room is the Hub room relayed. Required.
	Room string
	// Server is the upstream server's "host:port". Required.
	Server string
	// Channel is the upstream channel, "#name". Required.
	Channel string
	// Nick is the relay's nick upstream and its user name in the Hub.
	// Default "switchboard". When the nick is taken upstream, "_" is
	// appended until it is not.
	Nick string
	// Rate is the most lines a second sent upstream, Burst how many may
	// go at once. Defaults 1 and 4.
	Rate  float64
	Burst int
	// Queue bounds the lines waiting to go upstream; more are dropped
	// and counted in RelayStats.Dropped. Default 256.
	Queue int
	// Suffix is appended, after ".", to upstream nicks to make the Hub
	// user names that speak upstream lines in the room. Default "up".
	Suffix string
	// MinBackoff and MaxBackoff bound the wait before reconnecting.
	// Defaults 1s and 1 minute.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds connecting and registering upstream, and silence
	// upstream before the link is dropped (the relay pings at half of
	// it). Default 2 minutes.
	Timeout time.Duration
	// Logger receives the relay's records. nil means silent.
	Logger *slog.Logger
}

// ParseRelay parses the daemon's relay syntax,
// "ROOM=irc://HOST:PORT/#channel[?nick=..&rate=..&burst=..]", into a
// RelayConfig. The port defaults to 6667; the "#" may be written "%23".
func ParseRelay(spec string) (*RelayConfig, error) {
	room, u, ok := strings.Cut(spec, "=")
	if !ok || room == "" {
		return nil, fmt.Errorf("irc: relay %q: want ROOM=irc://HOST:PORT/#channel", spec)
	}
	rest, ok := strings.CutPrefix(u, "irc://")
	if !ok {
		return nil, fmt.Errorf("irc: relay %q: want an irc:// address", spec)
	}
	hostport, path, _ := strings.Cut(rest, "/")
	path = strings.Replace(path, "%23", "#", 1)
	ch, query, _ := strings.Cut(path, "?")
	if !strings.HasPrefix(ch, "#") {
		ch = "#" + ch
	}
	if len(ch) < 2 || strings.ContainsAny(ch, " ,\x07") {
		return nil, fmt.Errorf("irc: relay %q: bad channel %q", spec, ch)
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "6667")
	}
	if h, _, _ := net.SplitHostPort(hostport); h == "" {
		return nil, fmt.Errorf("irc: relay %q: no host", spec)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("irc: relay %q: %w", spec, err)
	}
	cfg := &RelayConfig{Room: room, Server: hostport, Channel: ch, Nick: q.Get("nick")}
	if v := q.Get("rate"); v != "" {
		if cfg.Rate, err = strconv.ParseFloat(v, 64); err != nil || cfg.Rate <= 0 {
			return nil, fmt.Errorf("irc: relay %q: bad rate %q", spec, v)
		}
	}
	if v := q.Get("burst"); v != "" {
		if cfg.Burst, err = strconv.Atoi(v); err != nil || cfg.Burst <= 0 {
			return nil, fmt.Errorf("irc: relay %q: bad burst %q", spec, v)
		}
	}
	return cfg, nil
}

// RelayStats counts what a Relay did.
type RelayStats struct {
	Connects uint64 // links registered upstream
	Sent     uint64 // lines sent upstream (PRIVMSG)
	Dropped  uint64 // lines dropped because the queue was full
	Received uint64 // upstream messages said in the room
	Refused  uint64 // upstream messages the Hub refused (rate, invalid text)
}

// Relay links a Hub room to an upstream IRC channel (see the package
// documentation). Its methods are safe for concurrent use.
type Relay struct {
	h   *hub.Hub
	cfg RelayConfig
	log *slog.Logger
	lim *ratelimit.Limiter
	q   chan string

	pool *speakers.Pool

	connects, sent, dropped, received, refused atomic.Uint64

	mu      sync.Mutex
	running bool

	pending string // a line taken from q whose write failed; owned by the writer
}

// NewRelay returns a Relay of room cfg.Room in h. It does nothing until
// Run.
func NewRelay(h *hub.Hub, cfg *RelayConfig) (*Relay, error) {
	if h == nil || cfg == nil {
		return nil, errors.New("irc: NewRelay needs a Hub and a RelayConfig")
	}
	c := *cfg
	if c.Room == "" || c.Server == "" || len(c.Channel) < 2 || c.Channel[0] != '#' {
		return nil, errors.New("irc: RelayConfig needs Room, Server and a #Channel")
	}
	if c.Nick == "" {
		c.Nick = "switchboard"
	}
	if c.Suffix == "" {
		c.Suffix = "up"
	}
	if c.Rate < 0 || c.Burst < 0 || c.Queue < 0 || c.MinBackoff < 0 || c.MaxBackoff < 0 || c.Timeout < 0 {
		return nil, errors.New("irc: RelayConfig has a negative field")
	}
	if c.Rate == 0 {
		c.Rate = 1
	}
	if c.Burst == 0 {
		c.Burst = 4
	}
	if c.Queue == 0 {
		c.Queue = 256
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Relay{
		h: h, cfg: c, log: c.Logger,
		lim:  ratelimit.New(c.Rate, c.Burst),
		q:    make(chan string, c.Queue),
		pool: speakers.New(h, 0, 0),
	}, nil
}

// Stats returns the relay's counts.
func (r *Relay) Stats() RelayStats {
	return RelayStats{Connects: r.connects.Load(), Sent: r.sent.Load(), Dropped: r.dropped.Load(), Received: r.received.Load(), Refused: r.refused.Load()}
}

// relayPeer is the relay's Hub connection in the room: it queues what
// others say there.
type relayPeer struct{ r *Relay }

// Deliver queues a line for upstream; it never blocks.
func (p relayPeer) Deliver(ev *hub.Event) error {
	r := p.r
	if ev.Kind != hub.EventSaid || ev.Room != r.cfg.Room || r.pool.Has(ev.User) {
		return nil // what came from upstream never goes back
	}
	for line := range strings.SplitSeq(ev.Text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "/me "); ok {
			line = "* " + ev.User + " " + rest
		} else {
			line = "<" + ev.User + "> " + line
		}
		select {
		case r.q <- line:
		default:
			r.dropped.Add(1)
		}
	}
	return nil
}

// Close is called by the Hub after a failed Deliver, which never happens.
func (relayPeer) Close() {}

// Run joins the room and keeps the link upstream until ctx is done; it
// reconnects with backoff when the link drops. It returns nil once ctx is
// done, or an error when the room cannot be joined. It may be called once.
func (r *Relay) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return errors.New("irc: relay already running")
	}
	r.running = true
	r.mu.Unlock()
	defer r.pool.Close()
	hc, err := r.h.Attach(relayPeer{r})
	if err != nil {
		return fmt.Errorf("irc: relay: %w", err)
	}
	defer hc.Close()
	if _, err := hc.SetName(r.cfg.Nick); err != nil {
		return fmt.Errorf("irc: relay name %q: %w", r.cfg.Nick, err)
	}
	if _, err := hc.Join(r.cfg.Room); err != nil {
		return fmt.Errorf("irc: relay room %q: %w", r.cfg.Room, err)
	}
	backoff := r.cfg.MinBackoff
	for ctx.Err() == nil {
		start := time.Now()
		err := r.link(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(start) > 4*r.cfg.MaxBackoff {
			backoff = r.cfg.MinBackoff // it held a while: start over
		}
		r.log.Info("relay link down, reconnecting", "server", r.cfg.Server, "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
	return nil
}

// link runs one connection upstream until it fails or ctx is done.
func (r *Relay) link(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	nc, err := endpoint.Dial(dctx, "tcp://"+r.cfg.Server, nil)
	cancel()
	if err != nil {
		return err
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	unblock := context.AfterFunc(lctx, func() { nc.Close() })
	defer unblock()
	defer nc.Close()

	var wmu sync.Mutex
	write := func(m *Message) error {
		wmu.Lock()
		defer wmu.Unlock()
		nc.SetWriteDeadline(time.Now().Add(r.cfg.Timeout))
		_, err := nc.Write(m.Append(nil))
		return err
	}
	br := bufio.NewReaderSize(nc, maxLineLimit)
	nick := r.cfg.Nick
	if err := write(&Message{Command: "NICK", Params: []string{nick}}); err != nil {
		return err
	}
	if err := write(&Message{Command: "USER", Params: []string{"switchboard", "0", "*", "switchboard relay of " + r.cfg.Room}}); err != nil {
		return err
	}
	// Register: wait for 001, picking another nick on 433.
	deadline := time.Now().Add(r.cfg.Timeout)
	for registered := false; !registered; {
		nc.SetReadDeadline(deadline)
		m, err := readMsg(br)
		if err != nil {
			return fmt.Errorf("irc: relay register: %w", err)
		}
		switch m.Command {
		case "001":
			registered = true
		case "433", "432", "436":
			if len(nick) >= 30 {
				return fmt.Errorf("irc: relay: no nick accepted (%s)", m.String())
			}
			nick += "_"
			if err := write(&Message{Command: "NICK", Params: []string{nick}}); err != nil {
				return err
			}
		case "PING":
			write(&Message{Command: "PONG", Params: m.Params})
		case "ERROR":
			return fmt.Errorf("irc: relay: server said %s", m.String())
		}
	}
	if err := write(&Message{Command: "JOIN", Params: []string{r.cfg.Channel}}); err != nil {
		return err
	}
	r.connects.Add(1)
	r.log.Info("relay linked", "server", r.cfg.Server, "channel", r.cfg.Channel, "nick", nick)

	// The writer sends queued lines at the configured rate.
	werr := make(chan error, 1)
	go func() {
		werr <- r.writeLoop(lctx, write)
	}()
	rerr := r.readLoop(lctx, nc, br, nick, write)
	stop()
	nc.Close()
	<-werr // its error is the same broken link
	return rerr
}

func readMsg(br *bufio.Reader) (Message, error) {
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return Message{}, err
		}
		m, err := Parse(line)
		if err == nil {
			return m, nil
		}
	}
}

// writeLoop sends queued lines upstream, never faster than the limiter.
func (r *Relay) writeLoop(ctx context.Context, write func(*Message) error) error {
	// Upstream adds our prefix (up to ~100 bytes) to a line of at most
	// 512: keep each line well inside.
	room := 512 - 100 - len(" PRIVMSG ") - len(r.cfg.Channel) - 4
	for {
		line := r.pending
		if line == "" {
			select {
			case line = <-r.q:
			case <-ctx.Done():
				return nil
			}
		}
		r.pending = line
		for line != "" {
			part := cutUTF8(line, room)
			if err := r.lim.Wait(ctx, 1); err != nil {
				return nil
			}
			if err := write(&Message{Command: "PRIVMSG", Params: []string{r.cfg.Channel, part}}); err != nil {
				return err // the next link sends the rest
			}
			line = line[len(part):]
			r.pending = line
			r.sent.Add(1)
		}
	}
}

// readLoop answers PING, pings a silent server, and says the channel's
// messages in the room.
func (r *Relay) readLoop(ctx context.Context, nc net.Conn, br *bufio.Reader, nick string, write func(*Message) error) error {
	pinged := false
	sweep := time.Now()
	for {
		nc.SetReadDeadline(time.Now().Add(r.cfg.Timeout / 2))
		m, err := readMsg(br)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged && ctx.Err() == nil {
				pinged = true
				if err := write(&Message{Command: "PING", Params: []string{"switchboard"}}); err != nil {
					return err
				}
				continue
			}
			return err
		}
		pinged = false
		if time.Since(sweep) > time.Minute {
			r.pool.Sweep()
			sweep = time.Now()
		}
		switch m.Command {
		case "PING":
			if err := write(&Message{Command: "PONG", Params: m.Params}); err != nil {
				return err
			}
		case "ERROR":
			return fmt.Errorf("irc: relay: server said %s", m.String())
		case "KICK":
			if m.Param(1) == nick {
				write(&Message{Command: "JOIN", Params: []string{r.cfg.Channel}})
			}
		case "PRIVMSG", "NOTICE":
			if m.Param(0) != r.cfg.Channel || len(m.Params) < 2 {
				continue
			}
			from, _, _ := strings.Cut(m.Prefix, "!")
			if from == "" || from == nick {
				continue
			}
			text, ok := inText(m.Params[1])
			if !ok || strings.TrimSpace(text) == "" {
				continue
			}
			if _, err := r.pool.Say(r.speaker(from), r.cfg.Room, text); err != nil {
				r.refused.Add(1)
				r.log.Debug("relay: hub refused upstream line", "from", from, "err", err)
				continue
			}
			r.received.Add(1)
		}
	}
}

// speaker is the Hub user name for an upstream nick: the nick with
// characters names cannot hold replaced by "_", then "." and the suffix.
func (r *Relay) speaker(nick string) string {
	limit := 32 - len(r.cfg.Suffix) - 1
	b := []byte(nick)
	if len(b) > limit {
		b = b[:limit]
	}
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || (i > 0 && (c == '-' || c == '_' || c == '.'))
		if !ok {
			b[i] = '_'
			if i == 0 {
				b[i] = 'x'
			}
		}
	}
	return string(b) + "." + r.cfg.Suffix
}
