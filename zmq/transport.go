package zmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// transport is how a stream endpoint listens and dials. A later change
// moves these onto the project's endpoint package.
type transport interface {
	listen(ctx context.Context, addr string) (net.Listener, error)
	dial(ctx context.Context, addr string) (net.Conn, error)
	// endpoint formats a listener's resolved address as an endpoint.
	endpoint(a net.Addr) string
}

type tcpTransport struct{}

func (tcpTransport) listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	return lc.Listen(ctx, "tcp", addr)
}

func (tcpTransport) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	d.SetMultipathTCP(false)
	return d.DialContext(ctx, "tcp", addr)
}

func (tcpTransport) endpoint(a net.Addr) string { return "tcp://" + a.String() }

type ipcTransport struct{}

func (ipcTransport) listen(ctx context.Context, addr string) (net.Listener, error) {
	if !strings.HasPrefix(addr, "@") {
		// A socket file left by a dead process would make bind fail;
		// remove it as libzmq does, but nothing else.
		if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(addr)
		}
	}
	var lc net.ListenConfig
	return lc.Listen(ctx, "unix", addr)
}

func (ipcTransport) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", addr)
}

func (ipcTransport) endpoint(a net.Addr) string { return "ipc://" + a.String() }

// parseEndpoint splits "scheme://address" and maps ZeroMQ's wildcards to
// Go's: "tcp://*:5555" listens on every interface, "tcp://127.0.0.1:*"
// on a free port.
func parseEndpoint(ep string, bind bool) (scheme, addr string, tr transport, err error) {
	scheme, addr, ok := strings.Cut(ep, "://")
	if !ok || addr == "" {
		return "", "", nil, fmt.Errorf("%w: %q", ErrEndpoint, ep)
	}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "", "", nil, fmt.Errorf("%w: %q: %v", ErrEndpoint, ep, err)
		}
		if port == "*" {
			if !bind {
				return "", "", nil, fmt.Errorf("%w: %q: wildcard port in connect", ErrEndpoint, ep)
			}
			port = "0"
		}
		if host == "*" {
			if !bind {
				return "", "", nil, fmt.Errorf("%w: %q: wildcard host in connect", ErrEndpoint, ep)
			}
			host = ""
		}
		return scheme, net.JoinHostPort(host, port), tcpTransport{}, nil
	case "ipc":
		return scheme, addr, ipcTransport{}, nil
	case "inproc":
		return scheme, addr, nil, nil
	}
	return "", "", nil, fmt.Errorf("%w: %q: unsupported transport %q", ErrEndpoint, ep, scheme)
}

type listener struct {
	s        *Socket
	endpoint string
	tr       transport
	ln       net.Listener
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
// address actually bound. The socket may bind many endpoints.
func (s *Socket) Bind(endpoint string) error {
	scheme, addr, tr, err := parseEndpoint(endpoint, true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(s.ctx)
	connCtx, connStop := context.WithCancel(s.ctx)
	l := &listener{s: s, tr: tr, ctx: ctx, cancel: cancel, connCtx: connCtx, connStop: connStop}
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
		l.endpoint, l.inproc = endpoint, addr
		if err := s.cfg.Inproc.bind(addr, s); err != nil {
			cancel()
			return err
		}
	} else {
		ln, err := tr.listen(ctx, addr)
		if err != nil {
			cancel()
			return fmt.Errorf("zmq: bind %s: %w", endpoint, err)
		}
		l.ln = ln
		l.endpoint = tr.endpoint(ln.Addr())
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
		nc, err := l.ln.Accept()
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
			s.serveConn(l.connCtx, nc, nil, l.endpoint, transportName(l.endpoint))
		}()
	}
}

func transportName(ep string) string {
	t, _, _ := strings.Cut(ep, "://")
	return t
}

// Unbind stops listening on an endpoint given to Bind (or as reported by
// LastEndpoint) and closes the connections it accepted.
func (s *Socket) Unbind(endpoint string) error {
	s.mu.Lock()
	for i, l := range s.listeners {
		if l.endpoint == endpoint {
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
	addr     string
	tr       transport
	p        *pipe
	ctx      context.Context
	cancel   context.CancelFunc
}

func (d *dialer) stop() {
	d.cancel()
	if d.tr == nil && d.s.cfg.Inproc != nil {
		d.s.cfg.Inproc.forget(d.addr, d.p)
	}
	d.s.dropPipe(d.p)
}

// Connect connects to endpoint in the background and returns at once;
// the connection is retried with backoff (Config.ReconnectIvl, doubling
// up to ReconnectIvlMax) and re-established whenever it drops, until
// Disconnect or Close. Unless Config.Immediate is set, messages sent
// before the peer is there queue for it, up to the high-water mark.
func (s *Socket) Connect(endpoint string) error {
	scheme, addr, tr, err := parseEndpoint(endpoint, false)
	if err != nil {
		return err
	}
	if scheme == "inproc" && s.cfg.Inproc == nil {
		return ErrNoInproc
	}
	ctx, cancel := context.WithCancel(s.ctx)
	d := &dialer{s: s, endpoint: endpoint, addr: addr, tr: tr, ctx: ctx, cancel: cancel}
	d.p = s.newPipe(endpoint, scheme, true)
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
	if tr == nil {
		s.cfg.Inproc.connect(addr, d.p)
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

// run connects and reconnects until the dialer stops.
func (d *dialer) run() {
	s := d.s
	defer s.wg.Done()
	ivl := s.cfg.ReconnectIvl
	backoff := ivl
	for {
		nc, err := d.tr.dial(d.ctx, d.addr)
		if err == nil {
			s.emit(Event{Type: EventConnected, Endpoint: d.endpoint, Local: nc.LocalAddr().String(), Remote: nc.RemoteAddr().String()})
			if s.serveConn(d.ctx, nc, d.p, d.endpoint, transportName(d.endpoint)) {
				backoff = ivl
			}
		}
		if d.ctx.Err() != nil || ivl < 0 {
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
