package dgram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
)

// Config configures a command Door. The zero value of each field means
// its default, which the field's doc names. The door copies it.
type Config struct {
	// MaxSenders bounds the sender addresses attached at once. Default 256.
	MaxSenders int
	// IdleTimeout closes a sender's connection after this long without a
	// datagram from it. Default 5 minutes.
	IdleTimeout time.Duration
	// Queue bounds the datagrams waiting to go to one sender. Default 64.
	Queue int
	// MaxDatagram bounds an incoming command, in bytes. Default 4096.
	MaxDatagram int
	// WriteTimeout bounds one datagram write. Default 1s.
	WriteTimeout time.Duration
	// Admit, when set, is asked about each new sender address before it
	// gets a Hub connection (hub.Guard.Check fits). A refused address is
	// told "ERR refused ..." once (while the door remembers it, up to
	// MaxSenders addresses) and its datagrams are counted in
	// Stats.Refused.
	Admit func(remote net.Addr) error
	// Authenticate, when set, makes a new sender present a token first:
	// "AUTH TOKEN" as its first datagram; the sender is attached when
	// Authenticate returns nil (hub.Guard.CheckToken fits). Any other
	// datagram from an unauthenticated sender is answered
	// "ERR auth ..." and counted refused.
	Authenticate func(remote net.Addr, token string) error
	// Logger receives debug records. nil means silent.
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	for _, v := range []struct {
		p    *int
		def  int
		name string
	}{{&cfg.MaxSenders, 256, "MaxSenders"}, {&cfg.Queue, 64, "Queue"}, {&cfg.MaxDatagram, 4096, "MaxDatagram"}} {
		if *v.p < 0 {
			return cfg, fmt.Errorf("dgram: Config.%s is negative", v.name)
		}
		if *v.p == 0 {
			*v.p = v.def
		}
	}
	if cfg.IdleTimeout < 0 || cfg.WriteTimeout < 0 {
		return cfg, errors.New("dgram: negative duration in Config")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// Stats counts what a Door did.
type Stats struct {
	Senders  int    // sender addresses attached
	In       uint64 // datagrams received
	Out      uint64 // datagrams sent
	Dropped  uint64 // datagrams to senders dropped: queue full or write failed
	Refused  uint64 // datagrams refused: too big, or too many senders
	Timeouts uint64 // senders closed for idleness
}

// Door is the UDP (or any datagram) command door of a Hub.
type Door struct {
	h   *hub.Hub
	pc  net.PacketConn
	cfg Config
	log *slog.Logger

	out chan outgoing

	in, sent, dropped, refused, timeouts atomic.Uint64

	mu      sync.Mutex
	senders map[string]*sender
	denied  map[string]struct{} // addresses Admit refused, told once
	closed  bool
	once    sync.Once
}

type outgoing struct {
	s    *sender // nil for an address without a connection
	addr net.Addr
	b    []byte
}

// sender is one address's Hub connection; it is the connection's Peer.
type sender struct {
	d       *Door
	addr    net.Addr
	key     string
	c       *hub.Conn
	pending atomic.Int32
	last    atomic.Int64 // unix nanos of the last datagram from it
	gone    atomic.Bool
	since   time.Time

	msgsIn, bytesIn, msgsOut, bytesOut atomic.Uint64
}

// Listen opens the datagram endpoint spec (see package endpoint) and
// returns a Door on it.
func Listen(ctx context.Context, h *hub.Hub, spec string, cfg *Config) (*Door, error) {
	pc, err := endpoint.ListenPacket(ctx, spec, nil)
	if err != nil {
		return nil, fmt.Errorf("dgram: %w", err)
	}
	d, err := New(h, pc, cfg)
	if err != nil {
		pc.Close()
	}
	return d, err
}

// New returns a Door on pc, which it owns from now on.
func New(h *hub.Hub, pc net.PacketConn, cfg *Config) (*Door, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Door{
		h: h, pc: pc, cfg: c, log: c.Logger,
		out:     make(chan outgoing, 4*c.Queue+256),
		senders: make(map[string]*sender),
		denied:  make(map[string]struct{}),
	}, nil
}

// Addr returns the door's local address.
func (d *Door) Addr() net.Addr { return d.pc.LocalAddr() }

// Stats returns the door's counters.
func (d *Door) Stats() Stats {
	d.mu.Lock()
	n := len(d.senders)
	d.mu.Unlock()
	return Stats{Senders: n, In: d.in.Load(), Out: d.sent.Load(), Dropped: d.dropped.Load(),
		Refused: d.refused.Load(), Timeouts: d.timeouts.Load()}
}

// Close closes the socket and every sender's connection. Serve calls it
// when its ctx is done.
func (d *Door) Close() error {
	d.once.Do(func() {
		d.pc.Close()
		d.mu.Lock()
		d.closed = true
		all := d.senders
		d.senders = make(map[string]*sender)
		d.mu.Unlock()
		for _, s := range all {
			s.gone.Store(true)
			s.c.Close()
		}
	})
	return nil
}

// Serve reads commands until ctx is done or the socket fails, then closes
// the door and waits for its goroutines. It returns nil after ctx is done.
func (d *Door) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { d.pc.SetReadDeadline(time.Now()) })
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.write(ctx) }()
	go func() { defer wg.Done(); d.sweep(ctx) }()
	buf := make([]byte, d.cfg.MaxDatagram+1)
	var err error
	for {
		var n int
		var from net.Addr
		n, from, err = d.pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				err = nil
			} else {
				err = fmt.Errorf("dgram: read: %w", err)
			}
			break
		}
		d.in.Add(1)
		if n > d.cfg.MaxDatagram {
			d.refused.Add(1)
			d.reply(d.lookup(from), from, "ERR invalid datagram longer than "+strconv.Itoa(d.cfg.MaxDatagram)+" bytes")
			continue
		}
		d.command(from, string(buf[:n]))
	}
	cancel()
	wg.Wait()
	d.Close()
	return err
}

func (d *Door) lookup(a net.Addr) *sender {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.senders[a.String()]
}

// errAuthFirst is the answer to an unauthenticated sender's command.
var errAuthFirst = fmt.Errorf("%w: send AUTH TOKEN first", hub.ErrAuth)

// senderFor returns the sender of a, attaching a new one if needed: one
// that Admit accepts and, with Authenticate set, whose line is a good
// "AUTH TOKEN". authed reports that line was the AUTH just accepted.
func (d *Door) senderFor(a net.Addr, line string) (s *sender, authed bool, err error) {
	key := a.String()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, false, hub.ErrClosed
	}
	if s := d.senders[key]; s != nil {
		return s, false, nil
	}
	if len(d.senders) >= d.cfg.MaxSenders {
		return nil, false, fmt.Errorf("%w: %d senders", hub.ErrLimit, d.cfg.MaxSenders)
	}
	if d.cfg.Admit != nil {
		if err := d.cfg.Admit(a); err != nil {
			return nil, false, errRefused{err}
		}
	}
	if d.cfg.Authenticate != nil {
		verb, tok, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		if !strings.EqualFold(verb, "AUTH") {
			return nil, false, errAuthFirst
		}
		if err := d.cfg.Authenticate(a, tok); err != nil {
			return nil, false, err
		}
		authed = true
	}
	s = &sender{d: d, addr: a, key: key, since: time.Now()}
	s.last.Store(time.Now().UnixNano())
	c, err := d.h.Attach(s)
	if err != nil {
		return nil, false, err
	}
	s.c = c
	d.senders[key] = s
	delete(d.denied, key)
	return s, authed, nil
}

// errRefused marks an Admit refusal.
type errRefused struct{ err error }

func (e errRefused) Error() string { return e.err.Error() }
func (e errRefused) Unwrap() error { return e.err }

// firstDenial reports whether addr's refusal is news, remembering it
// (up to MaxSenders addresses, then forgetting them all).
func (d *Door) firstDenial(addr net.Addr) bool {
	key := addr.String()
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.denied[key]; ok {
		return false
	}
	if len(d.denied) >= d.cfg.MaxSenders {
		clear(d.denied)
	}
	d.denied[key] = struct{}{}
	return true
}

// drop forgets s and closes its connection.
func (d *Door) drop(s *sender) {
	d.mu.Lock()
	if d.senders[s.key] == s {
		delete(d.senders, s.key)
	}
	d.mu.Unlock()
	s.gone.Store(true)
	s.c.Close()
}

func (d *Door) command(from net.Addr, line string) {
	s, authed, err := d.senderFor(from, line)
	if err != nil {
		d.refused.Add(1)
		var r errRefused
		if errors.As(err, &r) {
			if d.firstDenial(from) {
				d.reply(nil, from, "ERR refused "+r.Error())
			}
			return
		}
		d.reply(nil, from, errLine(err))
		return
	}
	s.last.Store(time.Now().UnixNano())
	s.msgsIn.Add(1)
	s.bytesIn.Add(uint64(len(line)))
	if authed {
		d.reply(s, from, "OK AUTH")
		return
	}
	line = strings.TrimRight(line, "\r\n")
	verb, rest, _ := strings.Cut(line, " ")
	c := s.c
	var out string
	switch strings.ToUpper(verb) {
	case "NICK":
		var online []string
		if online, err = c.SetName(rest); err == nil {
			out = "OK NICK " + rest + " " + strings.Join(online, ",")
		}
	case "JOIN":
		var members []string
		if members, err = c.Join(rest); err == nil {
			out = "OK JOIN " + rest + " " + strings.Join(members, ",")
		}
	case "PART":
		if err = c.Leave(rest); err == nil {
			out = "OK PART " + rest
		}
	case "NAMES":
		out = "OK NAMES " + rest + " " + strings.Join(d.h.Members(rest), ",")
	case "SAY":
		room, text, _ := strings.Cut(rest, " ")
		var m hub.Message
		if m, err = c.Say(room, text); err == nil {
			out = "OK SAY " + m.ID + " " + strconv.FormatInt(m.At.UnixMilli(), 10)
		}
	case "AUTH":
		out = "OK AUTH" // already attached
	case "PING":
		out = strings.TrimSpace("PONG " + rest)
	case "QUIT":
		d.drop(s)
		d.reply(nil, from, "OK QUIT")
		return
	default:
		out = "ERR unknown unknown command " + strconv.Quote(verb) + " (NICK, JOIN, PART, SAY, NAMES, PING, QUIT)"
	}
	if err != nil {
		out = errLine(err)
	}
	d.reply(s, from, out)
}

func errLine(err error) string { return "ERR " + hub.Code(err) + " " + err.Error() }

// reply queues a datagram to addr without blocking; s, when not nil, is
// its sender, whose bounded queue it counts against. Over the bound, or
// when the door's queue is full, the datagram is dropped and counted.
func (d *Door) reply(s *sender, addr net.Addr, text string) {
	if s != nil && int(s.pending.Add(1)) > d.cfg.Queue {
		s.pending.Add(-1)
		d.dropped.Add(1)
		return
	}
	select {
	case d.out <- outgoing{s: s, addr: addr, b: []byte(text)}:
	default:
		if s != nil {
			s.pending.Add(-1)
		}
		d.dropped.Add(1)
	}
}

// write sends the queued datagrams until ctx is done.
func (d *Door) write(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-d.out:
			if o.s != nil {
				o.s.pending.Add(-1)
			}
			d.pc.SetWriteDeadline(time.Now().Add(d.cfg.WriteTimeout))
			if _, err := d.pc.WriteTo(o.b, o.addr); err != nil {
				d.dropped.Add(1)
				d.log.Debug("dgram: write", "to", o.addr, "err", err)
				continue
			}
			d.sent.Add(1)
			if o.s != nil {
				o.s.msgsOut.Add(1)
				o.s.bytesOut.Add(uint64(len(o.b)))
			}
		}
	}
}

// sweep closes idle senders.
func (d *Door) sweep(ctx context.Context) {
	every := d.cfg.IdleTimeout / 4
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var idle []*sender
			d.mu.Lock()
			for _, s := range d.senders {
				if now.Sub(time.Unix(0, s.last.Load())) > d.cfg.IdleTimeout {
					idle = append(idle, s)
				}
			}
			d.mu.Unlock()
			for _, s := range idle {
				d.timeouts.Add(1)
				d.drop(s)
				d.reply(nil, s.addr, "BYE idle")
			}
		}
	}
}

// Deliver queues the event for the sender as a datagram; it never blocks.
func (s *sender) Deliver(ev *hub.Event) error {
	var line string
	switch ev.Kind {
	case hub.EventSaid:
		line = "SAID " + ev.Room + " " + ev.User + " " + ev.ID + " " + strconv.FormatInt(ev.At.UnixMilli(), 10) + " " + ev.Text
	case hub.EventJoined:
		line = "JOINED " + ev.Room + " " + ev.User
	case hub.EventLeft:
		line = "LEFT " + ev.Room + " " + ev.User
	case hub.EventPresence:
		line = "PRESENCE " + ev.User + " " + ev.State
	default:
		return nil
	}
	s.d.reply(s, s.addr, line)
	return nil
}

// Close is called by the Hub after a failed Deliver, which never happens.
func (s *sender) Close() {}
