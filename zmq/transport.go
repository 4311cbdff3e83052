package zmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/endpoint"
)

// target is a parsed endpoint. tcp://, ipc:// and tls:// endpoints are
// opened through the endpoint package: spec is the address in its syntax
// and cfg its configuration; inproc:// endpoints stay in-process.
type target struct {
	scheme string           // "tcp", "ipc", "tls" or "inproc"
	addr   string           // the inproc name
	spec   string           // the endpoint package's address, options included
	cfg    *endpoint.Config // nil for inproc
	// anyHost: a "tcp://*:port" bind, tried as [::] (IPv4 and IPv6), then
	// as 0.0.0.0 where the host has no IPv6.
	anyHost bool
}

// parseEndpoint reads a ZeroMQ endpoint and maps it onto the endpoint
// package's syntax: "tcp://*:5555" listens on every interface (IPv4 and
// IPv6), "tcp://127.0.0.1:*" on a free port, and libzmq's source form
// "tcp://10.0.0.1:0;10.0.0.2:5555" connects from the address before the
// semicolon (the source option). Socket options ride in the query
// ("?nodelay=0&tos=0x10"); they are checked here, so that a bad one is an
// error from Bind or Connect rather than from every background dial.
func parseEndpoint(ep string, bind bool, base *endpoint.Config) (target, error) {
	scheme, rest, ok := strings.Cut(ep, "://")
	if !ok || rest == "" {
		return target{}, fmt.Errorf("%w: %q", ErrEndpoint, ep)
	}
	t := target{scheme: scheme}
	if scheme == "inproc" {
		t.addr = rest
		return t, nil
	}
	rest, query, _ := strings.Cut(rest, "?")
	switch scheme {
	case "tcp", "tls":
		if src, dst, ok := cutLast(rest, ";"); ok {
			if bind {
				return t, fmt.Errorf("%w: %q: source address in bind", ErrEndpoint, ep)
			}
			if _, _, err := net.SplitHostPort(src); err != nil {
				src = net.JoinHostPort(src, "0") // "ip;dst": any source port
			}
			host, port, _ := net.SplitHostPort(src)
			if host == "*" {
				host = ""
			}
			if port == "*" {
				port = "0"
			}
			query = joinQuery(query, "source="+url.QueryEscape(net.JoinHostPort(host, port)))
			rest = dst
		}
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return t, fmt.Errorf("%w: %q: %v", ErrEndpoint, ep, err)
		}
		if port == "*" {
			if !bind {
				return t, fmt.Errorf("%w: %q: wildcard port in connect", ErrEndpoint, ep)
			}
			port = "0"
		}
		if host == "*" {
			if !bind {
				return t, fmt.Errorf("%w: %q: wildcard host in connect", ErrEndpoint, ep)
			}
			host = "::" // every interface, IPv4 and IPv6 (as Go's ":port")
			t.anyHost = true
		}
		rest = net.JoinHostPort(host, port)
	case "ipc":
	default:
		return t, fmt.Errorf("%w: %q: unsupported transport %q", ErrEndpoint, ep, scheme)
	}
	t.spec = scheme + "://" + rest
	if query != "" {
		t.spec += "?" + query
	}
	parsed, err := endpoint.Parse(t.spec)
	if err != nil {
		return t, fmt.Errorf("%w: %q: %w", ErrEndpoint, ep, err)
	}
	cfg := new(endpoint.Config)
	if base != nil {
		*cfg = *base
	}
	// Config.MaxConns bounds accepted connections, not the endpoint
	// package's (whose accounting needs its Conn wrapper, see ioConn).
	cfg.MaxConns = 0
	if parsed.Transport == endpoint.TCP {
		// libzmq sets TCP_NODELAY; "nodelay=0" in the query turns it off.
		vals, _ := url.ParseQuery(query)
		_, given := vals["nodelay"]
		cfg.Options.NoDelay = !given
	}
	// The typed options must apply to this transport too: print them in
	// the endpoint's syntax and let the endpoint package read them back.
	typed := parsed
	typed.Options = cfg.Options
	if _, err := endpoint.Parse(typed.String()); err != nil {
		return t, fmt.Errorf("%w: %q: Config.Endpoint: %w", ErrEndpoint, ep, err)
	}
	if err := checkDirection(parsed.Options, cfg.Options, parsed.Proto(), bind); err != nil {
		return t, fmt.Errorf("%w: %q: %w", ErrEndpoint, ep, err)
	}
	t.cfg = cfg
	return t, nil
}

// checkDirection refuses, before anything is opened, options that apply
// only to the other direction (the endpoint package checks them only when
// it opens the socket, which for Connect happens in the background).
func checkDirection(q, typed endpoint.Options, proto string, bind bool) error {
	type opt struct {
		name string
		set  bool
	}
	var wrong []opt
	var reason error
	if bind {
		reason = endpoint.ErrDialOnly
		wrong = []opt{{"source", q.Source != "" || typed.Source != ""},
			{"servername", q.ServerName != "" || typed.ServerName != ""}}
	} else {
		reason = endpoint.ErrListenOnly
		wrong = []opt{{"backlog", q.Backlog != 0 || typed.Backlog != 0},
			{"deferaccept", q.DeferAccept != 0 || typed.DeferAccept != 0},
			{"v6only", q.V6Only != nil || typed.V6Only != nil}}
	}
	for _, o := range wrong {
		if o.set {
			return &endpoint.OptionError{Option: o.name, Proto: proto, Err: reason}
		}
	}
	return nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

func joinQuery(q, kv string) string {
	if q == "" {
		return kv
	}
	return q + "&" + kv
}

// ioConn returns the connection zmq reads and writes. For plain TCP and
// Unix sockets that is the *net.TCPConn or *net.UnixConn under the
// endpoint package's counting wrapper: net.Buffers then reaches writev for
// large frames (the wrapper would split them into one write per buffer),
// and zmq keeps its own counters (Stats). Closing the bare socket is all
// the wrapper's Close would do here, since cfg.MaxConns is zero. Other
// connections (TLS) keep the wrapper, whose Close waits for a background
// handshake.
func ioConn(c *endpoint.Conn) net.Conn {
	switch nc := c.NetConn().(type) {
	case *net.TCPConn:
		return nc
	case *net.UnixConn:
		return nc
	}
	return c
}

// boundEndpoint formats a listener's resolved address as an endpoint.
func boundEndpoint(scheme string, a net.Addr) string { return scheme + "://" + a.String() }

type listener struct {
	s        *Socket
	endpoint string // the resolved address, as LastEndpoint reports it
	given    string // the endpoint as given to Bind
	scheme   string
	ln       *endpoint.Listener
	ctx      context.Context // the accept loop
	cancel   context.CancelFunc
	connCtx  context.Context // the accepted connections
	connStop context.CancelFunc
	conns    atomic.Int64
	inproc   string
}

// stop stops accepting; accepted connections live on (Close lingers on
// them, then cancels the socket's context, which ends them).
func (l *listener) stop() {
	l.cancel()
	if l.inproc != "" {
		l.s.cfg.Inproc.unbind(l.inproc, l.s)
	}
}

// Bind listens on endpoint ("tcp://127.0.0.1:5555", "tcp://[::1]:*",
// "ipc:///tmp/x.sock", "ipc://@abstract", "inproc://name") and accepts
// peers in the background until Unbind or Close. LastEndpoint reports the
// address actually bound. The socket may bind many endpoints. Socket
// options may follow as a query ("tcp://127.0.0.1:5555?tos=0x10"); see
// the package doc and Config.Endpoint.
func (s *Socket) Bind(ep string) error {
	t, err := parseEndpoint(ep, true, s.cfg.Endpoint)
	if err != nil {
		return err
	}
	scheme, addr := t.scheme, t.addr
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(s.ctx)
	connCtx, connStop := context.WithCancel(s.ctx)
	l := &listener{s: s, given: ep, scheme: scheme, ctx: ctx, cancel: cancel, connCtx: connCtx, connStop: connStop}
	defer func() {
		if l.ln == nil && l.inproc == "" {
			connStop()
		}
	}()
	if scheme == "inproc" {
		if s.cfg.Inproc == nil {
			cancel()
			return ErrNoInproc
		}
		l.endpoint, l.inproc = ep, addr
		if err := s.cfg.Inproc.bind(addr, s); err != nil {
			cancel()
			return err
		}
	} else {
		if admit := t.cfg.Admit; admit != nil {
			// Refusals by Config.Endpoint.Admit are counted and reported
			// like those by MaxConns. The accept loop, the only caller,
			// starts after l.endpoint is set.
			t.cfg.Admit = func(local, remote net.Addr) error {
				err := admit(local, remote)
				if err != nil {
					s.refused.Add(1)
					s.emit(Event{Type: EventRefused, Endpoint: l.endpoint, Local: local.String(), Remote: remote.String(), Err: err})
				}
				return err
			}
		}
		ln, err := endpoint.Listen(ctx, t.spec, t.cfg)
		if err != nil && t.anyHost {
			ln, err = endpoint.Listen(ctx, strings.Replace(t.spec, "[::]", "0.0.0.0", 1), t.cfg)
		}
		if err != nil {
			cancel()
			return fmt.Errorf("zmq: bind %s: %w", ep, err)
		}
		l.ln = ln
		l.endpoint = boundEndpoint(scheme, ln.Addr())
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.stop()
		if l.ln != nil {
			l.ln.Close()
		}
		return ErrClosed
	}
	s.listeners = append(s.listeners, l)
	s.lastEP = l.endpoint
	s.mu.Unlock()
	s.emit(Event{Type: EventListening, Endpoint: l.endpoint})
	if l.ln != nil {
		context.AfterFunc(ctx, func() { l.ln.Close() })
		s.wg.Add(1)
		go l.accept()
	} else {
		s.cfg.Inproc.flushPending(addr)
	}
	return nil
}

// accept runs until the listener closes, backing off on temporary errors.
func (l *listener) accept() {
	s := l.s
	defer s.wg.Done()
	var delay time.Duration
	for {
		ec, err := l.ln.AcceptConn()
		if err != nil {
			if l.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				s.emit(Event{Type: EventClosed, Endpoint: l.endpoint})
				return
			}
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			s.log.Debug("accept failed", "endpoint", l.endpoint, "err", err)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.ctx.Done():
				t.Stop()
			}
			continue
		}
		delay = 0
		nc := ioConn(ec)
		ev := Event{Endpoint: l.endpoint, Local: nc.LocalAddr().String(), Remote: nc.RemoteAddr().String()}
		if l.conns.Load() >= int64(s.cfg.MaxConns) {
			nc.Close()
			s.refused.Add(1)
			ev.Type = EventRefused
			s.emit(ev)
			continue
		}
		ev.Type = EventAccepted
		s.emit(ev)
		l.conns.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer l.conns.Add(-1)
			s.serveConn(l.connCtx, nc, nil, l.endpoint, l.scheme)
		}()
	}
}

// Unbind stops listening on an endpoint given to Bind (or as reported by
// LastEndpoint) and closes the connections it accepted. An endpoint with
// a wildcard ("tcp://127.0.0.1:*") is found only by its resolved address.
func (s *Socket) Unbind(endpoint string) error {
	s.mu.Lock()
	for i, l := range s.listeners {
		if l.endpoint == endpoint || l.given == endpoint && !strings.Contains(endpoint, "*") {
			s.listeners = append(s.listeners[:i], s.listeners[i+1:]...)
			s.mu.Unlock()
			l.stop()
			l.connStop()
			return nil
		}
	}
	s.mu.Unlock()
	return fmt.Errorf("%w: %s", ErrNotFound, endpoint)
}

type dialer struct {
	s        *Socket
	endpoint string
	t        target
	p        *pipe
	ctx      context.Context
	cancel   context.CancelFunc
}

func (d *dialer) stop() {
	d.cancel()
	if d.t.scheme == "inproc" && d.s.cfg.Inproc != nil {
		d.s.cfg.Inproc.forget(d.t.addr, d.p)
	}
	d.s.dropPipe(d.p)
}

// Connect connects to endpoint in the background and returns at once;
// the connection is retried with backoff (Config.ReconnectIvl, doubling
// up to ReconnectIvlMax) and re-established whenever it drops, until
// Disconnect or Close. Unless Config.Immediate is set, messages sent
// before the peer is there queue for it, up to the high-water mark.
func (s *Socket) Connect(ep string) error {
	t, err := parseEndpoint(ep, false, s.cfg.Endpoint)
	if err != nil {
		return err
	}
	scheme := t.scheme
	if scheme == "inproc" && s.cfg.Inproc == nil {
		return ErrNoInproc
	}
	ctx, cancel := context.WithCancel(s.ctx)
	d := &dialer{s: s, endpoint: ep, t: t, ctx: ctx, cancel: cancel}
	d.p = s.newPipe(ep, scheme, true)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return ErrClosed
	}
	s.dialers = append(s.dialers, d)
	if !s.cfg.Immediate && !(s.typ == Pair && len(s.pipes) > 0) {
		d.p.attached = true
		s.pipes = append(s.pipes, d.p)
	}
	s.mu.Unlock()
	s.signalSpace()
	if scheme == "inproc" {
		s.cfg.Inproc.connect(t.addr, d.p)
		return nil
	}
	s.wg.Add(1)
	go d.run()
	return nil
}

// Disconnect stops connecting to an endpoint given to Connect, closing
// its connection and discarding its queue.
func (s *Socket) Disconnect(endpoint string) error {
	s.mu.Lock()
	for i, d := range s.dialers {
		if d.endpoint == endpoint {
			s.dialers = append(s.dialers[:i], s.dialers[i+1:]...)
			s.mu.Unlock()
			d.stop()
			return nil
		}
	}
	s.mu.Unlock()
	return fmt.Errorf("%w: %s", ErrNotFound, endpoint)
}

// closedIdle reports whether Close has begun and the pipe has nothing
// left to write: then no reconnection is needed. While Close lingers
// with messages queued, the dialer reconnects to deliver them.
func (d *dialer) closedIdle() bool {
	s := d.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		return false
	}
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	return len(d.p.q) == 0
}

// run connects and reconnects until the dialer stops.
func (d *dialer) run() {
	s := d.s
	defer s.wg.Done()
	ivl := s.cfg.ReconnectIvl
	backoff := ivl
	for {
		ec, err := endpoint.Dial(d.ctx, d.t.spec, d.t.cfg)
		if err == nil {
			nc := ioConn(ec)
			s.emit(Event{Type: EventConnected, Endpoint: d.endpoint, Local: nc.LocalAddr().String(), Remote: nc.RemoteAddr().String()})
			if s.serveConn(d.ctx, nc, d.p, d.endpoint, d.t.scheme) {
				backoff = ivl
			}
		}
		if d.ctx.Err() != nil || ivl < 0 || d.closedIdle() {
			return
		}
		wait := backoff
		if backoff *= 2; backoff > s.cfg.ReconnectIvlMax {
			backoff = s.cfg.ReconnectIvlMax
		}
		if err != nil {
			s.emit(Event{Type: EventConnectRetried, Endpoint: d.endpoint, Err: err, Retry: wait})
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.ctx.Done():
			t.Stop()
			return
		}
	}
}

// Inproc is a namespace for inproc:// endpoints, like a libzmq context:
// sockets whose Config names the same Inproc reach each other's inproc
// endpoints. Messages over inproc are passed without copies or syscalls.
// The zero value is ready to use; an Inproc is safe for concurrent use.
type Inproc struct {
	mu      sync.Mutex
	bound   map[string]*Socket
	pending map[string][]*pipe
}

// NewInproc returns an empty inproc namespace.
func NewInproc() *Inproc { return &Inproc{} }

func (n *Inproc) bind(name string, s *Socket) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.bound == nil {
		n.bound = make(map[string]*Socket)
	}
	if _, ok := n.bound[name]; ok {
		return fmt.Errorf("%w: inproc://%s", ErrAddrInUse, name)
	}
	n.bound[name] = s
	return nil
}

func (n *Inproc) unbind(name string, s *Socket) {
	n.mu.Lock()
	if n.bound[name] == s {
		delete(n.bound, name)
	}
	n.mu.Unlock()
}

func (n *Inproc) connect(name string, p *pipe) {
	n.mu.Lock()
	b := n.bound[name]
	if b == nil {
		if n.pending == nil {
			n.pending = make(map[string][]*pipe)
		}
		n.pending[name] = append(n.pending[name], p)
	}
	n.mu.Unlock()
	if b != nil {
		join(p, b, "inproc://"+name)
	}
}

func (n *Inproc) forget(name string, p *pipe) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ps := n.pending[name]
	for i, q := range ps {
		if q == p {
			n.pending[name] = append(ps[:i], ps[i+1:]...)
			break
		}
	}
	if len(n.pending[name]) == 0 {
		delete(n.pending, name)
	}
}

func (n *Inproc) flushPending(name string) {
	n.mu.Lock()
	b := n.bound[name]
	ps := n.pending[name]
	delete(n.pending, name)
	n.mu.Unlock()
	for _, p := range ps {
		join(p, b, "inproc://"+name)
	}
}

// join connects the connecting pipe p to the bound socket b.
func join(p *pipe, b *Socket, endpoint string) {
	s := p.s
	if p.dead.Load() {
		return
	}
	if !compatible(s.typ, b.typ) {
		err := fmt.Errorf("%w: %s cannot talk to %s", ErrIncompatible, s.typ, b.typ)
		s.refused.Add(1)
		b.refused.Add(1)
		s.emit(Event{Type: EventHandshakeFailed, Endpoint: endpoint, PeerType: b.typ.String(), Err: err})
		b.emit(Event{Type: EventHandshakeFailed, Endpoint: endpoint, PeerType: s.typ.String(), Err: err})
		return
	}
	// Each side receives the other's frames as they are: neither may
	// recycle them (see Recycle).
	s.pool.inproc.Store(true)
	b.pool.inproc.Store(true)
	q := b.newPipe(endpoint, "inproc", false)
	// Over inproc a queue holds the sender's SendHWM plus the
	// receiver's RecvHWM, as in libzmq.
	q.inHWM = sumHWM(s.cfg.SendHWM, b.cfg.RecvHWM)
	p.inHWM = sumHWM(b.cfg.SendHWM, s.cfg.RecvHWM)
	q.peer = p
	q.src.Store(s)
	p.src.Store(b)
	if err := b.attach(q, s.typ.String(), s.cfg.RoutingID); err != nil {
		b.refused.Add(1)
		b.emit(Event{Type: EventHandshakeFailed, Endpoint: endpoint, PeerType: s.typ.String(), Err: err})
		return
	}
	// Hand over what queued while p waited, then route p straight to q.
	p.mu.Lock()
	queued := p.q
	p.q = nil
	for i := range queued {
		q.deliver(queued[i], true)
	}
	p.peer = q
	p.mu.Unlock()
	if err := s.attach(p, b.typ.String(), b.cfg.RoutingID); err != nil {
		s.dropPipe(p)
		return
	}
	b.emit(Event{Type: EventAccepted, Endpoint: endpoint, PeerType: s.typ.String()})
	b.emit(Event{Type: EventHandshakeSucceeded, Endpoint: endpoint, PeerType: s.typ.String()})
	s.emit(Event{Type: EventConnected, Endpoint: endpoint, PeerType: b.typ.String()})
	s.emit(Event{Type: EventHandshakeSucceeded, Endpoint: endpoint, PeerType: b.typ.String()})
}

func sumHWM(a, b int) int {
	if a < 0 || b < 0 {
		return 0
	}
	return a + b
}

func compatible(a, b Type) bool {
	return zmtpCompatible(a.String(), b.String())
}
