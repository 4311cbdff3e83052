package socketio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/socketio/internal/parser"
)

// Client defaults, used when the ClientConfig field is zero.
const (
	DefaultReconnectDelay      = time.Second
	DefaultReconnectDelayMax   = 5 * time.Second
	DefaultRandomizationFactor = 0.5
	DefaultConnectTimeout      = 20 * time.Second
	DefaultMaxBuffered         = 1024
)

// Client errors; test them with errors.Is.
var (
	// ErrBufferFull is returned by emits made while disconnected when
	// ClientConfig.MaxBuffered emits already wait for the connection.
	ErrBufferFull = errors.New("socketio: client send buffer full")
	// ErrClientClosed is returned by calls on a closed Manager or
	// ClientSocket.
	ErrClientClosed = errors.New("socketio: client closed")
	// ErrReconnectFailed is returned by Connect when the Manager gave up:
	// reconnection is off, or ReconnectAttempts were used up. It wraps
	// the last dial error.
	ErrReconnectFailed = errors.New("socketio: reconnection failed")
)

// Disconnect reasons given to ClientSocket.OnDisconnect, as named by
// socket.io-client.
const (
	ReasonIOServerDisconnect = "io server disconnect"
	ReasonIOClientDisconnect = "io client disconnect"
	ReasonPingTimeout        = "ping timeout"
	ReasonTransportClose     = "transport close"
	ReasonTransportError     = "transport error"
	ReasonParseError         = "parse error"
)

// ClientConfig configures a Manager (and Connect). A nil *ClientConfig,
// and the zero value of each field, means the default given in its doc.
type ClientConfig struct {
	// Path is the server's Socket.IO path; default "/socket.io/".
	Path string
	// Engine configures the Engine.IO transport: transports (default
	// polling then upgrade to WebSocket), headers, query, TLS, source
	// address, read limit. Its Path is replaced by Path.
	Engine *engineio.DialConfig
	// URLs are more server addresses, tried in turn after the one given
	// when a connection attempt fails.
	URLs []string
	// NoReconnect turns automatic reconnection off: the Manager stops at
	// the first failed attempt or lost connection (make a new one to
	// connect again).
	NoReconnect bool
	// ReconnectAttempts bounds consecutive failed attempts before giving
	// up; 0 means no limit.
	ReconnectAttempts int
	// ReconnectDelay is the first delay between attempts (default 1s),
	// doubled at each failure up to ReconnectDelayMax (default 5s).
	ReconnectDelay    time.Duration
	ReconnectDelayMax time.Duration
	// RandomizationFactor spreads each delay by ± this fraction (default
	// 0.5, as socket.io-client); negative means no jitter.
	RandomizationFactor float64
	// Timeout bounds each connection attempt (default 20s).
	Timeout time.Duration
	// MaxBuffered bounds, per socket, the emits waiting for a connection
	// (default DefaultMaxBuffered); more fail with ErrBufferFull.
	MaxBuffered int
	// MaxAttachments and MaxAttachmentBytes bound incoming binary packets
	// (defaults as the server's).
	MaxAttachments     int
	MaxAttachmentBytes int
	// Logger receives debug records; nil is silent.
	Logger *slog.Logger
}

func (c *ClientConfig) withDefaults() (ClientConfig, error) {
	var d ClientConfig
	if c != nil {
		d = *c
	}
	if d.Path == "" {
		d.Path = "/socket.io/"
	}
	var e engineio.DialConfig
	if d.Engine != nil {
		e = *d.Engine
	}
	e.Path = d.Path
	d.Engine = &e
	if d.MaxBuffered == 0 {
		d.MaxBuffered = DefaultMaxBuffered
	}
	if e.MaxQueuedPackets == 0 && d.MaxBuffered > 0 {
		// room to flush a full buffer of packets with attachments
		e.MaxQueuedPackets = max(engineio.DefaultClientMaxQueued, 4*d.MaxBuffered)
	}
	if d.ReconnectDelay == 0 {
		d.ReconnectDelay = DefaultReconnectDelay
	}
	if d.ReconnectDelayMax == 0 {
		d.ReconnectDelayMax = DefaultReconnectDelayMax
	}
	if d.RandomizationFactor == 0 {
		d.RandomizationFactor = DefaultRandomizationFactor
	}
	if d.RandomizationFactor < 0 {
		d.RandomizationFactor = 0
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultConnectTimeout
	}
	if d.ReconnectAttempts < 0 || d.ReconnectDelay < 0 || d.ReconnectDelayMax < 0 || d.Timeout < 0 ||
		d.MaxBuffered < 0 || d.MaxAttachments < 0 || d.MaxAttachmentBytes < 0 || d.RandomizationFactor > 1 {
		return d, errors.New("socketio: invalid ClientConfig: negative limit or RandomizationFactor over 1")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d, nil
}

// Backoff returns the delay before reconnection attempt n (0-based) as
// socket.io-client computes it: base·2ⁿ, spread by ±factor at random,
// capped at max.
func Backoff(n int, base, max time.Duration, factor float64) time.Duration {
	ms := float64(base) * math.Pow(2, float64(min(n, 62)))
	if factor > 0 {
		r := rand.Float64()
		dev := math.Floor(r * factor * ms)
		if int(math.Floor(r*10))&1 == 0 {
			ms -= dev
		} else {
			ms += dev
		}
	}
	if ms > float64(max) {
		return max
	}
	return time.Duration(ms)
}

// Manager is one Engine.IO connection to a server, multiplexing the
// Sockets of several namespaces, as socket.io-client's Manager. It
// connects at once and reconnects with backoff until closed.
//
// Handlers of all its sockets (OnConnect, On, OnAny, OnDisconnect,
// OnConnectError) run one at a time, in order, on the Manager's goroutine.
// A slow handler delays every socket of the Manager; waiting in a handler
// for an acknowledgement from the same Manager (EmitWithAck) can only end
// by its ctx, so call EmitWithAck from another goroutine.
type Manager struct {
	cfg  ClientConfig
	urls []string

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	goid   atomic.Uint64

	mu      sync.Mutex
	sockets map[string]*ClientSocket
	conn    *engineio.ClientConn
	failed  error
	final   error // why the Manager stopped: ErrClientClosed or ErrReconnectFailed

	reconnects, badPackets, failedAttempts atomic.Uint64
}

// NewManager starts a Manager for the server at rawURL (http, https, ws or
// wss; the path is ignored, use Socket for namespaces). It does not block:
// the connection is made in the background.
func NewManager(rawURL string, cfg *ClientConfig) (*Manager, error) {
	d, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	urls := append([]string{rawURL}, d.URLs...)
	for _, u := range urls {
		if _, err := url.Parse(u); err != nil {
			return nil, fmt.Errorf("socketio: %w", err)
		}
	}
	m := &Manager{cfg: d, urls: urls, done: make(chan struct{}), sockets: make(map[string]*ClientSocket)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	go m.run()
	return m, nil
}

// Socket returns the socket of namespace nsp ("" or "/" for the main one),
// creating it on first use or after the previous one was closed; cfg
// applies then (nil: no auth). Call Connect on it.
func (m *Manager) Socket(nsp string, cfg *SocketConfig) *ClientSocket {
	nsp = normNsp(nsp)
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sockets[nsp]; ok {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if !closed || m.final != nil {
			return s
		}
	}
	s := &ClientSocket{m: m, nsp: nsp, handlers: make(map[string]EventHandler), acks: make(map[uint64]*clientAck), state: make(chan struct{})}
	if cfg != nil {
		s.cfg = *cfg
	}
	m.sockets[nsp] = s
	return s
}

// Transport returns the transport of the current connection, "" while
// disconnected.
func (m *Manager) Transport() string {
	m.mu.Lock()
	c := m.conn
	m.mu.Unlock()
	if c == nil {
		return ""
	}
	return c.Transport()
}

// ClientStats are a Manager's counters.
type ClientStats struct {
	// Reconnects counts connections opened after the first one.
	Reconnects uint64
	// BadPackets counts malformed packets from the server (each one drops
	// the connection).
	BadPackets uint64
	// FailedAttempts counts connection attempts that failed.
	FailedAttempts uint64
}

// Stats returns the Manager's counters.
func (m *Manager) Stats() ClientStats {
	return ClientStats{Reconnects: m.reconnects.Load(), BadPackets: m.badPackets.Load(), FailedAttempts: m.failedAttempts.Load()}
}

// Close closes the connection, stops reconnecting and waits for the
// Manager's goroutine (unless called from a handler, which returns at once;
// the goroutine ends when the handler returns). Sockets get
// OnDisconnect("io client disconnect").
func (m *Manager) Close() error {
	m.cancel()
	if m.goid.Load() != curGoid() {
		<-m.done
	}
	return nil
}

// curGoid returns the current goroutine's id, parsed from runtime.Stack; it
// only serves Close to know whether it runs on the Manager's goroutine.
func curGoid() uint64 {
	var b [64]byte
	n := runtime.Stack(b[:], false)
	s := b[len("goroutine "):n]
	var id uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}

func (m *Manager) run() {
	defer close(m.done)
	m.goid.Store(curGoid())
	defer m.closeAll()
	attempt, idx, opened := 0, 0, false
	for m.ctx.Err() == nil {
		if attempt > 0 || opened {
			if m.cfg.NoReconnect || (m.cfg.ReconnectAttempts > 0 && attempt > m.cfg.ReconnectAttempts) {
				m.giveUp()
				return
			}
			d := Backoff(max(attempt-1, 0), m.cfg.ReconnectDelay, m.cfg.ReconnectDelayMax, m.cfg.RandomizationFactor)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-m.ctx.Done():
				t.Stop()
				return
			}
		}
		u := m.urls[idx]
		dctx, cancel := context.WithTimeout(m.ctx, m.cfg.Timeout)
		conn, err := engineio.Dial(dctx, u, m.cfg.Engine)
		cancel()
		if err != nil {
			if m.ctx.Err() != nil {
				return
			}
			m.cfg.Logger.Debug("socketio client: connect failed", "url", u, "error", err)
			idx = (idx + 1) % len(m.urls) // the next address, in turn
			attempt++
			m.failedAttempts.Add(1)
			m.mu.Lock()
			m.failed = err
			m.mu.Unlock()
			for _, s := range m.activeSockets() {
				s.emitConnectError(fmt.Errorf("socketio: connect %s: %w", u, err))
			}
			continue
		}
		if opened {
			m.reconnects.Add(1)
		}
		opened, attempt = true, 0
		reason := m.serve(conn)
		conn.Close()
		m.mu.Lock()
		m.conn = nil
		socks := m.allSockets()
		m.mu.Unlock()
		for _, s := range socks {
			s.onConnLost(reason)
		}
		attempt = 1
	}
}

// giveUp fails the sockets waiting in Connect.
func (m *Manager) giveUp() {
	m.mu.Lock()
	err := fmt.Errorf("%w: %w", ErrReconnectFailed, m.failed)
	if m.failed == nil {
		err = ErrReconnectFailed
	}
	m.final = err
	socks := m.allSockets()
	m.mu.Unlock()
	for _, s := range socks {
		s.setFailed(err)
	}
}

func (m *Manager) closeAll() {
	m.mu.Lock()
	if m.final == nil {
		m.final = ErrClientClosed
	}
	socks := m.allSockets()
	final := m.final
	m.mu.Unlock()
	for _, s := range socks {
		s.setFailed(final)
		s.mu.Lock()
		s.closed, s.buf = true, nil
		s.mu.Unlock()
		s.failAcks(ErrClientClosed)
	}
}

func (m *Manager) allSockets() []*ClientSocket {
	out := make([]*ClientSocket, 0, len(m.sockets))
	for _, s := range m.sockets {
		out = append(out, s)
	}
	return out
}

func (m *Manager) activeSockets() []*ClientSocket {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*ClientSocket
	for _, s := range m.sockets {
		if s.active {
			out = append(out, s)
		}
	}
	return out
}

// serve runs one connection: sends CONNECT for the active sockets, then
// dispatches packets until the connection ends; it returns the reason.
func (m *Manager) serve(conn *engineio.ClientConn) string {
	m.mu.Lock()
	m.conn = conn
	var socks []*ClientSocket
	for _, s := range m.sockets {
		if s.active {
			socks = append(socks, s)
		}
	}
	m.mu.Unlock()
	for _, s := range socks {
		s.sendConnect(conn)
	}
	dec := parser.Decoder{MaxAttachments: m.cfg.MaxAttachments, MaxAttachmentBytes: m.cfg.MaxAttachmentBytes}
	for {
		msg, err := conn.Recv(m.ctx)
		if err != nil {
			switch {
			case m.ctx.Err() != nil:
				return ReasonIOClientDisconnect
			case errors.Is(err, engineio.ErrPingTimeout):
				return ReasonPingTimeout
			case errors.Is(err, engineio.ErrRemoteClosed):
				return ReasonTransportClose
			case errors.Is(err, engineio.ErrParse), errors.Is(err, engineio.ErrPayloadTooLarge):
				m.badPackets.Add(1)
				return ReasonParseError
			}
			return ReasonTransportError
		}
		var p *parser.Packet
		if msg.Binary {
			p, err = dec.Binary(msg.Data)
		} else {
			p, err = dec.Text(msg.Data)
		}
		if err != nil {
			m.badPackets.Add(1)
			m.cfg.Logger.Debug("socketio client: bad packet", "error", err)
			return ReasonParseError
		}
		if p == nil {
			continue
		}
		m.mu.Lock()
		s := m.sockets[normNsp(p.Namespace)]
		m.mu.Unlock()
		if s != nil {
			s.onPacket(p)
		}
	}
}

// SocketConfig configures one namespace's socket.
type SocketConfig struct {
	// Auth is sent in the CONNECT packet (the server's Handshake.Auth).
	Auth map[string]any
	// AuthFunc, when set, is called before each CONNECT instead of
	// using Auth.
	AuthFunc func() map[string]any
}

type clientAck struct {
	fn   func(args []any, err error) // called once
	sent bool
}

type ackResult struct {
	args []any
	err  error
}

type buffered struct {
	msgs []engineio.Message
	ack  *clientAck
}

// ClientSocket is a client's socket in one namespace, as socket.io-client's
// Socket. All methods are safe for concurrent use; handlers run on the
// Manager's goroutine (see Manager).
//
// Emits made while disconnected are buffered (at most
// ClientConfig.MaxBuffered, then ErrBufferFull) and sent in order as soon
// as the socket is connected again; volatile emits are dropped instead.
// Delivery is at most once: packets already handed to a connection that
// then fails are not sent again (their EmitWithAck fails with
// ErrDisconnected), as with socket.io-client without retries.
type ClientSocket struct {
	m   *Manager
	nsp string
	cfg SocketConfig

	owner bool // Close closes the Manager too (made by Connect)

	active bool // wants a connection; guarded by m.mu

	mu         sync.Mutex
	conn       *engineio.ClientConn // set while connected
	id         string
	pid        string
	offset     string
	recovered  bool
	err        error // why Connect must fail (connect error, give up, close)
	closed     bool
	state      chan struct{} // closed and replaced at each state change
	buf        []buffered
	acks       map[uint64]*clientAck
	nextID     uint64
	handlers   map[string]EventHandler
	anys       []AnyHandler
	outAnys    []AnyHandler
	onConnect  []func()
	onDisc     []func(reason string)
	onConnErr  []func(err error)
	dropped    uint64
	bufferedOK uint64
}

// Connect dials the server at rawURL, whose path names the namespace
// ("http://host:port/chat"), on a new Manager, and waits until the socket
// is connected. The ctx covers this wait; once connected, its expiry does
// not affect the socket. Close on the socket closes its Manager. A refusal
// by the server's middleware is a *ConnectError (errors.As) with its
// message and data.
func Connect(ctx context.Context, rawURL string, cfg *ClientConfig, scfg *SocketConfig) (*ClientSocket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("socketio: %w", err)
	}
	nsp := u.Path
	u.Path, u.RawPath = "", ""
	m, err := NewManager(u.String(), cfg)
	if err != nil {
		return nil, err
	}
	s := m.Socket(nsp, scfg)
	s.owner = true
	if err := s.Connect(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return s, nil
}

// Manager returns the socket's Manager.
func (s *ClientSocket) Manager() *Manager { return s.m }

// Namespace returns the socket's namespace.
func (s *ClientSocket) Namespace() string { return s.nsp }

// ID returns the socket id the server gave at the last connect.
func (s *ClientSocket) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Connected reports whether the socket is connected now.
func (s *ClientSocket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// Recovered reports whether the last connect restored the previous
// session (connection state recovery): same id, rooms, and the missed
// packets delivered.
func (s *ClientSocket) Recovered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recovered
}

// Buffered returns the number of emits waiting for a connection.
func (s *ClientSocket) Buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf)
}

// On sets the handler of event (replacing any). ack is non-nil when the
// server asked for an acknowledgement.
func (s *ClientSocket) On(event string, h EventHandler) {
	s.mu.Lock()
	s.handlers[event] = h
	s.mu.Unlock()
}

// Off removes the handler of event.
func (s *ClientSocket) Off(event string) {
	s.mu.Lock()
	delete(s.handlers, event)
	s.mu.Unlock()
}

// OnAny adds a catch-all listener, called for every incoming event before
// its own handler.
func (s *ClientSocket) OnAny(h AnyHandler) {
	s.mu.Lock()
	s.anys = append(s.anys, h)
	s.mu.Unlock()
}

// OnAnyOutgoing adds a listener called for every event emitted.
func (s *ClientSocket) OnAnyOutgoing(h AnyHandler) {
	s.mu.Lock()
	s.outAnys = append(s.outAnys, h)
	s.mu.Unlock()
}

// OnConnect adds a handler called at each connect (and reconnect).
func (s *ClientSocket) OnConnect(fn func()) {
	s.mu.Lock()
	s.onConnect = append(s.onConnect, fn)
	s.mu.Unlock()
}

// OnDisconnect adds a handler called with the reason each time the socket
// disconnects (ReasonTransportClose, ReasonPingTimeout, ...).
func (s *ClientSocket) OnDisconnect(fn func(reason string)) {
	s.mu.Lock()
	s.onDisc = append(s.onDisc, fn)
	s.mu.Unlock()
}

// OnConnectError adds a handler for failed connects: a *ConnectError when
// the server refused the namespace (the socket then stops trying), or the
// dial error of a failed attempt (the Manager keeps trying).
func (s *ClientSocket) OnConnectError(fn func(err error)) {
	s.mu.Lock()
	s.onConnErr = append(s.onConnErr, fn)
	s.mu.Unlock()
}

// Connect asks for the namespace and waits until the socket is connected,
// the server refused it (*ConnectError), the Manager gave up
// (ErrReconnectFailed) or was closed, or ctx ended. When ctx ends first
// the socket goes on trying in the background; Close stops it.
func (s *ClientSocket) Connect(ctx context.Context) error {
	m := s.m
	select {
	case <-m.done:
		m.mu.Lock()
		err := m.final
		m.mu.Unlock()
		return err
	default:
	}
	m.mu.Lock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		m.mu.Unlock()
		return ErrClientClosed
	}
	var conn *engineio.ClientConn
	if !s.active {
		s.active = true
		s.err = nil
		conn = m.conn
	}
	s.mu.Unlock()
	m.mu.Unlock()
	if conn != nil {
		s.sendConnect(conn)
	}
	for {
		s.mu.Lock()
		connected, err, ch := s.conn != nil, s.err, s.state
		s.mu.Unlock()
		if connected {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-m.done:
			m.mu.Lock()
			err := m.final
			m.mu.Unlock()
			return err
		case <-ctx.Done():
			return fmt.Errorf("socketio: connect: %w", ctx.Err())
		}
	}
}

// Close disconnects the socket from its namespace (a DISCONNECT packet)
// and stops it reconnecting; OnDisconnect handlers run on the calling
// goroutine with "io client disconnect". Buffered emits are dropped. A
// socket made by Connect also closes its Manager.
func (s *ClientSocket) Close() error {
	m := s.m
	m.mu.Lock()
	s.active = false
	m.mu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conn := s.conn
	s.err = ErrClientClosed
	s.buf = nil
	s.mu.Unlock()
	s.failAcks(ErrClientClosed)
	if conn != nil {
		if msgs, err := encodePacket(&Packet{Type: PacketDisconnect, Namespace: s.nsp}); err == nil {
			_ = conn.SendBatch(msgs)
		}
		s.onConnLost(ReasonIOClientDisconnect)
	}
	s.notify()
	if s.owner {
		return m.Close()
	}
	return nil
}

// notify wakes Connect waiters.
func (s *ClientSocket) notify() {
	s.mu.Lock()
	close(s.state)
	s.state = make(chan struct{})
	s.mu.Unlock()
}

// Emit sends an event with args (any JSON values; []byte anywhere travel as
// binary attachments). While disconnected it is buffered; ErrBufferFull
// when the buffer is full. The arguments are encoded at once.
func (s *ClientSocket) Emit(event string, args ...any) error {
	return s.emit(event, args, nil, false)
}

// EmitVolatile sends an event that may be lost: it is dropped (nil error)
// while disconnected or when the connection's queue is full.
func (s *ClientSocket) EmitVolatile(event string, args ...any) error {
	return s.emit(event, args, nil, true)
}

// EmitWithAck sends an event and waits for the server's acknowledgement
// until ctx is done (then the error wraps ErrAckTimeout on a deadline). A
// buffered emit waits for the connection; an emit already sent fails with
// ErrDisconnected if the connection is lost before the acknowledgement.
func (s *ClientSocket) EmitWithAck(ctx context.Context, event string, args ...any) ([]any, error) {
	ch := make(chan ackResult, 1)
	a := &clientAck{fn: func(args []any, err error) { ch <- ackResult{args, err} }}
	if err := s.emit(event, args, a, false); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		s.mu.Lock()
		for id, x := range s.acks {
			if x == a {
				delete(s.acks, id)
				break
			}
		}
		s.mu.Unlock()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %w", ErrAckTimeout, ctx.Err())
		}
		return nil, ctx.Err()
	}
}

// EmitWithAckFunc sends an event and returns at once; fn is called with
// the server's acknowledgement, on the Manager's goroutine, or with an
// error: ErrDisconnected when the connection was lost after the emit went
// out, ErrClientClosed when the socket or Manager closed first. Like Emit,
// it is buffered while disconnected. fn is never called if the server
// never answers: bound the wait yourself if needed (EmitWithAck does).
func (s *ClientSocket) EmitWithAckFunc(fn func(args []any, err error), event string, args ...any) error {
	var once sync.Once
	return s.emit(event, args, &clientAck{fn: func(a []any, err error) { once.Do(func() { fn(a, err) }) }}, false)
}

func (s *ClientSocket) emit(event string, args []any, a *clientAck, volatile bool) error {
	data, err := eventData(event, args)
	if err != nil {
		return err
	}
	p := &Packet{Type: PacketEvent, Namespace: s.nsp, Data: data}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClientClosed
	}
	if a != nil {
		p.ID, p.HasID = s.nextID, true
		s.nextID++
	}
	msgs, err := encodePacket(p)
	if err != nil {
		return err
	}
	if len(s.outAnys) > 0 {
		outs := s.outAnys
		s.mu.Unlock()
		for _, h := range outs {
			h(event, args)
		}
		s.mu.Lock()
		if s.closed {
			return ErrClientClosed
		}
	}
	if s.conn != nil {
		err := s.conn.SendBatch(msgs)
		if err == nil {
			if a != nil {
				a.sent = true
				s.acks[p.ID] = a
			}
			return nil
		}
		if volatile {
			s.dropped++
			return nil
		}
		if !errors.Is(err, engineio.ErrClosed) && !errors.Is(err, engineio.ErrPingTimeout) &&
			!errors.Is(err, engineio.ErrTransport) && !errors.Is(err, engineio.ErrParse) && !errors.Is(err, engineio.ErrPayloadTooLarge) {
			return fmt.Errorf("socketio: emit: %w", err)
		}
		// the connection is ending: buffer for the next one
	}
	if volatile {
		s.dropped++
		return nil
	}
	if len(s.buf) >= s.m.cfg.MaxBuffered {
		return fmt.Errorf("%w (%d emits)", ErrBufferFull, len(s.buf))
	}
	if a != nil {
		s.acks[p.ID] = a
	}
	s.buf = append(s.buf, buffered{msgs: msgs, ack: a})
	return nil
}

// sendConnect sends the CONNECT packet with the auth (and the recovery
// pid and offset when known).
func (s *ClientSocket) sendConnect(conn *engineio.ClientConn) {
	var auth map[string]any
	if s.cfg.AuthFunc != nil {
		auth = s.cfg.AuthFunc()
	} else {
		auth = s.cfg.Auth
	}
	data := make(map[string]any, len(auth)+2)
	for k, v := range auth {
		data[k] = v
	}
	s.mu.Lock()
	if s.pid != "" {
		data["pid"] = s.pid
		if s.offset != "" {
			data["offset"] = s.offset
		}
	}
	s.mu.Unlock()
	var d any
	if len(data) > 0 {
		d = data
	}
	msgs, err := encodePacket(&Packet{Type: PacketConnect, Namespace: s.nsp, Data: d})
	if err != nil {
		s.emitConnectError(fmt.Errorf("socketio: encode auth: %w", err))
		return
	}
	_ = conn.SendBatch(msgs)
}

func (s *ClientSocket) emitConnectError(err error) {
	s.mu.Lock()
	hs := s.onConnErr
	s.mu.Unlock()
	for _, h := range hs {
		h(err)
	}
}

// failAcks ends every pending EmitWithAck with err.
func (s *ClientSocket) failAcks(err error) {
	s.mu.Lock()
	acks := s.acks
	s.acks = make(map[uint64]*clientAck)
	s.mu.Unlock()
	for _, a := range acks {
		a.fn(nil, err)
	}
}

func (s *ClientSocket) setFailed(err error) {
	s.mu.Lock()
	if s.err == nil && s.conn == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.notify()
}

// onConnLost marks the socket disconnected, fails the acks of sent emits
// and runs the disconnect handlers.
func (s *ClientSocket) onConnLost(reason string) {
	s.mu.Lock()
	if s.conn == nil {
		s.mu.Unlock()
		return
	}
	s.conn = nil
	var failed []*clientAck
	for id, a := range s.acks {
		if a.sent {
			failed = append(failed, a)
			delete(s.acks, id)
		}
	}
	hs := s.onDisc
	s.mu.Unlock()
	for _, a := range failed {
		a.fn(nil, ErrDisconnected)
	}
	s.notify()
	for _, h := range hs {
		h(reason)
	}
}

// onPacket handles a packet for this namespace on the Manager's goroutine.
func (s *ClientSocket) onPacket(p *parser.Packet) {
	switch p.Type {
	case parser.Connect:
		s.onConnectPacket(p)
	case parser.ConnectError:
		ce := &ConnectError{}
		switch d := p.Data.(type) {
		case string:
			ce.Message = d
		case map[string]any:
			ce.Message, _ = d["message"].(string)
			ce.Data = d["data"]
		}
		s.m.mu.Lock()
		s.active = false
		s.m.mu.Unlock()
		s.mu.Lock()
		s.err = ce
		s.mu.Unlock()
		s.notify()
		s.emitConnectError(ce)
	case parser.Event, parser.BinaryEvent:
		s.onEvent(p)
	case parser.Ack, parser.BinaryAck:
		args, _ := p.Data.([]any)
		s.mu.Lock()
		a := s.acks[p.ID]
		delete(s.acks, p.ID)
		s.mu.Unlock()
		if a != nil {
			a.fn(args, nil)
		}
	case parser.Disconnect:
		s.m.mu.Lock()
		s.active = false
		s.m.mu.Unlock()
		s.onConnLost(ReasonIOServerDisconnect)
	}
}

func (s *ClientSocket) onConnectPacket(p *parser.Packet) {
	d, _ := p.Data.(map[string]any)
	sid, _ := d["sid"].(string)
	pid, _ := d["pid"].(string)
	s.m.mu.Lock()
	conn := s.m.conn
	active := s.active
	s.m.mu.Unlock()
	if conn == nil || !active {
		return
	}
	s.mu.Lock()
	if s.conn != nil {
		s.mu.Unlock()
		return
	}
	s.id = sid
	s.recovered = pid != "" && pid == s.pid
	s.pid = pid
	if !s.recovered {
		s.offset = ""
	}
	s.err = nil
	// Flush the buffer before any new emit can go out directly.
	for i, b := range s.buf {
		if err := conn.SendBatch(b.msgs); err != nil {
			s.buf = s.buf[i:]
			s.mu.Unlock()
			s.m.cfg.Logger.Debug("socketio client: flush failed", "error", err)
			conn.Close()
			return
		}
		if b.ack != nil {
			b.ack.sent = true
		}
	}
	s.bufferedOK += uint64(len(s.buf))
	s.buf = nil
	s.conn = conn
	hs := s.onConnect
	s.mu.Unlock()
	s.notify()
	for _, h := range hs {
		h()
	}
}

func (s *ClientSocket) onEvent(p *parser.Packet) {
	data := p.Data.([]any) // validated by the parser: non-empty
	var event string
	switch v := data[0].(type) {
	case string:
		event = v
	case float64:
		event = strconv.FormatFloat(v, 'f', -1, 64)
	}
	args := data[1:]
	s.mu.Lock()
	if s.pid != "" && len(args) > 0 {
		if off, ok := args[len(args)-1].(string); ok {
			s.offset = off
		}
	}
	h := s.handlers[event]
	anys := s.anys
	conn := s.conn
	s.mu.Unlock()
	var ack AckFunc
	if p.HasID {
		id := p.ID
		var sent atomic.Bool
		ack = func(a ...any) error {
			if !sent.CompareAndSwap(false, true) {
				return nil
			}
			if a == nil {
				a = []any{}
			}
			msgs, err := encodePacket(&Packet{Type: PacketAck, Namespace: s.nsp, ID: id, HasID: true, Data: a})
			if err != nil {
				return err
			}
			s.mu.Lock()
			cur := s.conn
			s.mu.Unlock()
			if cur == nil || cur != conn {
				return ErrDisconnected
			}
			return cur.SendBatch(msgs)
		}
	}
	for _, a := range anys {
		a(event, args)
	}
	if h != nil {
		h(args, ack)
	}
}
