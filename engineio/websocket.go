package engineio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/engineio/internal/packet"
)

// Per-connection buffer sizes of the WebSocket transport. Small on purpose:
// an idle connection holds them; large reads and writes bypass them.
const (
	wsReadBufSize  = 128
	wsWriteBufSize = 128 // holds any control frame coder/websocket writes (<= 127 bytes)
)

// wsTransport is one WebSocket connection. coder/websocket does the
// handshake, reads every frame and writes control frames; the engine
// writes its data frames itself, a whole batch per Write on the raw
// connection, serialised with coder's writes by rawConn's mutex.
type wsTransport struct {
	c    *websocket.Conn
	raw  *rawConn
	br   *bufio.Reader // coder's read buffer
	srv  *Server
	sock *Socket
	fd   int // for the poller; -1 when unknown

	upDone chan struct{} // an upgrade candidate's: closed once it completes or fails

	parked     atomic.Bool // waiting in the poller; a wake-up claims it
	registered bool        // in the epoll set; guarded by poller.mu
	unparkable bool        // closing; guarded by poller.mu
}

// rawConn is the hijacked connection handed to coder/websocket. Reads
// first return what the HTTP server had buffered. Writes are serialised,
// so coder's control frames and the engine's batches never interleave
// within a frame (coder flushes each control frame in one Write, as it
// fits in its write buffer).
type rawConn struct {
	net.Conn
	pending []byte
	timeout time.Duration // for coder's writes
	got     atomic.Bool   // bytes were read; an upgrade candidate clears it when idle

	wmu    sync.Mutex
	sealed bool // a close frame went out: no more data frames
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		c.got.Store(true)
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.got.Store(true)
	}
	return n, err
}

// Write is coder/websocket's write path (control frames). It sets its own
// deadline: the one left by the engine's last batch may be long past.
func (c *rawConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// writeData writes a batch of data frames within timeout.
func (c *rawConn) writeData(b []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.sealed {
		return ErrClosed
	}
	if err := c.Conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	_, err := c.Conn.Write(b)
	return err
}

// closeFrame is a WebSocket close frame with status 1000 (normal closure).
var closeFrame = []byte{0x88, 0x02, 0x03, 0xe8}

// writeClose writes a close frame, after which no data frame may follow.
func (c *rawConn) writeClose(timeout time.Duration) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.sealed {
		return
	}
	c.sealed = true
	if c.Conn.SetWriteDeadline(time.Now().Add(timeout)) == nil {
		_, _ = c.Conn.Write(closeFrame)
	}
}

// hijacker replaces the HTTP server's 4 KiB connection buffers with small
// ones when coder/websocket hijacks the connection.
type hijacker struct {
	http.ResponseWriter
	timeout time.Duration
	raw     *rawConn
	br      *bufio.Reader
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	raw := &rawConn{Conn: conn, timeout: h.timeout}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		raw.pending = bytes.Clone(b)
	}
	h.raw = raw
	h.br = bufio.NewReaderSize(raw, wsReadBufSize)
	return raw, bufio.NewReadWriter(h.br, bufio.NewWriterSize(raw, wsWriteBufSize)), nil
}

// acceptWS completes the WebSocket handshake.
func (srv *Server) acceptWS(w http.ResponseWriter, r *http.Request, s *Socket) (*wsTransport, error) {
	h := &hijacker{ResponseWriter: w, timeout: srv.cfg.WriteTimeout}
	c, err := websocket.Accept(h, r, &websocket.AcceptOptions{
		// Origins are checked by checkOrigin, as CORS configures.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, err
	}
	if h.raw == nil { // cannot happen: Accept hijacks through h
		c.CloseNow()
		return nil, errors.New("engineio: websocket accepted without hijack")
	}
	c.SetReadLimit(srv.cfg.MaxPayload)
	return &wsTransport{c: c, raw: h.raw, br: h.br, srv: srv, sock: s, fd: fdOf(h.raw.Conn)}, nil
}

// closeNow closes the connection without a close handshake.
func (t *wsTransport) closeNow() {
	t.srv.poller.forget(t)
	_ = t.c.CloseNow()
}

// idle reports whether nothing read from the network waits in buffers, so
// the next read would block.
func (t *wsTransport) idle() bool {
	return len(t.raw.pending) == 0 && t.br.Buffered() == 0
}

// writeText writes one text frame directly (the 3probe answer).
func (t *wsTransport) writeText(s string, timeout time.Duration) error {
	b := appendFrameHeader(nil, 0x1, len(s))
	b = append(b, s...)
	return t.raw.writeData(b, timeout)
}

// appendFrameHeader appends an unmasked, final frame header for a payload
// of n bytes.
func appendFrameHeader(dst []byte, opcode byte, n int) []byte {
	dst = append(dst, 0x80|opcode)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xffff:
		return append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// appendFrame appends p as one WebSocket frame: a text frame holding its
// text form, or a binary frame holding a binary message's raw bytes.
func appendFrame(dst []byte, p packet.Packet) []byte {
	if p.Binary {
		dst = appendFrameHeader(dst, 0x2, len(p.Data))
		return append(dst, p.Data...)
	}
	dst = appendFrameHeader(dst, 0x1, 1+len(p.Data))
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
func (s *Socket) flushWS(t *wsTransport) {
	timeout := s.srv.cfg.WriteTimeout
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			closed, graceful := s.closed, s.graceful
			s.flushing = false
			s.mu.Unlock()
			if closed {
				if graceful {
					t.raw.writeClose(min(timeout, time.Second))
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
				err = t.raw.writeData(b, timeout)
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

// scratchPool holds read buffers: an idle socket holds none.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooledScratch = 64 << 10

// readMessage reads one WebSocket message into a pooled buffer, returned
// to the pool by the caller with putScratch.
func (t *wsTransport) readMessage() (websocket.MessageType, *[]byte, error) {
	typ, r, err := t.c.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	bp := scratchPool.Get().(*[]byte)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b
			putScratch(bp)
			return 0, nil, err
		}
	}
	*bp = b
	return typ, bp, nil
}

func putScratch(bp *[]byte) {
	if cap(*bp) > maxPooledScratch {
		return
	}
	*bp = (*bp)[:0]
	scratchPool.Put(bp)
}

// decodeWS decodes a WebSocket message into a packet whose Data the
// callee owns (copied out of the scratch buffer for messages only).
func decodeWS(typ websocket.MessageType, b []byte) (packet.Packet, error) {
	if typ == websocket.MessageBinary {
		return packet.DecodeBinary(bytes.Clone(b)), nil
	}
	p, err := packet.Decode(b)
	if err != nil {
		return p, err
	}
	if p.Type == packet.Message && !p.Binary {
		d := make([]byte, len(p.Data))
		copy(d, p.Data)
		p.Data = d
	}
	return p, nil
}

// readLoop delivers the client's packets until the connection ends. It
// runs on its own goroutine, owned by the Server. When nothing is buffered
// it parks the connection in the poller and returns; the poller starts it
// again once the connection is readable, with mayPark false so that it
// reads before it checks again.
func (s *Socket) readLoop(t *wsTransport, mayPark bool) {
	for {
		if mayPark && t.idle() && s.srv.poller.park(t) {
			return
		}
		mayPark = true
		typ, bp, err := t.readMessage()
		if err != nil {
			s.wsReadFailed(err)
			return
		}
		p, err := decodeWS(typ, *bp)
		n := len(*bp)
		putScratch(bp)
		if err != nil {
			s.parseError(err)
			t.closeNow()
			return
		}
		s.lockRecv()
		ok := s.onPacket(p, n)
		s.unlockRecv()
		if !ok {
			return
		}
	}
}

// wsReadFailed closes the socket after its WebSocket read failed.
func (s *Socket) wsReadFailed(err error) {
	if s.isClosed() {
		return
	}
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		s.srv.stats.tooLarge.Add(1)
		s.close(ReasonTransportError, ErrPayloadTooLarge, false, packet.Close)
	case websocket.CloseStatus(err) != -1 || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		s.close(ReasonTransportClose, nil, false, packet.Close)
	default:
		s.close(ReasonTransportError, err, false, packet.Close)
	}
}

// upgradeLoop runs a candidate WebSocket of a polling socket: it answers
// 2probe with 3probe, switches the socket over on 5 and goes on as its
// readLoop. Anything else aborts the upgrade (the socket stays on polling).
func (s *Socket) upgradeLoop(t *wsTransport) {
	for {
		typ, bp, err := t.readMessage()
		if err != nil {
			s.abortUpgrade(t)
			return
		}
		b := *bp
		switch {
		case typ == websocket.MessageText && string(b) == "2probe":
			putScratch(bp)
			if t.idle() {
				t.raw.got.Store(false) // see inFlight
			}
			if err := t.writeText("3probe", s.srv.cfg.WriteTimeout); err != nil {
				s.abortUpgrade(t)
				return
			}
			s.mu.Lock()
			if s.upgrade == t {
				s.probed = true
				s.kickPollLocked()
			}
			s.mu.Unlock()
		case typ == websocket.MessageText && string(b) == "5":
			putScratch(bp)
			if !s.completeUpgrade(t) {
				t.closeNow()
				return
			}
			s.readLoop(t, true)
			return
		default:
			putScratch(bp)
			s.abortUpgrade(t)
			return
		}
	}
}

// inFlight reports whether a probed upgrade candidate has read data it
// has not handled yet, or has data waiting in the kernel: then its
// upgradeLoop is about to handle the client's next packet.
func (t *wsTransport) inFlight() bool {
	return t.raw.got.Load() || readable(t.fd)
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
	s.transport = transportWebSocket
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
