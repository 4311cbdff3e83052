package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/socketio/internal/parser"
)

// engineConn is what the server needs of an Engine.IO session
// (*engineio.Socket); tests provide an in-memory one.
type engineConn interface {
	ID() string
	Request() *http.Request
	Transport() string
	Send(m engineio.Message) error
	Close() error
	RemoteAddr() string
}

// conn is one Engine.IO session and the sockets it carries, one per
// namespace. onMessage and onClose are called by the engine, serialised.
type conn struct {
	srv *Server
	ec  engineConn
	dec parser.Decoder // engine goroutine only

	mu     sync.Mutex
	timer  *time.Timer // the connect timeout, until a namespace is joined
	first  *Socket     // one socket inline: most connections join one namespace
	more   map[string]*Socket
	closed bool
}

// socketLocked returns the socket of namespace nsp, or nil; c.mu is held.
func (c *conn) socketLocked(nsp string) *Socket {
	if c.first != nil && c.first.ns.name == nsp {
		return c.first
	}
	return c.more[nsp]
}

// addLocked adds s, whose namespace has no socket on c; c.mu is held.
func (c *conn) addLocked(s *Socket) {
	if c.first == nil {
		c.first = s
		return
	}
	if c.more == nil {
		c.more = make(map[string]*Socket)
	}
	c.more[s.ns.name] = s
}

// lenLocked returns the number of sockets; c.mu is held.
func (c *conn) lenLocked() int {
	n := len(c.more)
	if c.first != nil {
		n++
	}
	return n
}

func (s *Server) newConn(ec engineConn) *conn {
	c := &conn{srv: s, ec: ec}
	c.dec.MaxAttachments = s.cfg.MaxAttachments
	c.dec.MaxAttachmentBytes = s.cfg.MaxAttachmentBytes
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.mu.Lock()
	c.timer = time.AfterFunc(s.cfg.ConnectTimeout, c.connectTimeout)
	c.mu.Unlock()
	return c
}

func (c *conn) connectTimeout() {
	c.mu.Lock()
	n := c.lenLocked()
	c.mu.Unlock()
	if n == 0 {
		c.srv.log.Debug("no namespace joined in time", "sid", c.ec.ID())
		_ = c.ec.Close()
	}
}

func (c *conn) onMessage(m engineio.Message) {
	var p *parser.Packet
	var err error
	if m.Binary {
		p, err = c.dec.Binary(m.Data)
	} else {
		p, err = c.dec.Text(m.Data)
	}
	if err != nil {
		c.drop("malformed packet", err)
		return
	}
	if p != nil {
		c.handle(p)
	}
}

// drop closes a misbehaving peer's connection and counts it.
func (c *conn) drop(msg string, err error) {
	c.srv.badPackets.Add(1)
	c.srv.log.Debug(msg, "sid", c.ec.ID(), "err", err)
	_ = c.ec.Close()
}

func (c *conn) handle(p *parser.Packet) {
	c.mu.Lock()
	s := c.socketLocked(p.Namespace)
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	switch {
	case p.Type == parser.Connect && s == nil:
		c.connect(p)
	case p.Type == parser.Connect || p.Type == parser.ConnectError:
		c.drop("unexpected packet", fmt.Errorf("%w: %s for namespace %q", ErrInvalidPacket, p.Type, p.Namespace))
	case s != nil:
		s.onPacket(p)
	default:
		// A packet for a namespace this connection left (or never
		// joined): the server may have just disconnected it; ignore.
		c.srv.log.Debug("packet for unknown namespace", "sid", c.ec.ID(), "nsp", p.Namespace, "type", p.Type)
	}
}

func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (c *conn) handshake(auth map[string]any, t time.Time) *Handshake {
	r := c.ec.Request()
	h := &Handshake{Time: t, Address: c.ec.RemoteAddr(), Auth: auth}
	if r != nil {
		h.Header = r.Header
		h.Secure = r.TLS != nil
		if r.URL != nil {
			h.URL = r.URL.String()
			h.Query = r.URL.Query()
		}
	}
	return h
}

func (c *conn) connect(p *parser.Packet) {
	srv := c.srv
	auth, _ := p.Data.(map[string]any)
	ns := srv.lookupNamespace(p.Namespace, auth)
	if ns == nil {
		srv.connectErrors.Add(1)
		c.sendConnectError(p.Namespace, map[string]any{"message": "Invalid namespace"})
		return
	}
	s := &Socket{ns: ns, conn: c, auth: auth, connTime: time.Now().UnixNano()}
	var missed [][]any
	if rc := srv.cfg.ConnectionStateRecovery; rc != nil {
		pid, _ := auth["pid"].(string)
		offset, _ := auth["offset"].(string)
		if pid != "" && offset != "" {
			sess, err := ns.adapter.RestoreSession(pid, offset)
			if err != nil {
				srv.log.Debug("restore session", "err", err)
			}
			// Too many missed packets would overflow the connection's
			// queue: start afresh rather than fail again and again.
			if sess != nil && len(sess.MissedPackets) <= srv.maxMissed() {
				if _, taken := ns.Socket(sess.SID); !taken {
					s.id, s.pid, s.data, s.recovered = sess.SID, sess.PID, sess.Data, true
					ns.adapter.AddAll(s.id, sess.Rooms)
					missed = sess.MissedPackets
				}
			}
		}
		if !s.recovered {
			s.pid = newID()
		}
	}
	if s.id == "" {
		s.id = newID()
	}
	mws, hs := ns.chain()
	if rc := srv.cfg.ConnectionStateRecovery; !(s.recovered && rc.SkipMiddlewares) {
		for _, mw := range mws {
			if err := mw(s); err != nil {
				ns.adapter.DelAll(s.id)
				srv.connectErrors.Add(1)
				c.sendConnectError(ns.name, connectErrorPayload(err))
				return
			}
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		ns.adapter.DelAll(s.id)
		return
	}
	c.addLocked(s)
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
	// CONNECT goes out before the socket is reachable by broadcasts, so
	// that no event precedes it.
	reply := map[string]any{"sid": s.id}
	if s.pid != "" {
		reply["pid"] = s.pid
	}
	s.connected.Store(true)
	if err := s.sendConnect(reply); err != nil {
		s.onClose("transport error")
		return
	}
	// Missed packets too, so that new broadcasts come after them.
	for _, data := range missed {
		if err := s.sendPacket(&Packet{Type: PacketEvent, Namespace: ns.name, Data: data}, false); err != nil {
			s.onClose("transport error")
			return
		}
	}
	ns.mu.Lock()
	ns.sockets[s.id] = s
	ns.mu.Unlock()
	s.Join(s.id)
	if b, ok := ns.adapter.(binder); ok {
		b.bind(s)
	}
	for _, h := range hs {
		h(s)
	}
}

// binder is implemented by MemoryAdapter (also when embedded): it learns
// the local socket of an id once the socket is reachable.
type binder interface{ bind(s *Socket) }

func (c *conn) sendConnectError(nsp string, payload map[string]any) {
	msgs, err := encodePacket(&Packet{Type: PacketConnectError, Namespace: nsp, Data: payload})
	if err == nil {
		_ = c.write(msgs, false)
	}
}

// write hands msgs to the engine. On a full queue a volatile packet is
// dropped, anything else closes the connection (a slow consumer).
func (c *conn) write(msgs []engineio.Message, volatile bool) error {
	for i, m := range msgs {
		if err := c.ec.Send(m); err != nil {
			return c.sendFailed(err, volatile && i == 0)
		}
	}
	return nil
}

// aloneSender is implemented by *engineio.Socket (SendAlone).
type aloneSender interface {
	SendAlone(m engineio.Message) error
}

// writeAlone hands the single message m to the engine to go out in its own
// WebSocket write, nothing queued after it coalesced with it. The CONNECT
// reply goes so: clients that attach their next listener only after
// handling it (the official protocol test suite does, a microtask later)
// would miss an event the connection handler emits at once if both came
// in one read. Broadcasts keep being coalesced.
func (c *conn) writeAlone(m engineio.Message) error {
	as, ok := c.ec.(aloneSender)
	if !ok {
		return c.write([]engineio.Message{m}, false)
	}
	if err := as.SendAlone(m); err != nil {
		return c.sendFailed(err, false)
	}
	return nil
}

// sendFailed handles an engine Send error: on a full queue a droppable
// (volatile) packet is counted and dropped, anything else closes the
// connection (a slow consumer).
func (c *conn) sendFailed(err error, droppable bool) error {
	if errors.Is(err, engineio.ErrQueueFull) {
		if droppable {
			c.srv.volatileDropped.Add(1)
			return nil
		}
		c.srv.slowConsumers.Add(1)
		c.srv.log.Debug("slow consumer", "sid", c.ec.ID())
		_ = c.ec.Close()
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, err)
}

func (c *conn) remove(s *Socket) {
	c.mu.Lock()
	if c.first == s {
		c.first = nil
	} else if c.more[s.ns.name] == s {
		delete(c.more, s.ns.name)
	}
	c.mu.Unlock()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	if n.sockets[s.id] == s {
		delete(n.sockets, s.id)
	}
	empty := len(n.sockets) == 0
	n.mu.Unlock()
	if empty && n.parent != nil && n.srv.cfg.CleanupEmptyChildNamespaces {
		n.srv.removeChild(n)
	}
}

// disconnectAll disconnects every socket of the connection, then closes it.
func (c *conn) disconnectAll() {
	for _, s := range c.socketList() {
		s.Disconnect(false)
	}
	_ = c.ec.Close()
}

func (c *conn) socketList() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Socket, 0, c.lenLocked())
	if c.first != nil {
		out = append(out, c.first)
	}
	for _, s := range c.more {
		out = append(out, s)
	}
	return out
}

// onClose is the engine's close callback; reason is Engine.IO's.
func (c *conn) onClose(reason string, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
	c.srv.log.Debug("connection closed", "sid", c.ec.ID(), "reason", reason, "err", err)
	for _, s := range c.socketList() {
		s.onClose(reason)
	}
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.mu.Unlock()
}
