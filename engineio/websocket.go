package engineio

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/engineio/internal/packet"
	"github.com/switchboard/switchboard/engineio/internal/wsframe"
)

// wsReadBufSize is the size of a WebSocket connection's read buffer. It
// is pooled: a connection holds one only while its read loop runs, none
// while parked; messages larger than it are read straight into their own
// memory.
const wsReadBufSize = 4096

var readBufPool = sync.Pool{New: func() any { return new([wsReadBufSize]byte) }}

// wsTransport is one server-side WebSocket connection (RFC 6455, no
// extensions). The handshake is answered in acceptWS; frames are read by
// a wsframe.Reader and written by hand: data frames a whole batch per
// Write, control frames (pong, close) one per Write, serialised by wmu.
//
// An idle connection holds it (96 bytes) and its net.Conn, nothing else.
type wsTransport struct {
	conn net.Conn
	srv  *Server
	sock *Socket

	// Read side: the goroutine running the connection's read loop.
	fr  wsframe.Reader
	got atomic.Bool // bytes were read; an upgrade candidate clears it when idle

	fd         int32       // for the poller; -1 when unknown
	parked     atomic.Bool // waiting in the poller; a wake-up claims it
	registered bool        // in the epoll set; guarded by poller.mu
	unparkable bool        // closing; guarded by poller.mu
	sealed     bool        // a close frame went out: no more frames; guarded by wmu

	upDone chan struct{} // an upgrade candidate's: closed once it completes or fails

	wmu sync.Mutex
}

// Read reads from the connection for fr, noting that bytes came.
func (t *wsTransport) Read(p []byte) (int, error) {
	n, err := t.conn.Read(p)
	if n > 0 {
		t.got.Store(true)
	}
	return n, err
}

// Control answers a client's ping with a pong (wsframe.Controller).
func (t *wsTransport) Control(op byte, payload []byte) error {
	if op != wsframe.OpPing {
		return nil
	}
	var b [2 + 125]byte
	f := append(wsframe.AppendHeader(b[:0], wsframe.OpPong, len(payload)), payload...)
	return t.writeControl(f, t.srv.cfg.WriteTimeout, false)
}

// writeControl writes one control frame within timeout; seal marks it the
// last frame (a close).
func (t *wsTransport) writeControl(f []byte, timeout time.Duration, seal bool) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.sealed {
		return nil
	}
	t.sealed = seal
	if err := t.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	_, err := t.conn.Write(f)
	return err
}

// writeData writes a batch of data frames within timeout.
func (t *wsTransport) writeData(b []byte, timeout time.Duration) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.sealed {
		return ErrClosed
	}
	if err := t.conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	_, err := t.conn.Write(b)
	return err
}

// writeClose writes a close frame with status code, after which no frame
// may follow.
func (t *wsTransport) writeClose(code uint16, timeout time.Duration) {
	var b [4]byte
	_ = t.writeControl(wsframe.AppendClose(b[:0], code), timeout, true)
}

// answerReadError answers a read that failed as the protocol asks: the
// client's close frame is echoed; a protocol error gets status 1002, text
// that is not UTF-8 1007, a message over MaxPayload 1009. The connection
// is closed afterwards.
func (t *wsTransport) answerReadError(err error) {
	timeout := min(t.srv.cfg.WriteTimeout, time.Second)
	var ce *wsframe.CloseError
	switch {
	case errors.As(err, &ce):
		t.writeClose(ce.Code, timeout)
	case errors.Is(err, wsframe.ErrProtocol):
		t.writeClose(wsframe.StatusProtocolError, timeout)
	case errors.Is(err, wsframe.ErrInvalidUTF8):
		t.writeClose(wsframe.StatusInvalidData, timeout)
	case errors.Is(err, wsframe.ErrTooBig):
		t.writeClose(wsframe.StatusTooBig, timeout)
	}
}

// attach gives the reader a pooled buffer unless it holds one.
func (t *wsTransport) attach() {
	if !t.fr.Attached() {
		t.fr.Attach(readBufPool.Get().(*[wsReadBufSize]byte)[:], nil)
	}
}

// detach returns the reader's buffer to the pool when nothing is left in it.
func (t *wsTransport) detach() {
	if b := t.fr.Detach(); cap(b) == wsReadBufSize {
		readBufPool.Put((*[wsReadBufSize]byte)(b[:wsReadBufSize]))
	}
}

// errHandshake reports a WebSocket handshake request the protocol does
// not allow.
var errHandshake = errors.New("engineio: bad websocket handshake")

// acceptWS completes the WebSocket handshake: it checks the request
// (RFC 6455 section 4.2.1; origins are checked by checkOrigin, as CORS
// configures), hijacks the connection and writes the 101 response, with
// the headers set on w so far.
func (srv *Server) acceptWS(w http.ResponseWriter, r *http.Request, s *Socket) (*wsTransport, error) {
	key := r.Header.Values("Sec-WebSocket-Key")
	switch {
	case !r.ProtoAtLeast(1, 1) || !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket"):
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "WebSocket upgrade expected", http.StatusUpgradeRequired)
		return nil, errHandshake
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "unsupported WebSocket version", http.StatusBadRequest)
		return nil, errHandshake
	case len(key) != 1 || !wsframe.ValidKey(strings.TrimSpace(key[0])):
		http.Error(w, "bad Sec-WebSocket-Key", http.StatusBadRequest)
		return nil, errHandshake
	}
	h := w.Header()
	h.Del("Content-Type")
	b := make([]byte, 0, 256)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, wsframe.AcceptKey(strings.TrimSpace(key[0]))...)
	b = append(b, "\r\n"...)
	for k, vs := range h {
		if k == "Upgrade" || k == "Connection" || k == "Sec-Websocket-Accept" {
			continue
		}
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "\r\n"...)

	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		if errors.Is(err, http.ErrNotSupported) {
			http.Error(w, http.StatusText(http.StatusNotImplemented), http.StatusNotImplemented)
		}
		return nil, err
	}
	t := &wsTransport{conn: conn, srv: srv, sock: s, fd: int32(fdOf(conn))}
	if n := brw.Reader.Buffered(); n > 0 {
		// Sent right after the request: buffered until read (the
		// buffer then leaves with the first detach).
		p, _ := brw.Reader.Peek(n)
		t.fr.Attach(make([]byte, n), p)
		t.got.Store(true)
	}
	if err := conn.SetWriteDeadline(time.Now().Add(srv.cfg.WriteTimeout)); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := conn.Write(b); err != nil {
		conn.Close()
		return nil, err
	}
	return t, nil
}

// headerHasToken reports whether the comma-separated values of header
// name hold token, in any case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// closeNow closes the connection without a close handshake.
func (t *wsTransport) closeNow() {
	t.srv.poller.forget(t)
	_ = t.conn.Close()
}

// idle reports whether nothing read from the network waits in buffers, so
// the next read would block.
func (t *wsTransport) idle() bool {
	return t.fr.Buffered() == 0
}

// writeText writes one text frame directly (the 3probe answer).
func (t *wsTransport) writeText(s string, timeout time.Duration) error {
	b := wsframe.AppendHeader(nil, wsframe.OpText, len(s))
	b = append(b, s...)
	return t.writeData(b, timeout)
}

// appendFrame appends p as one WebSocket frame: a text frame holding its
// text form, or a binary frame holding a binary message's raw bytes.
func appendFrame(dst []byte, p packet.Packet) []byte {
	if p.Binary {
		dst = wsframe.AppendHeader(dst, wsframe.OpBinary, len(p.Data))
		return append(dst, p.Data...)
	}
	dst = wsframe.AppendHeader(dst, wsframe.OpText, 1+len(p.Data))
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}

// Batch buffers are pooled: an idle socket holds none.
var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const (
	maxPooledBatch = 64 << 10
	maxBatchWrite  = 32 << 10 // a batch is written in pieces of about this size
)

func getBatch() *[]byte { return batchPool.Get().(*[]byte) }

func putBatch(b *[]byte) {
	if cap(*b) > maxPooledBatch {
		return
	}
	*b = (*b)[:0]
	batchPool.Put(b)
}

// flushWS writes everything queued, batch after batch, then exits; when
// the socket is closed it ends the connection after the last batch. Only
// one flusher runs per socket (s.flushing).
func (s *Socket) flushWS(t *wsTransport, once bool) {
	timeout := s.srv.cfg.WriteTimeout
	for first := true; ; first = false {
		s.mu.Lock()
		if once && !first && len(s.queue) > 0 {
			// The read loop wrote one batch; a flusher goroutine takes
			// what came since, so that reading goes on.
			if !s.srv.goTracked(func() { s.flushWS(t, false) }) {
				s.flushing = false
			}
			s.mu.Unlock()
			return
		}
		if len(s.queue) == 0 {
			closed, graceful := s.closed, s.graceful
			s.flushing = false
			s.mu.Unlock()
			if closed {
				if graceful {
					t.writeClose(wsframe.StatusNormal, min(timeout, time.Second))
				}
				t.closeNow()
			}
			return
		}
		q := s.takeQueueLocked()
		drop := s.closed && !s.graceful
		s.mu.Unlock()
		if drop {
			s.returnQueue(q)
			continue
		}

		bp := getBatch()
		b := *bp
		var err error
		n := 0
		for i, p := range q {
			b = appendFrame(b, p)
			// Write in chunks so the batch buffer stays poolable.
			if len(b) >= maxBatchWrite || i == len(q)-1 || p.Alone {
				s.waitAlone()
				err = t.writeData(b, timeout)
				n += len(b)
				b = b[:0]
				if err != nil {
					break
				}
				if p.Alone {
					s.aloneUntil = s.srv.clock() + aloneGap
				}
			}
		}
		s.countOut(q, n)
		*bp = b
		putBatch(bp)
		s.returnQueue(q)
		if err != nil {
			s.mu.Lock()
			s.flushing = false
			s.mu.Unlock()
			s.writeFailed(err)
			t.closeNow()
			return
		}
	}
}

// aloneGap is how long the write after a SendAlone message waits after
// it: a separate write is not enough on loopback, where the next one can
// reach a busy peer before it reads the first, and both come in one read
// (the old socket.io protocol suite, on ws 8.5, then misses the second;
// 1 ms still lost it about once in 100 connects on a loaded 2-core host).
// It delays only what follows a CONNECT reply, once per namespace join.
const aloneGap = 5 * time.Millisecond

// waitAlone delays the flusher's write until aloneGap after the last
// SendAlone message was written. Only the flusher calls it.
func (s *Socket) waitAlone() {
	if s.aloneUntil == 0 {
		return
	}
	if d := s.aloneUntil - s.srv.clock(); d > 0 {
		time.Sleep(d)
	}
	s.aloneUntil = 0
}

// wsLinger is how long a connection that has just handled a message waits
// in its read loop for the next before it is parked: a client in a
// request-response exchange (an emit with an ack) then costs no park and
// wake-up per message, and an idle connection still holds nothing.
const wsLinger = 2 * time.Millisecond

// linger waits up to wsLinger for input; it reports whether any came (or
// the read failed: the next read meets the error). A connection the
// poller cannot park does not linger: its read loop blocks anyway.
func (t *wsTransport) linger() bool {
	if t.fd < 0 {
		return false
	}
	t.attach()
	if t.conn.SetReadDeadline(time.Now().Add(wsLinger)) != nil {
		return false
	}
	err := t.fr.Fill(t)
	_ = t.conn.SetReadDeadline(time.Time{})
	return err == nil || !isTimeout(err)
}

// readMessage reads one WebSocket message, in memory of its own, with a
// pooled read buffer attached for the read.
func (t *wsTransport) readMessage() (byte, []byte, error) {
	t.attach()
	return t.fr.ReadMessage(t, t.srv.cfg.MaxPayload, nil, t)
}

// decodeWS decodes a WebSocket message, whose memory the packet's Data
// then shares (handed to the callee).
func decodeWS(op byte, b []byte) (packet.Packet, error) {
	if op == wsframe.OpBinary {
		return packet.DecodeBinary(b), nil
	}
	return packet.Decode(b)
}

// readLoop delivers the client's packets until the connection ends. It
// runs on its own goroutine, owned by the Server. When nothing is buffered
// it parks the connection in the poller and returns; the poller starts it
// again once the connection is readable, with mayPark false so that it
// reads before it checks again.
func (s *Socket) readLoop(t *wsTransport, mayPark bool) {
	active := false // a message was handled in this run of the loop
	for {
		if mayPark && t.idle() && !(active && t.linger()) {
			t.detach()
			if s.srv.poller.park(t) {
				return
			}
		}
		mayPark, active = true, true
		op, b, err := t.readMessage()
		if err != nil {
			t.detach()
			t.answerReadError(err)
			s.wsReadFailed(err)
			return
		}
		p, err := decodeWS(op, b)
		n := len(b)
		if err != nil {
			t.detach()
			s.parseError(err)
			t.closeNow()
			return
		}
		s.lockRecv()
		s.beginDelivery()
		ok := s.onPacket(p, n)
		inline := s.endDelivery(t)
		s.unlockRecv()
		if inline {
			// What the handler sent (an ack, a reply) goes out from
			// here, in one write: no flusher goroutine to start and
			// wake for a request-response exchange.
			s.flushWS(t, true)
		}
		if !ok {
			t.detach()
			return
		}
	}
}

// beginDelivery marks the socket as running a handler on its WebSocket
// read loop: sends made meanwhile are written when it ends.
func (s *Socket) beginDelivery() {
	s.mu.Lock()
	s.delivering = true
	s.mu.Unlock()
}

// endDelivery ends what beginDelivery began. It reports whether the read
// loop should write what was sent meanwhile itself (then it owns the
// writing, as a flusher would); otherwise a flusher goroutine is started
// when one is needed (a SendAlone message waits its gap there, off the
// read loop).
func (s *Socket) endDelivery(t *wsTransport) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delivering = false
	if !s.kickDeferred {
		return false
	}
	s.kickDeferred = false
	if s.flushing || len(s.queue) == 0 {
		return false
	}
	inline := s.ws == t && !s.closed && s.aloneUntil == 0
	for _, p := range s.queue {
		if p.Alone {
			inline = false
			break
		}
	}
	if !inline {
		s.kickLocked()
		return false
	}
	s.flushing = true
	return true
}

// wsReadFailed closes the socket after its WebSocket read failed.
func (s *Socket) wsReadFailed(err error) {
	if s.isClosed() {
		return
	}
	switch {
	case errors.Is(err, wsframe.ErrTooBig):
		s.srv.stats.tooLarge.Add(1)
		s.close(ReasonTransportError, ErrPayloadTooLarge, false, packet.Close)
	case isCloseFrame(err) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		s.close(ReasonTransportClose, nil, false, packet.Close)
	default:
		s.close(ReasonTransportError, err, false, packet.Close)
	}
}

// isCloseFrame reports whether err is a close frame from the client.
func isCloseFrame(err error) bool {
	var ce *wsframe.CloseError
	return errors.As(err, &ce)
}

// upgradeLoop runs a candidate WebSocket of a polling socket: it answers
// 2probe with 3probe, switches the socket over on 5 and goes on as its
// readLoop. Anything else aborts the upgrade (the socket stays on polling).
func (s *Socket) upgradeLoop(t *wsTransport) {
	for {
		op, b, err := t.readMessage()
		if err != nil {
			t.detach()
			t.answerReadError(err)
			s.abortUpgrade(t)
			return
		}
		switch {
		case op == wsframe.OpText && string(b) == "2probe":
			if t.idle() {
				t.got.Store(false) // see inFlight
			}
			if err := t.writeText("3probe", s.srv.cfg.WriteTimeout); err != nil {
				t.detach()
				s.abortUpgrade(t)
				return
			}
			s.mu.Lock()
			if s.upgrade == t {
				s.probed = true
				s.kickPollLocked()
			}
			s.mu.Unlock()
		case op == wsframe.OpText && string(b) == "5":
			if !s.completeUpgrade(t) {
				t.detach()
				t.closeNow()
				return
			}
			s.readLoop(t, true)
			return
		default:
			t.detach()
			s.abortUpgrade(t)
			return
		}
	}
}

// inFlight reports whether a probed upgrade candidate has read data it
// has not handled yet, or has data waiting in the kernel: then its
// upgradeLoop is about to handle the client's next packet.
func (t *wsTransport) inFlight() bool {
	return t.got.Load() || readable(int(t.fd))
}

// kickPollLocked wakes a pending poll so it re-checks the socket's state.
func (s *Socket) kickPollLocked() {
	if s.polling {
		select {
		case s.poll <- struct{}{}:
		default:
		}
	}
}

// completeUpgrade switches the socket to t.
func (s *Socket) completeUpgrade(t *wsTransport) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.upgrade != t {
		return false
	}
	s.upgrade = nil
	s.probed = false
	close(t.upDone)
	if s.upTimer != nil {
		s.upTimer.Stop()
		s.upTimer = nil
	}
	s.ws = t
	s.onWS = true
	s.srv.stats.upgrades.Add(1)
	s.kickPollLocked() // a pending poll ends with noop
	if len(s.queue) > 0 {
		s.kickLocked()
	}
	return true
}

// abortUpgrade drops candidate t; the socket stays on polling.
func (s *Socket) abortUpgrade(t *wsTransport) {
	s.mu.Lock()
	if s.upgrade == t {
		s.upgrade = nil
		s.probed = false
		close(t.upDone)
		if s.upTimer != nil {
			s.upTimer.Stop()
			s.upTimer = nil
		}
	}
	s.mu.Unlock()
	t.closeNow()
}
