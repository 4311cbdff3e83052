package engineio

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/engineio/internal/packet"
)

// Message is one Engine.IO "message" packet (type 4) as the application sees
// it: text (a UTF-8 string on the wire) or binary.
//
// Data is never modified by the engine once handed to Send, so one Message
// may be sent to many sockets (a broadcast encodes its packet once).
// Data received in an OnMessage callback is owned by the callee.
type Message struct {
	Binary bool
	Data   []byte
}

// Socket is one Engine.IO session. Its methods are safe for concurrent use.
//
// Handlers are installed with OnMessage and OnClose inside the Server's
// onConnect callback. They run synchronously on the engine's goroutines,
// one at a time and in order, and must not block: hand slow work to another
// goroutine. OnClose runs exactly once, after the last OnMessage.
type Socket struct {
	srv  *Server
	info string // the session id, then the handshake's details (see newReqInfo)
	tls  *tls.ConnectionState

	onMessage func(Message)
	onClose   func(reason string, err error)

	// recvMu serialises handler calls (OnMessage, then OnClose once).
	recvMu sync.Mutex
	mu     sync.Mutex

	// accepting counts WebSocket handshakes under way for this sid, not
	// yet registered as the upgrade candidate (see handleUpgrade).
	accepting     atomic.Int32
	closePending  atomic.Bool
	closeNotified bool // guarded by recvMu

	// The fields below are guarded by mu (except as noted); small ones
	// first, to keep the struct in a small size class.
	closed       bool
	graceful     bool
	onWS         bool        // the transport is WebSocket (else polling)
	polling      bool        // a GET is pending
	posting      bool        // a POST is being read
	probed       bool        // the upgrade candidate answered 2probe
	flushing     bool        // a flusher goroutine owns writing to ws
	lingering    bool        // closed, kept for the client's last GET
	awaitingPong bool        // a ping went out, its pong is due
	delivering   bool        // the ws read loop is running a handler
	kickDeferred bool        // a send during delivering waits for its end
	reason       uint8       // index in reasons, once closed
	pollEnd      packet.Type // packet ending the polling transport on close
	hbIndex      int32       // position+1 in srv.hb's heap, 0 when not in it; guarded by srv.hb.mu

	closeErr error
	queue    []packet.Packet
	spare    []packet.Packet

	poll        chan struct{} // wakes the pending GET (polling only)
	upgrade     *wsTransport  // candidate WebSocket during an upgrade
	upTimer     *time.Timer   // bounds the upgrade
	lingerTimer *time.Timer   // bounds lingering
	ws          *wsTransport  // set once the socket runs on WebSocket
	aloneUntil  time.Duration // on srv.clock: no ws write before (flusher only)
	due         time.Duration // on srv.clock: the next ping, or the pong deadline; 0 before the first
	done        chan struct{} // made on first use (Done): idle sockets have none

	msgsIn, msgsOut, bytesIn, bytesOut atomic.Uint64
}

// ID returns the session id (sid).
func (s *Socket) ID() string { return s.info[:sidLen] }

// Request returns the handshake request: URL (with its query), headers,
// Host, RemoteAddr and TLS state. Each call returns a new *http.Request
// with its own URL and header map, rebuilt from what the socket keeps (not
// the whole request, to stay small); its body is empty and its context is
// not the original's.
func (s *Socket) Request() *http.Request {
	u := s.requestURL()
	return &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     s.requestHeader(),
		Body:       http.NoBody,
		Host:       s.infoField(fieldHost),
		RemoteAddr: s.RemoteAddr(),
		RequestURI: u.RequestURI(),
		TLS:        s.tls,
	}
}

// Protocol returns the Engine.IO protocol version, 4.
func (s *Socket) Protocol() int { return 4 }

// LocalAddr returns the local address that accepted the handshake, as text.
func (s *Socket) LocalAddr() string { return s.infoField(fieldLocal) }

// RemoteAddr returns the client's address, as text.
func (s *Socket) RemoteAddr() string { return s.infoField(fieldRemote) }

// Transport returns the current transport: "polling" or "websocket".
func (s *Socket) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.onWS {
		return transportWebSocket
	}
	return transportPolling
}

// OnMessage sets the handler of incoming messages. Call it once, inside
// the Server's onConnect. The handler owns m.Data.
func (s *Socket) OnMessage(fn func(m Message)) { s.onMessage = fn }

// OnClose sets the handler called exactly once when the socket closes,
// with one of the Reason* strings and the error behind it (nil for a
// clean close). Call it once, inside the Server's onConnect.
func (s *Socket) OnClose(fn func(reason string, err error)) { s.onClose = fn }

// Done returns a channel closed once the socket is closed.
func (s *Socket) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
		if s.closed {
			close(s.done)
		}
	}
	return s.done
}

// Stats returns the socket's counters.
func (s *Socket) Stats() SocketStats {
	s.mu.Lock()
	q := len(s.queue)
	s.mu.Unlock()
	return SocketStats{
		MessagesIn: s.msgsIn.Load(), MessagesOut: s.msgsOut.Load(),
		BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		Queued: q,
	}
}

// Send queues m without blocking. It returns ErrQueueFull when the bounded
// queue (Config.MaxQueuedPackets) is full and ErrClosed after close. Writes
// are coalesced: everything queued goes out in one poll response, or in
// back-to-back WebSocket frames with one write.
func (s *Socket) Send(m Message) error { return s.send(m, false) }

// SendAlone queues m like Send, except that on WebSocket the write carrying
// m ends with it: messages queued after m go out in a later write, not
// coalesced with m. A protocol's handshake reply is sent so (Socket.IO's
// CONNECT), for clients that register their next listener only once they
// have handled the reply and would miss a message delivered with it in
// the same read. A long-polling response still carries everything queued.
func (s *Socket) SendAlone(m Message) error { return s.send(m, true) }

func (s *Socket) send(m Message, alone bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if len(s.queue) >= s.srv.cfg.MaxQueuedPackets {
		s.mu.Unlock()
		s.srv.stats.queueFull.Add(1)
		return ErrQueueFull
	}
	s.queue = append(s.queue, packet.Packet{Type: packet.Message, Binary: m.Binary, Alone: alone, Data: m.Data})
	s.kickLocked()
	s.mu.Unlock()
	return nil
}

// Close closes the socket with reason "forced close". It is idempotent and
// does not block: what is queued is flushed first if the client takes it
// within WriteTimeout.
func (s *Socket) Close() error {
	s.close(ReasonForcedClose, nil, true, packet.Close)
	return nil
}

// kickLocked gets queued packets moving: it wakes the pending poll, or
// starts a flusher for the WebSocket. s.mu is held.
func (s *Socket) kickLocked() {
	if s.ws != nil {
		if s.delivering && !s.flushing && len(s.queue) <= min(deferMax, s.srv.cfg.MaxQueuedPackets/2) {
			// The read loop writes it when the handler returns
			// (endDelivery), with whatever else the handler sent; a
			// handler that sends more than a few gets a flusher at
			// once, so that its queue drains while it runs.
			s.kickDeferred = true
			return
		}
		if !s.flushing {
			ws := s.ws
			if s.srv.goTracked(func() { s.flushWS(ws, false) }) {
				s.flushing = true
			}
		}
		return
	}
	if s.polling {
		select {
		case s.poll <- struct{}{}:
		default:
		}
	}
}

// deferMax bounds the packets a handler's sends leave queued for its read
// loop to write when it returns (see kickLocked).
const deferMax = 16

// takeQueueLocked returns the queued packets and leaves an empty queue;
// give the slice back with returnQueue once written.
func (s *Socket) takeQueueLocked() []packet.Packet {
	q := s.queue
	s.queue = s.spare
	s.spare = nil
	return q
}

// returnQueue recycles a written queue slice, unless it grew large.
func (s *Socket) returnQueue(q []packet.Packet) {
	clear(q)
	if cap(q) > 64 {
		return
	}
	s.mu.Lock()
	if s.spare == nil {
		s.spare = q[:0]
	}
	s.mu.Unlock()
}

// close closes the socket once. graceful lets queued packets go out first
// (with pollEnd ending a pending poll); otherwise the transport closes now.
func (s *Socket) close(reason string, err error, graceful bool, pollEnd packet.Type) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.reason, s.closeErr, s.graceful = uint8(reasonIndex(reason)), err, graceful
	s.pollEnd = pollEnd
	if s.due != 0 {
		s.srv.hb.cancel(s)
	}
	if s.upTimer != nil {
		s.upTimer.Stop()
	}
	cand := s.upgrade
	s.upgrade = nil
	ws := s.ws
	if ws != nil && graceful && !s.flushing {
		if s.srv.goTracked(func() { s.flushWS(ws, false) }) {
			s.flushing = true
		}
	}
	closeWS := ws != nil && (!graceful || !s.flushing)
	// A polling client with no GET pending gets what is queued and the
	// close packet on its next GET: the session lingers until then. So
	// does one that closed the session itself (its POST "1" may overtake
	// its GET): that GET gets noop.
	linger := ws == nil && !s.polling && !s.onWS &&
		(graceful && (reason == ReasonForcedClose || reason == ReasonServerShutdown) ||
			reason == ReasonTransportClose && pollEnd == packet.Noop) && s.srv.lingerOK()
	if linger {
		s.lingering = true
		s.lingerTimer = time.AfterFunc(s.srv.cfg.PingTimeout, s.endLinger)
	}
	if s.done != nil {
		close(s.done)
	}
	s.mu.Unlock()

	s.srv.open.Add(-1)
	if !linger {
		s.srv.remove(s)
	}
	st := &s.srv.stats
	st.closed.Add(1)
	st.closedByReason[reasonIndex(reason)].Add(1)
	s.srv.log.Debug("socket closed", "sid", s.ID(), "reason", reason, "err", err)

	if cand != nil {
		cand.closeNow()
	}
	if closeWS {
		ws.closeNow()
	}
	s.closePending.Store(true)
	s.tryNotifyClose()
}

// endLinger forgets a closed polling session that was waiting for its
// last GET.
func (s *Socket) endLinger() {
	s.mu.Lock()
	was := s.lingering
	s.lingering = false
	if s.lingerTimer != nil {
		s.lingerTimer.Stop()
	}
	s.mu.Unlock()
	if was {
		s.srv.remove(s)
	}
}

// kill closes the socket's connections now, flushed or not.
func (s *Socket) kill() {
	s.mu.Lock()
	ws, cand := s.ws, s.upgrade
	s.mu.Unlock()
	if ws != nil {
		ws.closeNow()
	}
	if cand != nil {
		cand.closeNow()
	}
}

// tryNotifyClose calls OnClose once, when no OnMessage is running.
func (s *Socket) tryNotifyClose() {
	if !s.recvMu.TryLock() {
		return // the holder calls us again on unlock
	}
	if s.closePending.Load() && !s.closeNotified {
		s.closeNotified = true
		if s.onClose != nil {
			s.mu.Lock()
			reason, err := reasons[s.reason], s.closeErr
			s.mu.Unlock()
			s.onClose(reason, err)
		}
	}
	s.recvMu.Unlock()
}

func (s *Socket) lockRecv() { s.recvMu.Lock() }

func (s *Socket) unlockRecv() {
	s.recvMu.Unlock()
	if s.closePending.Load() {
		s.tryNotifyClose()
	}
}

// isClosed reports whether the socket is closed.
func (s *Socket) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// errInvalidHeartbeat: a v4 client must not send ping.
var errInvalidHeartbeat = fmt.Errorf("%w: invalid heartbeat direction", ErrTransport)

// onPacket handles one packet from the client, with recvMu held. It
// returns false once the socket is closed and reading should stop.
func (s *Socket) onPacket(p packet.Packet, size int) bool {
	st := &s.srv.stats
	st.packetsIn.Add(1)
	st.bytesIn.Add(uint64(size))
	if s.isClosed() {
		return false
	}
	switch p.Type {
	case packet.Message:
		s.msgsIn.Add(1)
		s.bytesIn.Add(uint64(len(p.Data)))
		if s.onMessage != nil {
			s.onMessage(Message{Binary: p.Binary, Data: p.Data})
		}
	case packet.Pong:
		s.mu.Lock()
		if s.awaitingPong && !s.closed {
			s.awaitingPong = false
			s.due = s.srv.clock() + s.srv.cfg.PingInterval
			s.srv.hb.schedule(s, s.due)
		}
		s.mu.Unlock()
	case packet.Close:
		s.close(ReasonTransportClose, nil, false, packet.Noop)
		return false
	case packet.Ping:
		s.close(ReasonTransportError, errInvalidHeartbeat, false, packet.Close)
		return false
	default:
		// open, upgrade and noop from the client carry nothing: ignore.
	}
	return true
}

// parseError closes the socket for a malformed packet.
func (s *Socket) parseError(err error) {
	s.srv.stats.parseErrors.Add(1)
	s.close(ReasonParseError, fmt.Errorf("%w: %w", ErrParse, err), false, packet.Close)
}

// startHeartbeat schedules the first ping.
func (s *Socket) startHeartbeat() {
	s.mu.Lock()
	if !s.closed {
		s.due = s.srv.clock() + s.srv.cfg.PingInterval
		s.srv.hb.schedule(s, s.due)
	}
	s.mu.Unlock()
}

// onTimer sends a ping, or reports that the socket must close because
// the last one was not answered in time (the caller closes it, once every
// socket due with it has had its ping). srv.hb runs it once s is due.
func (s *Socket) onTimer() (timedOut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.srv.clock()
	if s.closed || now < s.due {
		// Closed, or rescheduled (by a pong) after srv.hb took s out
		// of its heap: then s is back in it.
		return false
	}
	if s.awaitingPong {
		return true
	}
	s.awaitingPong = true
	// The ping bypasses the queue bound: at most one is outstanding.
	s.queue = append(s.queue, packet.Packet{Type: packet.Ping})
	s.kickLocked()
	// The pong is due PingTimeout after the ping was due, however late
	// this timer ran (a client silent for PingInterval+PingTimeout finds
	// its session gone, as the protocol's test suite checks). The
	// heartbeat timer sends every ping of a firing before it closes any
	// socket, so another socket's slow close handler does not make it
	// late.
	s.due += s.srv.cfg.PingTimeout
	s.srv.hb.schedule(s, s.due)
	return false
}

// pongOverdue closes the socket if its client's pong is overdue, before
// the timer noticed; it reports whether it did. Requests check it, so a
// request that comes after the deadline finds the session closed however
// late the timer runs.
func (s *Socket) pongOverdue() bool {
	s.mu.Lock()
	over := false
	if !s.closed && s.due != 0 {
		now := s.srv.clock()
		if s.awaitingPong {
			over = now >= s.due
		} else {
			// The ping timer has not run yet: the ping was due at s.due.
			over = now >= s.due+s.srv.cfg.PingTimeout
		}
	}
	s.mu.Unlock()
	if over {
		s.close(ReasonPingTimeout, ErrPingTimeout, false, packet.Close)
	}
	return over
}

// countOut adds a written batch to the counters.
func (s *Socket) countOut(q []packet.Packet, bytes int) {
	var msgs, data uint64
	for _, p := range q {
		if p.Type == packet.Message {
			msgs++
			data += uint64(len(p.Data))
		}
	}
	s.msgsOut.Add(msgs)
	s.bytesOut.Add(data)
	st := &s.srv.stats
	st.packetsOut.Add(uint64(len(q)))
	st.bytesOut.Add(uint64(bytes))
}

var errWriteTimeout = fmt.Errorf("%w: write timed out", ErrTransport)

// writeFailed closes the socket after a failed write.
func (s *Socket) writeFailed(err error) {
	if isTimeout(err) {
		s.srv.stats.writeTimeouts.Add(1)
		err = errWriteTimeout
	} else {
		err = fmt.Errorf("%w: %w", ErrTransport, err)
	}
	s.close(ReasonTransportError, err, false, packet.Close)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
