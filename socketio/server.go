package socketio

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/engineio"
)

// Config configures a Server. The zero value of each field means its
// default, which the field's doc names. NewServer copies the Config and
// never modifies it.
type Config struct {
	// Path the server answers on. Default "/socket.io/".
	Path string
	// Engine holds the Engine.IO settings (ping interval and timeout,
	// MaxPayload, transports, CORS, queue size, ...). Its Path and Logger
	// are replaced by this Config's. nil means engineio's defaults.
	Engine *engineio.Config
	// ConnectTimeout closes a connection that joined no namespace in time.
	// Default 45s.
	ConnectTimeout time.Duration
	// MaxAttachments bounds the binary attachments of one incoming packet.
	// Default 64.
	MaxAttachments int
	// MaxAttachmentBytes bounds the total size of one incoming packet's
	// binary attachments (each is also bounded by the engine's
	// MaxPayload). Default 8 MiB.
	MaxAttachmentBytes int
	// ConnectionStateRecovery, when not nil, turns on connection state
	// recovery as in Socket.IO 4.6.
	ConnectionStateRecovery *RecoveryConfig
	// CleanupEmptyChildNamespaces removes a dynamic namespace (created by
	// OfFunc or OfRegexp) when its last socket leaves, so that clients
	// cannot grow the server's namespace table. Default false: kept.
	CleanupEmptyChildNamespaces bool
	// NewAdapter builds the adapter of each namespace. nil means
	// NewMemoryAdapter.
	NewAdapter func(ns *Namespace) Adapter
	// Logger receives debug and error records. nil means silent.
	Logger *slog.Logger
}

// RecoveryConfig configures connection state recovery: a client that lost
// its connection and comes back within MaxDisconnectionDuration gets its
// socket id, rooms and data back, and the broadcasts it missed.
type RecoveryConfig struct {
	// MaxDisconnectionDuration is how long sessions and packets are kept.
	// Default 2 minutes.
	MaxDisconnectionDuration time.Duration
	// SkipMiddlewares skips the middlewares for a recovered socket.
	SkipMiddlewares bool
}

func (r *RecoveryConfig) maxDuration() time.Duration {
	if r.MaxDisconnectionDuration > 0 {
		return r.MaxDisconnectionDuration
	}
	return 2 * time.Minute
}

// Stats are a Server's counters.
type Stats struct {
	// Connections open now (Engine.IO sessions).
	Connections int
	// Sockets connected now, over all namespaces.
	Sockets int
	// BadPackets counts connections dropped for a malformed packet.
	BadPackets uint64
	// SlowConsumers counts connections closed because their queue was full
	// for a non-volatile packet.
	SlowConsumers uint64
	// VolatileDropped counts volatile packets dropped on a full queue.
	VolatileDropped uint64
	// ConnectErrors counts namespace connections refused (middleware or
	// invalid namespace).
	ConnectErrors uint64
	// Engine holds the Engine.IO server's counters (handshakes, upgrades,
	// packets and bytes, closes by reason).
	Engine engineio.Stats
}

// Server is a Socket.IO protocol 5 server on top of an Engine.IO 4 server.
// It implements http.Handler, answering under Config.Path.
//
// All methods are safe for concurrent use. Callers must call Close or
// Shutdown.
type Server struct {
	cfg    Config
	log    *slog.Logger
	engine engineServer

	mu      sync.Mutex
	nsps    map[string]*Namespace
	parents []*Namespace
	conns   map[*conn]struct{}
	closed  bool

	badPackets, slowConsumers, volatileDropped, connectErrors atomic.Uint64
}

var _ http.Handler = (*Server)(nil)

// engineServer is what the server needs of *engineio.Server.
type engineServer interface {
	http.Handler
	Close() error
	Shutdown(ctx context.Context) error
	Stats() engineio.Stats
}

// newServer builds the server without its engine (tests drive conns
// directly).
func newServer(cfg *Config) (*Server, error) {
	s := &Server{nsps: make(map[string]*Namespace), conns: make(map[*conn]struct{})}
	if cfg != nil {
		s.cfg = *cfg
	}
	if s.cfg.Path == "" {
		s.cfg.Path = "/socket.io/"
	}
	if s.cfg.ConnectTimeout == 0 {
		s.cfg.ConnectTimeout = 45 * time.Second
	}
	if s.cfg.ConnectTimeout < 0 || s.cfg.MaxAttachments < 0 || s.cfg.MaxAttachmentBytes < 0 {
		return nil, errors.New("socketio: negative ConnectTimeout, MaxAttachments or MaxAttachmentBytes")
	}
	if rc := s.cfg.ConnectionStateRecovery; rc != nil {
		c := *rc
		s.cfg.ConnectionStateRecovery = &c
	}
	s.log = s.cfg.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.Of("/")
	return s, nil
}

// ServeHTTP serves the Engine.IO endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.engine.ServeHTTP(w, r)
}

// Of returns the static namespace name, creating it. "" is "/"; a name
// without a leading slash gets one.
func (s *Server) Of(name string) *Namespace {
	name = normNsp(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ns := s.nsps[name]; ns != nil {
		return ns
	}
	ns := newNamespace(s, name, nil)
	s.nsps[name] = ns
	return ns
}

func normNsp(name string) string {
	if name == "" || name[0] != '/' {
		return "/" + name
	}
	return name
}

// OfFunc returns a parent namespace for dynamic namespaces: a client
// connecting to a namespace that does not exist yet gets it created when
// match(name, auth) returns true. Middlewares and connection handlers of
// the parent apply to every child, and emits on the parent reach the
// sockets of every child.
func (s *Server) OfFunc(match func(name string, auth map[string]any) bool) *Namespace {
	ns := newNamespace(s, "", match)
	s.mu.Lock()
	s.parents = append(s.parents, ns)
	s.mu.Unlock()
	return ns
}

// OfRegexp is OfFunc matching the namespace name against re.
func (s *Server) OfRegexp(re *regexp.Regexp) *Namespace {
	ns := s.OfFunc(func(name string, _ map[string]any) bool { return re.MatchString(name) })
	ns.name = re.String()
	return ns
}

// lookupNamespace returns the namespace name, creating a dynamic child when
// a parent matches, or nil.
func (s *Server) lookupNamespace(name string, auth map[string]any) *Namespace {
	s.mu.Lock()
	if ns := s.nsps[name]; ns != nil {
		s.mu.Unlock()
		return ns
	}
	parents := append([]*Namespace(nil), s.parents...)
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	for _, p := range parents {
		if !p.match(name, auth) {
			continue
		}
		s.mu.Lock()
		ns := s.nsps[name]
		if ns == nil {
			ns = newNamespace(s, name, nil)
			ns.parent = p
			s.nsps[name] = ns
			p.addChild(ns)
		}
		s.mu.Unlock()
		return ns
	}
	return nil
}

// maxMissed bounds the missed packets replayed to a recovered socket: half
// the engine's queue.
func (s *Server) maxMissed() int {
	q := 1024 // engineio's default MaxQueuedPackets
	if s.cfg.Engine != nil && s.cfg.Engine.MaxQueuedPackets > 0 {
		q = s.cfg.Engine.MaxQueuedPackets
	}
	return q / 2
}

// removeChild drops an empty dynamic namespace.
func (s *Server) removeChild(ns *Namespace) {
	s.mu.Lock()
	if s.nsps[ns.name] != ns {
		s.mu.Unlock()
		return
	}
	ns.mu.RLock()
	empty := len(ns.sockets) == 0
	ns.mu.RUnlock()
	if !empty {
		s.mu.Unlock()
		return
	}
	delete(s.nsps, ns.name)
	s.mu.Unlock()
	p := ns.parent
	p.mu.Lock()
	if i := slices.Index(p.children, ns); i >= 0 {
		p.children = slices.Delete(p.children, i, i+1)
	}
	p.mu.Unlock()
	if err := ns.adapter.Close(); err != nil {
		s.log.Error("close adapter", "nsp", ns.name, "err", err)
	}
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		BadPackets:      s.badPackets.Load(),
		SlowConsumers:   s.slowConsumers.Load(),
		VolatileDropped: s.volatileDropped.Load(),
		ConnectErrors:   s.connectErrors.Load(),
	}
	if s.engine != nil {
		st.Engine = s.engine.Stats()
	}
	s.mu.Lock()
	st.Connections = len(s.conns)
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, ns := range s.nsps {
		nsps = append(nsps, ns)
	}
	s.mu.Unlock()
	for _, ns := range nsps {
		st.Sockets += ns.Len()
	}
	return st
}

// Close closes every connection (disconnect reason "forced server close"
// is not used: sockets see the engine's reason) and waits for the engine's
// goroutines. It is idempotent.
func (s *Server) Close() error {
	if !s.markClosed() {
		return nil
	}
	var err error
	if s.engine != nil {
		err = s.engine.Close()
	}
	s.closeConns()
	s.closeAdapters()
	return err
}

// Shutdown stops new connections, closes every connection with reason
// "server shutting down" and waits, until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.markClosed() {
		return nil
	}
	var err error
	if s.engine != nil {
		err = s.engine.Shutdown(ctx)
	}
	s.closeConns()
	s.closeAdapters()
	return err
}

func (s *Server) markClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	return true
}

// closeConns closes the conns the engine did not (tests without engine).
func (s *Server) closeConns() {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.ec.Close()
	}
}

func (s *Server) closeAdapters() {
	s.mu.Lock()
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, ns := range s.nsps {
		nsps = append(nsps, ns)
	}
	s.mu.Unlock()
	for _, ns := range nsps {
		if err := ns.adapter.Close(); err != nil {
			s.log.Error("close adapter", "nsp", ns.name, "err", err)
		}
	}
}
