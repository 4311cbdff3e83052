package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/monitor"
	"github.com/switchboard/switchboard/socketio"
)

// ServerConfig configures a Server. The zero value of each field means its
// default, which the field's doc names. NewServer copies it.
type ServerConfig struct {
	// Hub configures the chat core (limits, rate). nil means defaults.
	Hub *Config
	// SocketIO configures the Socket.IO server. nil means socketio's
	// defaults, with Engine.MaxPayload lowered to 64 KiB (the chat's
	// messages are small). Its Logger is replaced by this Config's.
	SocketIO *socketio.Config
	// AllowedOrigins lists the browser origins ("http://host:port") other
	// than the server's own that may connect. Default: same origin only;
	// requests without an Origin header (non-browser clients) are allowed.
	AllowedOrigins []string
	// ShutdownTimeout bounds the drain in Serve after its ctx is done.
	// Default 5s.
	ShutdownTimeout time.Duration
	// Logger receives the server's records. nil means silent.
	Logger *slog.Logger
	// Protect configures admission (allow/deny networks, an Admit
	// callback), connections per address and the client token; see
	// ProtectConfig. nil means its defaults.
	Protect *ProtectConfig
	// AdminToken, when set, is required ("Authorization: Bearer TOKEN")
	// by the admin endpoints /metrics and /api/conns; when empty they
	// answer loopback clients only.
	AdminToken string
	// Audit receives the audit records (bind, accept, refuse, auth
	// failure, join, leave, close), each with the attribute audit=true.
	// nil means Logger.
	Audit *slog.Logger
}

// Server is the hub daemon's HTTP side: the chat page at "/" and the
// Socket.IO door at "/socket.io/", both on one Hub. It implements
// http.Handler. Its methods are safe for concurrent use; callers must call
// Close or Shutdown (Serve does when its ctx is done).
type Server struct {
	cfg ServerConfig
	log *slog.Logger
	hub *Hub
	sio *socketio.Server
	mux *http.ServeMux
	x   serverExtra
}

// NewServer returns a Server configured by cfg (nil means defaults).
func NewServer(cfg *ServerConfig) (*Server, error) {
	var c ServerConfig
	if cfg != nil {
		c = *cfg
	}
	c.AllowedOrigins = slices.Clone(c.AllowedOrigins)
	if c.ShutdownTimeout < 0 {
		return nil, errors.New("hub: ServerConfig.ShutdownTimeout is negative")
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	for _, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			return nil, fmt.Errorf("hub: bad allowed origin %q: want scheme://host[:port]", o)
		}
	}
	hc := Config{}
	if c.Hub != nil {
		hc = *c.Hub
	}
	if hc.Logger == nil {
		hc.Logger = c.Logger.With("part", "hub")
	}
	h, err := New(&hc)
	if err != nil {
		return nil, err
	}
	sc := socketio.Config{}
	if c.SocketIO != nil {
		sc = *c.SocketIO
	}
	ec := engineio.Config{MaxPayload: 64 << 10}
	if sc.Engine != nil {
		ec = *sc.Engine
	}
	audit := c.Audit
	if audit == nil {
		audit = c.Logger
	}
	g, err := NewGuard(c.Protect, audit)
	if err != nil {
		h.Close()
		return nil, err
	}
	s := &Server{cfg: c, log: c.Logger, hub: h}
	s.x = serverExtra{guard: g, proc: monitor.Self("serve", nil, time.Now()), adminToken: c.AdminToken}
	allow := ec.AllowRequest
	ec.AllowRequest = func(r *http.Request) error {
		if _, err := g.checkRequest("socket.io", r); err != nil {
			return err
		}
		if err := s.checkOrigin(r); err != nil {
			return err
		}
		if allow != nil {
			return allow(r)
		}
		return nil
	}
	sc.Engine = &ec
	sc.Logger = c.Logger.With("part", "socketio")
	sio, err := socketio.NewServer(&sc)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("hub: %w", err)
	}
	s.sio = sio
	sio.Of("/").Use(g.tokenMiddleware)
	s.x.door = serveSocketIO(h, sio.Of("/"), g)
	s.x.door.audit = g.audit
	path := sc.Path
	if path == "" {
		path = "/socket.io/"
	}
	s.mux = http.NewServeMux()
	s.mux.Handle(path, sio)
	s.mux.Handle("/", WebHandler())
	s.routeWatch()
	return s, nil
}

// errOrigin refuses a browser from an origin not allowed.
var errOrigin = errors.New("hub: origin not allowed")

// checkOrigin allows requests without Origin, from the server's own
// origin, and from AllowedOrigins.
func (s *Server) checkOrigin(r *http.Request) error {
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	if u, err := url.Parse(o); err == nil && strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	if slices.Contains(s.cfg.AllowedOrigins, o) {
		return nil
	}
	s.log.Debug("origin refused", "origin", o, "host", r.Host, "remote", r.RemoteAddr)
	return errOrigin
}

// Hub returns the server's chat core.
func (s *Server) Hub() *Hub { return s.hub }

// SocketIO returns the server's Socket.IO server (for stats, or more
// namespaces).
func (s *Server) SocketIO() *socketio.Server { return s.sio }

// ServeHTTP serves the chat page and the Socket.IO endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Shutdown closes the Hub first (so clients are not told that everyone
// left), then stops new connections, closes every client's connection
// ("server shutting down"; clients reconnect later) and waits for them
// until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.Close()
	return s.sio.Shutdown(ctx)
}

// Close closes the Hub and every connection at once.
func (s *Server) Close() error {
	s.hub.Close()
	return s.sio.Close()
}

// Serve serves HTTP on ln until ctx is done, then shuts down: the
// Socket.IO clients are told, the HTTP server drains for at most
// ShutdownTimeout, and the Server is closed. It returns nil after a
// shutdown caused by ctx, or the error that stopped serving. Serve closes
// ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	local := ln.Addr().String()
	s.x.door.local.Store(&local)
	s.x.guard.audit.Info("bind", "door", "http", "local", local)
	ln = s.x.guard.Listener("http", ln)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
		s.Close()
		return fmt.Errorf("hub: serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	s.announceShutdown("server shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err = s.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// The drain deadline passed: the clients left were closed
		// without the rest of their queues; that is the deal.
		s.log.Warn("drain deadline passed; closed the clients left", "drain", s.cfg.ShutdownTimeout)
		err = nil
	}
	if herr := hs.Shutdown(sctx); herr != nil {
		hs.Close()
		if !errors.Is(herr, context.DeadlineExceeded) {
			err = errors.Join(err, herr)
		}
	}
	<-errc // http.ErrServerClosed
	if err != nil {
		return fmt.Errorf("hub: shutdown: %w", err)
	}
	return nil
}
