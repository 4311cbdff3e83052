package hub

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/switchboard/switchboard/socketio"
)

// Errors of admission and authentication.
var (
	// ErrRefused reports a connection refused by admission: a deny list,
	// an allow list that does not hold the address, the Admit callback,
	// or too many connections from one address.
	ErrRefused = errors.New("hub: connection refused")
	// ErrAuth reports a missing or wrong token.
	ErrAuth = errors.New("hub: authentication failed")
)

// ProtectConfig configures who may connect to a Server's doors. The zero
// value admits every address (the Server binds loopback by default), at
// most 64 connections per address and door, without a token.
type ProtectConfig struct {
	// Allow, when not empty, lists the only remote networks admitted.
	Allow []netip.Prefix
	// Deny lists remote networks refused; it wins over Allow.
	Deny []netip.Prefix
	// Admit, when set, is asked after Allow and Deny about every
	// connection, with the door's name ("socket.io", "irc", ...) and the
	// remote address and port, before the connection is accepted; an
	// error refuses it. It must be safe for concurrent use and quick.
	Admit func(door string, remote netip.AddrPort) error
	// MaxConnsPerAddr bounds the connections one remote IP address may
	// hold at once on one door. Default 64; -1 means no bound. Loopback
	// addresses are not bounded unless LimitLoopback is set: a reverse
	// proxy or a load test on the same host carries many clients.
	MaxConnsPerAddr int
	// LimitLoopback applies MaxConnsPerAddr to loopback addresses too.
	LimitLoopback bool
	// Token, when set, is required of every client: the Socket.IO auth
	// payload {token}, IRC's PASS, a door option for the others.
	Token string
}

// Guard applies a ProtectConfig: admission by remote address, connections
// per address, tokens, and audit records. Doors other than Socket.IO use
// it through Server.Guard (EndpointAdmit for endpoint.Config.Admit,
// Hold/Release for counting, CheckToken). Its methods are safe for
// concurrent use.
type Guard struct {
	allow, deny []netip.Prefix
	admit       func(string, netip.AddrPort) error
	maxPerAddr  int
	limitLoop   bool
	token       string
	audit       *slog.Logger

	mu   sync.Mutex
	held map[guardKey]int
}

type guardKey struct {
	door string
	ip   netip.Addr
}

// NewGuard returns a Guard for cfg (nil means defaults). Audit records go
// to audit with the attribute audit=true; nil means silent.
func NewGuard(cfg *ProtectConfig, audit *slog.Logger) (*Guard, error) {
	var c ProtectConfig
	if cfg != nil {
		c = *cfg
	}
	if c.MaxConnsPerAddr < -1 {
		return nil, errors.New("hub: ProtectConfig.MaxConnsPerAddr is negative")
	}
	if c.MaxConnsPerAddr == 0 {
		c.MaxConnsPerAddr = 64
	}
	if audit == nil {
		audit = slog.New(slog.DiscardHandler)
	}
	norm := func(ps []netip.Prefix) []netip.Prefix {
		out := make([]netip.Prefix, len(ps))
		for i, p := range ps {
			out[i] = p.Masked()
		}
		return out
	}
	return &Guard{
		allow:      norm(c.Allow),
		deny:       norm(c.Deny),
		admit:      c.Admit,
		maxPerAddr: c.MaxConnsPerAddr,
		limitLoop:  c.LimitLoopback,
		token:      c.Token,
		audit:      audit.With("audit", true),
		held:       make(map[guardKey]int),
	}, nil
}

// Audit returns the logger of the audit records (attribute audit=true).
func (g *Guard) Audit() *slog.Logger { return g.audit }

// Check decides whether remote may connect to door: Deny, then Allow, then
// the Admit callback. A refusal is audited and matches ErrRefused.
func (g *Guard) Check(door string, remote netip.AddrPort) error {
	err := g.check(door, remote)
	if err != nil {
		g.audit.Warn("refuse", "door", door, "remote", remote.String(), "err", err)
	}
	return err
}

func (g *Guard) check(door string, remote netip.AddrPort) error {
	ip := remote.Addr().Unmap()
	for _, p := range g.deny {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in denied %s", ErrRefused, ip, p)
		}
	}
	if len(g.allow) > 0 && !slices.ContainsFunc(g.allow, func(p netip.Prefix) bool { return p.Contains(ip) }) {
		return fmt.Errorf("%w: %s is not in an allowed network", ErrRefused, ip)
	}
	if g.admit != nil {
		if err := g.admit(door, remote); err != nil {
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	return nil
}

// Hold counts one more connection of remote's IP on door, refusing it
// (ErrRefused, audited) when the IP holds MaxConnsPerAddr already. Each
// successful Hold needs one Release.
func (g *Guard) Hold(door string, remote netip.AddrPort) error {
	k := guardKey{door, remote.Addr().Unmap()}
	g.mu.Lock()
	n := g.held[k]
	if g.maxPerAddr > 0 && n >= g.maxPerAddr && (g.limitLoop || !k.ip.IsLoopback()) {
		g.mu.Unlock()
		err := fmt.Errorf("%w: %d connections from %s", ErrRefused, g.maxPerAddr, k.ip)
		g.audit.Warn("refuse", "door", door, "remote", remote.String(), "err", err)
		return err
	}
	g.held[k] = n + 1
	g.mu.Unlock()
	return nil
}

// Held returns how many connections remote's IP holds on door.
func (g *Guard) Held(door string, remote netip.AddrPort) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held[guardKey{door, remote.Addr().Unmap()}]
}

// Release undoes one Hold.
func (g *Guard) Release(door string, remote netip.AddrPort) {
	k := guardKey{door, remote.Addr().Unmap()}
	g.mu.Lock()
	if g.held[k] <= 1 {
		delete(g.held, k)
	} else {
		g.held[k]--
	}
	g.mu.Unlock()
}

// CheckToken compares token with the configured one in constant time. It
// succeeds when no token is configured; a failure is audited and matches
// ErrAuth.
func (g *Guard) CheckToken(door string, remote netip.AddrPort, token string) error {
	if g.token == "" {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(g.token)) == 1 {
		return nil
	}
	err := ErrAuth
	if token == "" {
		err = fmt.Errorf("%w: token required", ErrAuth)
	}
	g.audit.Warn("auth failure", "door", door, "remote", remote.String(), "err", err)
	return err
}

// EndpointAdmit returns a function for endpoint.Config.Admit that applies
// Check for door to each accepted connection (non-IP addresses, such as
// Unix sockets, are admitted) and audits the accepted ones.
func (g *Guard) EndpointAdmit(door string) func(local, remote net.Addr) error {
	return func(local, remote net.Addr) error {
		ap, ok := addrPort(remote)
		if !ok {
			g.audit.Info("accept", "door", door, "local", addrString(local), "remote", addrString(remote))
			return nil
		}
		if err := g.Check(door, ap); err != nil {
			return err
		}
		g.audit.Info("accept", "door", door, "local", addrString(local), "remote", ap.String())
		return nil
	}
}

// Listener wraps ln so that connections Check refuses for door are closed
// as they arrive, before any byte is read; accepted ones are audited.
func (g *Guard) Listener(door string, ln net.Listener) net.Listener {
	return &guardListener{Listener: ln, g: g, door: door}
}

type guardListener struct {
	net.Listener
	g    *Guard
	door string
}

func (l *guardListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if ap, ok := addrPort(c.RemoteAddr()); ok {
			if err := l.g.Check(l.door, ap); err != nil {
				c.Close()
				continue
			}
		}
		l.g.audit.Debug("accept", "door", l.door, "local", addrString(c.LocalAddr()), "remote", addrString(c.RemoteAddr()))
		return c, nil
	}
}

// checkRequest applies Check to an HTTP request's remote address.
func (g *Guard) checkRequest(door string, r *http.Request) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.AddrPort{}, nil // not IP (a Unix socket, a test): nothing to check
	}
	return ap, g.Check(door, ap)
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort(), true
	case *net.UDPAddr:
		return a.AddrPort(), true
	case nil:
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// ParsePrefixes parses comma- or space-separated CIDR prefixes; a bare
// address is a single-address prefix ("10.0.0.1" is 10.0.0.1/32).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("hub: bad network %q: %w", f, err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("hub: bad network %q: %w", f, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// admit counts a new socket against the guard's per-address bound and
// audits it. It returns the release to call when the socket goes, and
// false when the socket was refused (and disconnected).
func (d *sioDoor) admit(g *Guard, s *socketio.Socket) (release func(), ok bool) {
	if g == nil {
		return func() {}, true
	}
	var remote string
	if hs := s.Handshake(); hs != nil {
		remote = hs.Address
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		g.audit.Info("accept", "door", "socket.io", "sid", s.ID(), "remote", remote)
		return func() {}, true
	}
	if err := g.Hold("socket.io", ap); err != nil {
		s.Disconnect(true)
		return nil, false
	}
	g.audit.Info("accept", "door", "socket.io", "sid", s.ID(), "remote", remote)
	var once sync.Once
	return func() {
		once.Do(func() {
			g.Release("socket.io", ap)
			g.audit.Info("close", "door", "socket.io", "sid", s.ID(), "remote", remote)
		})
	}, true
}

// audited records a successful join or leave of s.
func (d *sioDoor) audited(err error, what string, s *socketio.Socket, room string) {
	if err != nil || d.audit == nil {
		return
	}
	var remote string
	if hs := s.Handshake(); hs != nil {
		remote = hs.Address
	}
	d.audit.Info(what, "door", "socket.io", "sid", s.ID(), "remote", remote, "room", room)
}

// tokenMiddleware refuses sockets without the configured token in their
// auth payload ({token: "..."}).
func (g *Guard) tokenMiddleware(s *socketio.Socket) error {
	if g.token == "" {
		return nil
	}
	var tok, remote string
	if hs := s.Handshake(); hs != nil {
		tok, _ = hs.Auth["token"].(string)
		remote = hs.Address
	}
	ap, _ := netip.ParseAddrPort(remote)
	return g.CheckToken("socket.io", ap, tok)
}

// announceShutdown tells every Socket.IO client why it is about to be
// disconnected: a "shutdown" event {reason}, queued behind everything
// already queued for it.
func (s *Server) announceShutdown(reason string) {
	s.x.guard.audit.Info("shutdown", "reason", reason)
	_ = s.sio.Of("/").Emit("shutdown", map[string]any{"reason": reason})
}
