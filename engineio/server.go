package engineio

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/engineio/internal/packet"
	"github.com/switchboard/switchboard/engineio/internal/wsframe"
)

// Server is an Engine.IO protocol 4 server. It implements http.Handler.
// All methods are safe for concurrent use. Callers must call Close (or
// Shutdown).
type Server struct {
	cfg       Config
	onConnect func(*Socket)
	log       *slog.Logger

	mu       sync.RWMutex
	sockets  map[string]*Socket
	closed   bool // no new requests nor goroutines
	draining bool // no new sessions
	wg       sync.WaitGroup

	stats  serverStats
	poller *poller
	hb     heartbeats
	epoch  time.Time    // for clock
	open   atomic.Int64 // open sockets (srv.sockets also holds lingering ones)

	// testHook, when set, runs at points tests wait for: "poll-wait" as a
	// GET starts waiting for data, "post-read" as a POST starts reading.
	testHook atomic.Pointer[func(event string, s *Socket)]
}

var _ http.Handler = (*Server)(nil)

// NewServer returns a Server configured by cfg (nil means defaults).
//
// onConnect is called once per new socket, before any of its messages is
// delivered and before the handshake response goes out. Handlers
// (OnMessage, OnClose) must be installed inside onConnect; they run
// synchronously on the engine's goroutines, in order, and must not block.
// Messages sent inside onConnect follow the open packet.
func NewServer(cfg *Config, onConnect func(*Socket)) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	srv := &Server{
		cfg:       c,
		onConnect: onConnect,
		log:       c.Logger,
		sockets:   make(map[string]*Socket),
		epoch:     time.Now(),
	}
	srv.poller = newPoller(srv)
	srv.hb.srv = srv
	return srv, nil
}

// clock returns the monotonic time since the server was made.
func (srv *Server) clock() time.Duration { return time.Since(srv.epoch) }

// Count returns the number of open sockets.
func (srv *Server) Count() int { return int(srv.open.Load()) }

// lingerOK reports whether closed polling sessions may wait for their
// client's last GET (not once the server is closing).
func (srv *Server) lingerOK() bool {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return !srv.closed
}

// Stats returns the server's counters.
func (srv *Server) Stats() Stats { return srv.stats.snapshot(srv.Count()) }

// Socket returns the open socket with session id sid, or nil.
func (srv *Server) Socket(sid string) *Socket {
	s := srv.lookup(sid)
	if s == nil || s.isClosed() {
		return nil
	}
	return s
}

// lookup returns the session sid, open or lingering.
func (srv *Server) lookup(sid string) *Socket {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return srv.sockets[sid]
}

// Close closes every socket at once (reason "server shutting down"),
// refuses new requests, and waits for every goroutine the server started.
// It is idempotent. It must not be called from a handler (onConnect,
// OnMessage, OnClose), whose goroutine it would wait for: call it from
// another goroutine.
func (srv *Server) Close() error {
	srv.closeAll(false)
	srv.hb.stop()
	srv.wg.Wait()
	srv.poller.stop()
	return nil
}

// Shutdown, like Close, must not be called from a handler. It stops new
// sessions, closes every socket with reason "server
// shutting down" after flushing what is queued to it, and waits for the
// server's goroutines until ctx is done; then it closes what is left as
// Close does and returns ctx's error.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.draining = true
	list := srv.listLocked()
	srv.mu.Unlock()
	for _, s := range list {
		s.close(ReasonServerShutdown, ErrClosed, true, packet.Close)
	}
	srv.mu.Lock()
	srv.closed = true // flushers are started: refuse anything new
	srv.mu.Unlock()
	done := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		srv.closeAll(false)
		srv.hb.stop()
		srv.poller.stop()
		return nil
	case <-ctx.Done():
		for _, s := range list {
			s.kill()
		}
		srv.closeAll(false)
		srv.hb.stop()
		<-done
		srv.poller.stop()
		return ctx.Err()
	}
}

func (srv *Server) listLocked() []*Socket {
	list := make([]*Socket, 0, len(srv.sockets))
	for _, s := range srv.sockets {
		list = append(list, s)
	}
	return list
}

func (srv *Server) closeAll(graceful bool) {
	srv.mu.Lock()
	srv.closed = true
	srv.draining = true
	list := srv.listLocked()
	srv.mu.Unlock()
	for _, s := range list {
		s.close(ReasonServerShutdown, ErrClosed, graceful, packet.Close)
		s.endLinger()
	}
}

// goTracked runs fn on a new goroutine that Close waits for, unless the
// server is closed.
func (srv *Server) goTracked(fn func()) bool {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	if srv.closed {
		return false
	}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		fn()
	}()
	return true
}

// enter registers a running request handler; false once closed.
func (srv *Server) enter() bool {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	if srv.closed {
		return false
	}
	srv.wg.Add(1)
	return true
}

func (srv *Server) hook(event string, s *Socket) {
	if h := srv.testHook.Load(); h != nil {
		(*h)(event, s)
	}
}

func (srv *Server) remove(s *Socket) {
	srv.mu.Lock()
	if id := s.ID(); srv.sockets[id] == s {
		delete(srv.sockets, id)
	}
	srv.mu.Unlock()
}

// ServeHTTP answers Engine.IO requests on the configured path.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p != srv.cfg.Path && p != srv.cfg.Path[:len(srv.cfg.Path)-1] {
		http.NotFound(w, r)
		return
	}
	if !srv.enter() {
		srv.refuseStatus(w, http.StatusServiceUnavailable, CodeBadRequest, "Server shutting down")
		return
	}
	defer srv.wg.Done()

	if srv.cfg.CORS != nil {
		if srv.setCORS(w, r) {
			return
		}
	}
	q := r.URL.Query()
	transport := q.Get("transport")
	if !srv.cfg.allows(transport) {
		srv.refuse(w, CodeUnknownTransport, "")
		return
	}
	isWS := transport == transportWebSocket
	if isWS && !isUpgrade(r) {
		srv.refuse(w, CodeBadRequest, "")
		return
	}
	if sid := q.Get("sid"); sid != "" {
		s := srv.lookup(sid)
		if s == nil {
			srv.refuse(w, CodeUnknownSID, "")
			return
		}
		if !isWS && s.pongOverdue() {
			srv.refuse(w, CodeUnknownSID, "")
			return
		}
		switch {
		case isWS:
			srv.handleUpgrade(s, w, r)
		case r.Method == http.MethodGet:
			s.handlePoll(w, r)
		case r.Method == http.MethodPost:
			s.handlePost(w, r)
		default:
			srv.refuse(w, CodeBadRequest, "")
		}
		return
	}
	if r.Method != http.MethodGet {
		srv.refuse(w, CodeBadHandshakeMethod, "")
		return
	}
	if q.Get("EIO") != "4" {
		srv.refuse(w, CodeUnsupportedVersion, "")
		return
	}
	if !srv.checkOrigin(r) {
		srv.refuse(w, CodeForbidden, "")
		return
	}
	if srv.cfg.AllowRequest != nil {
		if err := srv.cfg.AllowRequest(r); err != nil {
			srv.refuse(w, CodeForbidden, err.Error())
			return
		}
	}
	srv.mu.RLock()
	draining := srv.draining
	srv.mu.RUnlock()
	if draining {
		srv.refuseStatus(w, http.StatusServiceUnavailable, CodeBadRequest, "Server shutting down")
		return
	}
	if srv.open.Load() >= int64(srv.cfg.MaxSessions) {
		srv.refuseStatus(w, http.StatusServiceUnavailable, CodeBadRequest, "Server unavailable")
		return
	}
	if isWS {
		srv.handshakeWS(w, r)
	} else {
		srv.handshakePolling(w, r)
	}
}

func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && headerHasToken(r.Header, "Upgrade", "websocket")
}

// refuse answers with the protocol's JSON error: 400, or 403 for code 4.
func (srv *Server) refuse(w http.ResponseWriter, code int, msg string) {
	status := http.StatusBadRequest
	if code == CodeForbidden {
		status = http.StatusForbidden
	}
	srv.refuseStatus(w, status, code, msg)
}

func (srv *Server) refuseStatus(w http.ResponseWriter, status, code int, msg string) {
	srv.stats.refused.Add(1)
	srv.stats.refusedByCode[code].Add(1)
	if msg == "" {
		msg = codeMessages[code]
	}
	b := make([]byte, 0, 64)
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = strconv.AppendQuote(b, msg)
	b = append(b, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// newSocket creates and registers a socket for handshake request r; nil
// once the server is shutting down or at MaxSessions.
func (srv *Server) newSocket(r *http.Request, transport string) *Socket {
	var raw [15]byte
	_, _ = rand.Read(raw[:])
	local := ""
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = a.String()
	}
	s := &Socket{
		srv:  srv,
		info: newReqInfo(&raw, local, r),
		tls:  r.TLS,
		onWS: transport == transportWebSocket,
	}
	if transport == transportPolling {
		s.poll = make(chan struct{}, 1)
	}
	srv.mu.Lock()
	if srv.draining || srv.open.Load() >= int64(srv.cfg.MaxSessions) {
		srv.mu.Unlock()
		return nil
	}
	srv.sockets[s.ID()] = s
	srv.open.Add(1)
	srv.mu.Unlock()
	srv.stats.handshakes.Add(1)
	return s
}

// connect runs onConnect. It holds the socket's handler lock, so that a
// close meanwhile reaches the OnClose that onConnect installs.
func (srv *Server) connect(s *Socket) {
	s.lockRecv()
	defer s.unlockRecv()
	if srv.onConnect != nil {
		srv.onConnect(s)
	}
}

// appendOpen appends the open packet's text form.
func (srv *Server) appendOpen(b []byte, sid string, upgrades bool) []byte {
	b = append(b, `0{"sid":"`...)
	b = append(b, sid...)
	if upgrades {
		b = append(b, `","upgrades":["websocket"],"pingInterval":`...)
	} else {
		b = append(b, `","upgrades":[],"pingInterval":`...)
	}
	b = strconv.AppendInt(b, srv.cfg.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, srv.cfg.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, srv.cfg.MaxPayload, 10)
	return append(b, '}')
}

func (srv *Server) setCookie(w http.ResponseWriter, sid string) {
	if srv.cfg.Cookie == nil {
		return
	}
	ck := *srv.cfg.Cookie
	ck.Value = sid
	http.SetCookie(w, &ck)
}

// handshakePolling opens a polling session; the response carries the open
// packet and whatever onConnect sent.
func (srv *Server) handshakePolling(w http.ResponseWriter, r *http.Request) {
	s := srv.newSocket(r, transportPolling)
	if s == nil {
		srv.refuseStatus(w, http.StatusServiceUnavailable, CodeBadRequest, "Server unavailable")
		return
	}
	srv.connect(s)
	s.startHeartbeat()
	upgrades := !srv.cfg.DisableUpgrades && srv.cfg.allows(transportWebSocket)
	b := srv.appendOpen(make([]byte, 0, 160), s.ID(), upgrades)
	s.mu.Lock()
	q := s.takeQueueLocked()
	closed := s.closed
	s.mu.Unlock()
	if len(q) > 0 {
		b = append(b, packet.Separator)
		b = packet.AppendPayload(b, q)
	}
	if closed { // closed in onConnect
		b = append(b, packet.Separator, '1')
		s.endLinger()
	}
	srv.setCookie(w, s.ID())
	s.countOut(q, len(b))
	srv.stats.packetsOut.Add(1)
	err := srv.writePayload(w, b)
	s.returnQueue(q)
	if err != nil {
		s.writeFailed(err)
	}
}

// handshakeWS opens a WebSocket-only session.
func (srv *Server) handshakeWS(w http.ResponseWriter, r *http.Request) {
	t, err := srv.acceptWS(w, r, nil)
	if err != nil {
		srv.log.Debug("websocket accept failed", "err", err)
		return
	}
	s := srv.newSocket(r, transportWebSocket)
	if s == nil {
		t.writeClose(wsframe.StatusNormal, time.Second)
		t.closeNow()
		return
	}
	t.sock = s
	open := srv.appendOpen(nil, s.ID(), false)
	s.mu.Lock()
	s.queue = append(s.queue, packet.Packet{Type: packet.Open, Data: open[1:]})
	s.mu.Unlock()
	srv.connect(s)
	s.startHeartbeat()
	s.mu.Lock()
	s.ws = t
	if s.closed { // closed in onConnect
		graceful := s.graceful && !s.flushing
		if graceful && srv.goTracked(func() { s.flushWS(t, false) }) {
			s.flushing = true
		}
		flushing := s.flushing
		s.mu.Unlock()
		if !flushing {
			t.closeNow()
		}
		return
	}
	s.kickLocked()
	s.mu.Unlock()
	if !srv.goTracked(func() { s.readLoop(t, true) }) {
		s.close(ReasonServerShutdown, ErrClosed, false, packet.Close)
		t.closeNow()
	}
}

// handleUpgrade takes a WebSocket for polling socket s: the candidate then
// runs the probe sequence in upgradeLoop.
func (srv *Server) handleUpgrade(s *Socket, w http.ResponseWriter, r *http.Request) {
	if srv.cfg.DisableUpgrades || !srv.checkOrigin(r) {
		srv.refuse(w, CodeBadRequest, "")
		return
	}
	if srv.cfg.AllowRequest != nil {
		if err := srv.cfg.AllowRequest(r); err != nil {
			srv.refuse(w, CodeForbidden, err.Error())
			return
		}
	}
	s.accepting.Add(1)
	t, err := srv.acceptWS(w, r, s)
	if err != nil {
		s.accepting.Add(-1)
		srv.log.Debug("websocket accept failed", "sid", s.ID(), "err", err)
		return
	}
	s.mu.Lock()
	s.accepting.Add(-1)
	if s.closed || s.ws != nil || s.upgrade != nil {
		// Already upgraded or upgrading: like the reference server,
		// complete the handshake, then close this WebSocket.
		s.mu.Unlock()
		t.writeClose(wsframe.StatusNormal, time.Second)
		t.closeNow()
		return
	}
	t.upDone = make(chan struct{})
	s.upgrade = t
	s.upTimer = time.AfterFunc(srv.cfg.UpgradeTimeout, func() { s.abortUpgrade(t) })
	s.mu.Unlock()
	if !srv.goTracked(func() { s.upgradeLoop(t) }) {
		s.abortUpgrade(t)
	}
}

// checkOrigin applies CORS.Origins to requests that carry an Origin.
func (srv *Server) checkOrigin(r *http.Request) bool {
	c := srv.cfg.CORS
	if c == nil || len(c.Origins) == 0 {
		return true
	}
	o := r.Header.Get("Origin")
	return o == "" || originAllowed(c, o)
}

func originAllowed(c *CORS, origin string) bool {
	return len(c.Origins) == 0 || slices.Contains(c.Origins, "*") || slices.Contains(c.Origins, origin)
}

// setCORS sets the CORS headers and answers a preflight; it reports
// whether the request was answered.
func (srv *Server) setCORS(w http.ResponseWriter, r *http.Request) bool {
	c := srv.cfg.CORS
	origin := r.Header.Get("Origin")
	h := w.Header()
	if origin != "" && originAllowed(c, origin) {
		if slices.Contains(c.Origins, "*") && !c.Credentials {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		}
		if c.Credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	if r.Method != http.MethodOptions {
		return false
	}
	if origin != "" && originAllowed(c, origin) {
		h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
		if len(c.Headers) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(c.Headers, ","))
		} else if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
			h.Add("Vary", "Access-Control-Request-Headers")
		}
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}
