package irc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/internal/ratelimit"
)

// Config configures a Door. The zero value of each field means its
// default, which the field's doc names. New copies it.
type Config struct {
	// ServerName is the server's name in replies and notices. Default
	// "switchboard".
	ServerName string
	// Network is the NETWORK token of the 005 reply. Default
	// "switchboard".
	Network string
	// MOTD holds the lines of the message of the day; none sends 422.
	MOTD []string
	// MaxLine bounds a line in each direction, in bytes with its "\r\n";
	// at most 8192. Longer incoming lines are discarded and answered 417;
	// longer outgoing text is split. Default 512 (RFC 1459).
	MaxLine int
	// Queue bounds the bytes waiting to be written to one client. A
	// client whose queue is full is disconnected and counted in
	// Stats.Slow; it never holds up the others. Default 64 KiB.
	Queue int
	// PingInterval is how long a client may stay silent before the
	// server sends PING; PingTimeout how long it then has to send
	// anything. Defaults 90s and 60s.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// RegisterTimeout bounds the time from connect to NICK and USER.
	// Default 60s.
	RegisterTimeout time.Duration
	// WriteTimeout bounds one write to a client; a client that takes
	// longer is disconnected. Default 10s.
	WriteTimeout time.Duration
	// LineRate is the sustained number of lines a second the server reads
	// from one client, LineBurst how many it reads at once; a faster
	// client is read more slowly (TCP pushes back). Defaults 10 and 20.
	// The Hub's own rate limit applies on top to what others see.
	LineRate  float64
	LineBurst int
	// MaxClients bounds the clients connected at once, registered or
	// not; more are told "ERROR :Closing Link: ... (too many
	// connections)" and closed (Stats.Refused). Default 1024.
	MaxClients int
	// Logger receives debug records. nil means silent.
	Logger *slog.Logger
}

// maxLineLimit is the largest Config.MaxLine.
const maxLineLimit = 8192

func (c *Config) withDefaults() (Config, error) {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	cfg.MOTD = append([]string(nil), cfg.MOTD...)
	if cfg.ServerName == "" {
		cfg.ServerName = "switchboard"
	}
	if cfg.Network == "" {
		cfg.Network = "switchboard"
	}
	for _, d := range []struct {
		p    *time.Duration
		v    time.Duration
		name string
	}{
		{&cfg.PingInterval, 90 * time.Second, "PingInterval"},
		{&cfg.PingTimeout, 60 * time.Second, "PingTimeout"},
		{&cfg.RegisterTimeout, 60 * time.Second, "RegisterTimeout"},
		{&cfg.WriteTimeout, 10 * time.Second, "WriteTimeout"},
	} {
		if *d.p < 0 {
			return cfg, fmt.Errorf("irc: Config.%s is negative", d.name)
		}
		if *d.p == 0 {
			*d.p = d.v
		}
	}
	for _, d := range []struct {
		p    *int
		v    int
		name string
	}{{&cfg.MaxLine, 512, "MaxLine"}, {&cfg.Queue, 64 << 10, "Queue"}, {&cfg.LineBurst, 20, "LineBurst"}, {&cfg.MaxClients, 1024, "MaxClients"}} {
		if *d.p < 0 {
			return cfg, fmt.Errorf("irc: Config.%s is negative", d.name)
		}
		if *d.p == 0 {
			*d.p = d.v
		}
	}
	if cfg.MaxLine < 512 || cfg.MaxLine > maxLineLimit {
		return cfg, fmt.Errorf("irc: Config.MaxLine %d out of range 512..%d", cfg.MaxLine, maxLineLimit)
	}
	if cfg.Queue < cfg.MaxLine {
		cfg.Queue = cfg.MaxLine
	}
	if cfg.LineRate < 0 {
		return cfg, errors.New("irc: Config.LineRate is negative")
	}
	if cfg.LineRate == 0 {
		cfg.LineRate = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// Stats counts what a Door did.
type Stats struct {
	Clients  int    // clients connected now
	Accepted uint64 // clients ever accepted
	Slow     uint64 // clients dropped because their queue was full or a write timed out
	Timeouts uint64 // clients dropped for ping or registration timeout
	Overlong uint64 // incoming lines longer than MaxLine, discarded
	Bad      uint64 // incoming lines that did not parse
	LinesIn  uint64 // lines read
	Refused  uint64 // clients refused at MaxClients
}

// ErrServing reports a second call of Serve.
var ErrServing = errors.New("irc: door already serving")

// Door is the IRC door of a Hub. Its methods are safe for concurrent use.
type Door struct {
	h       *hub.Hub
	cfg     Config
	log     *slog.Logger
	created time.Time

	accepted, slow, timeouts, overlong, bad, linesIn, refused atomic.Uint64

	mu      sync.Mutex
	serving bool
	closing bool
	clients map[*client]struct{}
	wg      sync.WaitGroup
}

// New returns a Door to h configured by cfg (nil means defaults). It
// does nothing until Serve.
func New(h *hub.Hub, cfg *Config) (*Door, error) {
	if h == nil {
		return nil, errors.New("irc: nil Hub")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Door{h: h, cfg: c, log: c.Logger, created: time.Now(), clients: make(map[*client]struct{})}, nil
}

// Stats returns the door's counts.
func (d *Door) Stats() Stats {
	d.mu.Lock()
	n := len(d.clients)
	d.mu.Unlock()
	return Stats{
		Clients: n, Accepted: d.accepted.Load(), Slow: d.slow.Load(), Timeouts: d.timeouts.Load(),
		Overlong: d.overlong.Load(), Bad: d.bad.Load(), LinesIn: d.linesIn.Load(), Refused: d.refused.Load(),
	}
}

// Serve accepts IRC clients on ln until ctx is done or ln fails. Then it
// closes ln, tells every client why ("ERROR :Closing Link: ... (server
// shutting down)"), and returns once every client's goroutines have
// stopped (each bounded by WriteTimeout). It returns nil after ctx is
// done, or the error that stopped accepting. Serve closes ln; it may be
// called once.
func (d *Door) Serve(ctx context.Context, ln net.Listener) error {
	d.mu.Lock()
	if d.serving {
		d.mu.Unlock()
		ln.Close()
		return ErrServing
	}
	d.serving = true
	d.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	delay := time.Duration(0)
	for {
		nc, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() != nil || errors.Is(aerr, net.ErrClosed) {
				if ctx.Err() == nil {
					err = fmt.Errorf("irc: accept: %w", aerr)
				}
				break
			}
			// A temporary failure (out of file descriptors): back off.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			d.log.Debug("accept failed, backing off", "err", aerr, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		delay = 0
		d.start(ctx, nc)
	}
	ln.Close()
	cancel()
	d.mu.Lock()
	d.closing = true
	all := make([]*client, 0, len(d.clients))
	for c := range d.clients {
		all = append(all, c)
	}
	d.mu.Unlock()
	for _, c := range all {
		c.quit("server shutting down")
	}
	d.wg.Wait()
	return err
}

// start runs a client's reader and writer goroutines.
func (d *Door) start(ctx context.Context, nc net.Conn) {
	d.accepted.Add(1)
	c := newClient(d, nc)
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		nc.Close()
		return
	}
	if len(d.clients) >= d.cfg.MaxClients {
		d.mu.Unlock()
		d.refused.Add(1)
		d.log.Debug("too many clients, refusing", "remote", c.host)
		m := Message{Command: "ERROR", Params: []string{"Closing Link: " + c.host + " (too many connections)"}}
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		nc.Write(m.Append(nil))
		nc.Close()
		return
	}
	d.clients[c] = struct{}{}
	d.wg.Add(2)
	d.mu.Unlock()
	go c.writeLoop()
	go func() {
		defer d.wg.Done()
		c.readLoop(ctx)
		// Whatever stopped the reader, the writer flushes and closes.
		if ctx.Err() != nil {
			c.quit("server shutting down")
		} else {
			c.drainAndClose()
		}
		d.mu.Lock()
		delete(d.clients, c)
		d.mu.Unlock()
	}()
}

// errSendQ is a Deliver failure: the client's queue is full.
var errSendQ = errors.New("irc: client send queue full")

// client is one IRC connection.
type client struct {
	d    *Door
	nc   net.Conn
	host string // the client's IP, for its own prefix

	wake chan struct{} // 1-buffered: output is queued
	dead chan struct{} // closed by kill
	once sync.Once

	mu      sync.Mutex
	out     []byte // queued output
	closing bool   // flush out, then close
	nick    string // "" until registered; Deliver reads it
	user    string
	holding bool // registering: events go to held
	held    []*hub.Event

	// Owned by the reader goroutine.
	hc         *hub.Conn
	registered bool
	pendNick   string
	pendUser   string
	realname   string
	pinged     bool
}

func newClient(d *Door, nc net.Conn) *client {
	host := "unknown"
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		host = a.IP.String()
	} else if a := nc.RemoteAddr(); a != nil && a.String() != "" {
		host = a.String()
	}
	return &client{d: d, nc: nc, host: host, wake: make(chan struct{}, 1), dead: make(chan struct{})}
}

// kill closes the connection at once; idempotent.
func (c *client) kill() {
	c.once.Do(func() {
		close(c.dead)
		c.nc.Close()
	})
}

// enqueue appends lines to the output queue; false when the queue is full
// (the client is then killed and counted as slow) or the client is
// closing.
func (c *client) enqueue(lines []byte) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if len(c.out)+len(lines) > c.d.cfg.Queue {
		c.mu.Unlock()
		c.d.slow.Add(1)
		c.d.log.Debug("client too slow, dropping", "remote", c.host)
		c.kill()
		return false
	}
	c.out = append(c.out, lines...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// quit queues "ERROR :Closing Link" (beyond the queue bound) and closes
// the connection once the queue is written.
func (c *client) quit(reason string) {
	c.mu.Lock()
	if !c.closing {
		m := Message{Command: "ERROR", Params: []string{"Closing Link: " + c.host + " (" + reason + ")"}}
		c.out = m.Append(c.out)
		c.closing = true
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// drainAndClose closes the connection once the queue is written.
func (c *client) drainAndClose() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued output until the client is killed or closing
// with nothing left to write.
func (c *client) writeLoop() {
	defer c.d.wg.Done()
	defer c.kill()
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.dead:
			return
		}
		for {
			c.mu.Lock()
			buf, c.out = c.out, buf[:0]
			closing := c.closing
			c.mu.Unlock()
			if len(buf) == 0 {
				if closing {
					return
				}
				break
			}
			c.nc.SetWriteDeadline(time.Now().Add(c.d.cfg.WriteTimeout))
			if _, err := c.nc.Write(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					c.d.slow.Add(1)
				}
				return
			}
			if cap(buf) > 4*c.d.cfg.Queue {
				buf = nil
			}
		}
	}
}

// readLoop reads and handles lines until the client goes, quits, times
// out, or ctx is done. It detaches the client from the Hub on return.
func (c *client) readLoop(ctx context.Context) {
	d := c.d
	defer func() {
		if c.hc != nil {
			c.hc.Close()
		}
	}()
	lim := ratelimit.New(d.cfg.LineRate, d.cfg.LineBurst)
	br := bufio.NewReaderSize(c.nc, d.cfg.MaxLine)
	regDeadline := time.Now().Add(d.cfg.RegisterTimeout)
	idleDeadline := time.Now().Add(d.cfg.PingInterval)
	for {
		dl := idleDeadline
		if !c.registered {
			dl = regDeadline
		}
		c.nc.SetReadDeadline(dl)
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			d.overlong.Add(1)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == nil {
				c.numeric("417", "Input line was too long")
				continue
			}
			line = nil
		}
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout() && c.registered && !c.pinged:
				c.pinged = true
				c.send(&Message{Command: "PING", Params: []string{d.cfg.ServerName}})
				idleDeadline = time.Now().Add(d.cfg.PingTimeout)
				continue
			case errors.As(err, &ne) && ne.Timeout():
				d.timeouts.Add(1)
				if c.registered {
					c.quit("Ping timeout")
				} else {
					c.quit("Registration timeout")
				}
				return
			}
			if len(line) > 0 && ctx.Err() == nil {
				c.handle(line) // a last line without "\n"
			}
			c.drainAndClose()
			return
		}
		if ctx.Err() != nil {
			return
		}
		d.linesIn.Add(1)
		idleDeadline = time.Now().Add(d.cfg.PingInterval)
		c.pinged = false
		if !c.handle(line) {
			return
		}
		if err := lim.Wait(ctx, 1); err != nil {
			return
		}
	}
}
