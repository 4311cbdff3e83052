package endpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures Listen, ListenPacket and Dial. A nil *Config means
// defaults; the caller's Config is never modified.
type Config struct {
	// Options are socket options; options given as query parameters of
	// the address override them field by field.
	Options Options
	// TLS, when set, is used for tls:// and wss:// endpoints instead of the
	// cert, key and ca files. It is cloned, never modified.
	TLS *tls.Config
	// Logger receives debug records (bind, accept, refuse). nil: silent.
	Logger *slog.Logger
	// Admit, when set, is asked about every accepted connection before
	// Accept returns it; an error refuses it (the connection is closed and
	// counted in Listener.Refused). It runs on the accepting goroutine.
	Admit func(local, remote net.Addr) error
	// MaxConns bounds the connections of a Listener that are open at once;
	// more are closed on arrival and counted in Listener.Refused. Zero: no
	// bound.
	MaxConns int

	getenv func(string) string // test seam for fd://; nil = os.Getenv
}

func (c *Config) clone() *Config {
	if c == nil {
		return &Config{Logger: slog.New(slog.DiscardHandler)}
	}
	n := *c
	if n.Logger == nil {
		n.Logger = slog.New(slog.DiscardHandler)
	}
	return &n
}

// ErrWrongKind is returned when a stream call (Listen) meets a datagram
// endpoint or the other way round. For fd:// endpoints the kind is known only
// once the socket is inspected: try Listen, then ListenPacket.
var ErrWrongKind = errors.New("endpoint: wrong socket kind for this call")

// prepare parses spec, merges the options and checks them for the
// direction, before anything is opened.
func prepare(spec string, cfg *Config, dir int) (Endpoint, *Config, error) {
	ep, err := Parse(spec)
	if err != nil {
		return ep, nil, err
	}
	cfg = cfg.clone()
	if ep.Options, err = combine(cfg.Options, ep.Options, ep.Proto()); err != nil {
		return ep, nil, err
	}
	if err := ep.Options.check(ep.Proto(), ep.Transport, dir); err != nil {
		return ep, nil, err
	}
	if ep.Transport == TCP || ep.Transport == UDP {
		ep.Address = defaultLoopback(ep.Address)
	}
	return ep, cfg, nil
}

// defaultLoopback puts 127.0.0.1 where no host is given.
func defaultLoopback(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err == nil && host == "" {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return hostport
}

func controlFunc(o *Options, listen bool, after func(fd int) error) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		return control(c, func(fd int) error {
			if err := applyPre(fd, network, o, listen); err != nil {
				return err
			}
			if after != nil {
				return after(fd)
			}
			return nil
		})
	}
}

// Listener accepts stream connections on an endpoint: TCP, Unix, vsock, an
// inherited socket, optionally under TLS or WebSocket. It implements
// net.Listener; Accept returns *Conn values. Accept may be called from
// several goroutines; Close unblocks them. The caller must Close it.
type Listener struct {
	l       net.Listener
	ep      Endpoint
	opts    Options
	tls     *tls.Config
	addr    string
	ws      *wsListener
	admit   func(local, remote net.Addr) error
	max     int
	log     *slog.Logger
	open    atomic.Int64
	refused atomic.Uint64
	close   sync.Once
	cerr    error
}

var _ net.Listener = (*Listener)(nil)

// Listen listens on a stream endpoint. Once Listen returns, the ctx no
// longer matters. A host left empty binds to loopback; all interfaces take an
// explicit 0.0.0.0 or [::].
func Listen(ctx context.Context, spec string, cfg *Config) (*Listener, error) {
	ep, cfg, err := prepare(spec, cfg, dListen)
	if err != nil {
		return nil, err
	}
	if !ep.Stream() && ep.Transport != FD {
		return nil, fmt.Errorf("endpoint: listen %s: %w (datagram endpoint: use ListenPacket)", spec, ErrWrongKind)
	}
	o := ep.Options
	var tc *tls.Config
	if ep.Wrap == WrapTLS || ep.Wrap == WrapWSS {
		if tc, err = serverTLS(cfg.TLS, &o); err != nil {
			return nil, err
		}
	}
	var l net.Listener
	switch ep.Transport {
	case TCP:
		lc := net.ListenConfig{KeepAlive: -1, Control: controlFunc(&o, true, nil)}
		lc.SetMultipathTCP(o.MPTCP)
		l, err = lc.Listen(ctx, ipNetwork(TCP, ep.Address), ep.Address)
	case Unix, Inproc:
		addr := ep.Address
		if ep.Transport == Inproc {
			addr = inprocName(addr)
		} else {
			removeStale(ctx, "unix", addr)
		}
		lc := net.ListenConfig{Control: controlFunc(&o, true, nil)}
		l, err = lc.Listen(ctx, "unix", addr)
	case Vsock:
		l, err = listenVsock(ep.Address, &o)
	case FD:
		l, _, err = openFD(ep.Address, &o, cfg.getenv, true)
	default:
		return nil, fmt.Errorf("endpoint: listen %s: %w", spec, ErrWrongKind)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint: listen %s: %w", ep, err)
	}
	if o.Backlog != 0 {
		if sc, ok := l.(syscall.Conn); ok {
			if rc, e := sc.SyscallConn(); e == nil {
				err = control(rc, func(fd int) error { return relisten(fd, o.Backlog) })
			}
		}
		if err != nil {
			l.Close()
			return nil, err
		}
	}
	ln := &Listener{l: l, ep: ep, opts: o, tls: tc, addr: addrText(l.Addr()), admit: cfg.Admit, max: cfg.MaxConns, log: cfg.Logger}
	if ep.Wrap == WrapWS || ep.Wrap == WrapWSS {
		ln.ws = newWSListener(l, ep.Path, tc, cfg.Logger)
	}
	cfg.Logger.Debug("listen", "endpoint", ep.String(), "addr", ln.addr)
	return ln, nil
}

// Accept waits for and returns the next connection as a *Conn.
func (l *Listener) Accept() (net.Conn, error) { return l.AcceptConn() }

// AcceptConn waits for and returns the next connection. A TLS handshake
// runs in the background (bounded to 10 s) and Read and Write wait for it,
// so one slow client cannot hold up Accept.
func (l *Listener) AcceptConn() (*Conn, error) {
	for {
		c, err := l.acceptOne()
		if err != nil {
			return nil, err
		}
		if reason := l.check(c); reason != nil {
			l.refused.Add(1)
			l.log.Debug("refuse", "listener", l.addr, "remote", c.Remote(), "err", reason)
			c.Close()
			continue
		}
		if l.max > 0 {
			c.onClose = func() { l.open.Add(-1) }
		}
		l.log.Debug("accept", "listener", l.addr, "remote", c.Remote())
		return c, nil
	}
}

// check applies MaxConns and Admit; it counts c as open when it passes.
func (l *Listener) check(c *Conn) error {
	if l.admit != nil {
		if err := l.admit(c.LocalAddr(), c.RemoteAddr()); err != nil {
			return err
		}
	}
	if l.max > 0 {
		if l.open.Add(1) > int64(l.max) {
			l.open.Add(-1)
			return ErrTooManyConns
		}
	}
	return nil
}

// ErrTooManyConns is the reason a connection above Config.MaxConns is refused.
var ErrTooManyConns = errors.New("endpoint: too many connections")

// Refused returns how many connections Admit or MaxConns refused.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

func (l *Listener) acceptOne() (*Conn, error) {
	if l.ws != nil {
		return l.ws.accept()
	}
	nc, err := l.l.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		if err := setupTCP(tc, &l.opts); err != nil {
			tc.Close()
			return nil, err
		}
	}
	proto := l.ep.Transport
	if proto == Inproc || proto == FD {
		proto = nc.LocalAddr().Network()
	}
	if l.tls != nil {
		c := newConn(nc, proto, l.addr)
		tlsc := tls.Server(nc, l.tls)
		c.nc, c.proto = tlsc, WrapTLS
		// Handshake in the background so a slow client holds up neither
		// Accept nor a peer that waits for the handshake; Read and Write
		// wait for it. Close stops it and waits.
		c.handshake = make(chan struct{})
		go func() {
			defer close(c.handshake)
			ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
			defer cancel()
			_ = tlsc.HandshakeContext(ctx)
		}()
		return c, nil
	}
	return newConn(nc, proto, l.addr), nil
}

// setupTCP applies the per-connection TCP options to an accepted or dialled
// connection.
func setupTCP(tc *net.TCPConn, o *Options) error {
	if err := tc.SetNoDelay(o.NoDelay); err != nil {
		return err
	}
	if o.KeepAlive != 0 {
		rc, err := tc.SyscallConn()
		if err != nil {
			return err
		}
		return control(rc, func(fd int) error { return applyKeepAlive(fd, o) })
	}
	return nil
}

// Close stops listening; blocked Accept calls return net.ErrClosed. It is
// idempotent.
func (l *Listener) Close() error {
	l.close.Do(func() {
		if l.ws != nil {
			l.cerr = l.ws.close()
			return
		}
		l.cerr = l.l.Close()
	})
	return l.cerr
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.l.Addr() }

// Local returns the listening address as text ("127.0.0.1:7000",
// "/run/sb.sock", "@name", "2:5000").
func (l *Listener) Local() string { return l.addr }

// Endpoint returns the endpoint listened on, with the port the kernel
// chose when the address asked for port 0.
func (l *Listener) Endpoint() Endpoint {
	ep := l.ep
	if ta, ok := l.l.Addr().(*net.TCPAddr); ok && ep.Transport == TCP {
		ep.Address = net.JoinHostPort(ta.IP.String(), strconv.Itoa(ta.Port))
	}
	return ep
}

// SyscallConn returns the listening socket, for reading options back.
func (l *Listener) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := l.l.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, ErrNoSocket
}

// ListenPacket opens a datagram endpoint: UDP (joining the group when the
// address is multicast), Unix datagram, netlink, or an inherited datagram
// socket. Once it returns, the ctx no longer matters.
func ListenPacket(ctx context.Context, spec string, cfg *Config) (*PacketConn, error) {
	ep, cfg, err := prepare(spec, cfg, dListen)
	if err != nil {
		return nil, err
	}
	o := ep.Options
	var pc net.PacketConn
	switch ep.Transport {
	case UDP:
		host, port, _ := net.SplitHostPort(ep.Address)
		ip := net.ParseIP(host)
		if ip != nil && ip.IsMulticast() {
			// Bind the group address (IPv6: the wildcard, as link-local
			// groups need a zone) and port, then join the group.
			bind := net.JoinHostPort(host, port)
			if ip.To4() == nil {
				bind = net.JoinHostPort("::", port)
			}
			lc := net.ListenConfig{Control: controlFunc(&o, true, setReuseAddr)}
			pc, err = lc.ListenPacket(ctx, ipNetwork(UDP, bind), bind)
			if err == nil {
				rc, _ := pc.(*net.UDPConn).SyscallConn()
				if err = control(rc, func(fd int) error { return joinGroup(fd, ip, o.Interface) }); err != nil {
					pc.Close()
				}
			}
		} else {
			if o.Interface != "" {
				return nil, &OptionError{Option: "iface", Proto: UDP, Err: errors.New("applies to multicast addresses only")}
			}
			lc := net.ListenConfig{Control: controlFunc(&o, true, nil)}
			pc, err = lc.ListenPacket(ctx, ipNetwork(UDP, ep.Address), ep.Address)
		}
	case Unixgram:
		removeStale(ctx, "unixgram", ep.Address)
		lc := net.ListenConfig{Control: controlFunc(&o, true, nil)}
		pc, err = lc.ListenPacket(ctx, "unixgram", ep.Address)
	case Netlink:
		pc, err = listenNetlink(ep.Address, &o)
	case FD:
		_, pc, err = openFD(ep.Address, &o, cfg.getenv, false)
	default:
		return nil, fmt.Errorf("endpoint: listen %s: %w (stream endpoint: use Listen)", spec, ErrWrongKind)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint: listen %s: %w", ep, err)
	}
	proto := ep.Transport
	if proto == FD {
		proto = pc.LocalAddr().Network()
	}
	cfg.Logger.Debug("listen", "endpoint", ep.String(), "addr", addrText(pc.LocalAddr()))
	return newPacketConn(pc, proto, &o), nil
}

// Dial connects to an endpoint: a stream (TCP, Unix, vsock, under TLS or
// WebSocket) or a connected datagram socket (UDP, Unix datagram). The ctx
// bounds the connection attempt; once connected, its expiry does not affect
// the connection.
func Dial(ctx context.Context, spec string, cfg *Config) (*Conn, error) {
	ep, cfg, err := prepare(spec, cfg, dDial)
	if err != nil {
		return nil, err
	}
	o := ep.Options
	var nc net.Conn
	switch ep.Transport {
	case TCP, UDP:
		d := net.Dialer{KeepAlive: -1, Control: controlFunc(&o, false, nil)}
		d.SetMultipathTCP(o.MPTCP)
		if o.Source != "" {
			if ep.Transport == TCP {
				d.LocalAddr, err = net.ResolveTCPAddr("tcp", o.Source)
			} else {
				d.LocalAddr, err = net.ResolveUDPAddr("udp", o.Source)
			}
			if err != nil {
				return nil, &OptionError{Option: "source", Proto: ep.Proto(), Value: o.Source, Err: err}
			}
		}
		addr := ep.Address
		if host, port, _ := net.SplitHostPort(addr); o.Interface != "" {
			// IPv6 multicast goes out on the interface: give it as the zone.
			if ip := net.ParseIP(host); ip != nil && ip.To4() == nil && ip.IsMulticast() {
				addr = net.JoinHostPort(host+"%"+o.Interface, port)
			}
		}
		nc, err = d.DialContext(ctx, ipNetwork(ep.Transport, ep.Address), addr)
		if tc, ok := nc.(*net.TCPConn); ok && err == nil {
			if err = setupTCP(tc, &o); err != nil {
				tc.Close()
			}
		}
	case Unix, Unixgram, Inproc:
		network, addr := ep.Transport, ep.Address
		if ep.Transport == Inproc {
			network, addr = Unix, inprocName(addr)
		}
		d := net.Dialer{Control: controlFunc(&o, false, nil)}
		nc, err = d.DialContext(ctx, network, addr)
	case Vsock:
		nc, err = dialVsock(ctx, ep.Address, &o)
	default:
		return nil, fmt.Errorf("endpoint: dial %s: %w (cannot dial %s)", spec, ErrWrongKind, ep.Transport)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoint: dial %s: %w", ep, err)
	}
	proto := ep.Transport
	if proto == Inproc {
		proto = Unix
	}
	switch ep.Wrap {
	case WrapTLS:
		tc, err := clientTLS(cfg.TLS, &o, ep.Address)
		if err != nil {
			nc.Close()
			return nil, err
		}
		c := newConn(nc, proto, "")
		tlsc := tls.Client(nc, tc)
		if err := tlsc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("endpoint: dial %s: %w", ep, err)
		}
		c.nc, c.proto = tlsc, WrapTLS
		return c, nil
	case WrapWS, WrapWSS:
		var tc *tls.Config
		if ep.Wrap == WrapWSS {
			if tc, err = clientTLS(cfg.TLS, &o, ep.Address); err != nil {
				nc.Close()
				return nil, err
			}
		}
		return dialWS(ctx, nc, ep, tc)
	}
	return newConn(nc, proto, ""), nil
}

// tlsHandshakeTimeout bounds a server-side TLS handshake.
const tlsHandshakeTimeout = 10 * time.Second

// ipNetwork picks "tcp4"/"tcp6" for IP literals so 0.0.0.0 means IPv4
// only; [::] and names get the dual-stack "tcp".
func ipNetwork(network, hostport string) string {
	host, _, _ := net.SplitHostPort(hostport)
	if ip := net.ParseIP(host); ip != nil {
		switch {
		case ip.To4() != nil:
			return network + "4"
		case ip.IsUnspecified():
			return network // [::] is dual-stack unless v6only=1
		}
		return network + "6"
	}
	return network
}

// inprocName maps an inproc name to an abstract Unix socket private to
// this process by its name.
func inprocName(name string) string {
	return "@switchboard-inproc/" + strconv.Itoa(os.Getpid()) + "/" + name
}

// removeStale removes a Unix socket file nobody listens on any more.
func removeStale(ctx context.Context, network, path string) {
	if path == "" || path[0] == '@' {
		return
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, path)
	if err == nil {
		c.Close()
		return
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		os.Remove(path)
	}
}

// control runs f on the raw fd.
func control(rc syscall.RawConn, f func(fd int) error) error {
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
