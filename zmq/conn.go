package zmq

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
)

// Buffer sizes of a connection. Small messages are batched into 64 KiB
// writes; received small frames are carved out of 64 KiB slabs so that the
// steady state allocates nothing per message.
const (
	readBufSize  = 64 << 10
	writeBufSize = 64 << 10
	slabSize     = 64 << 10
	slabMax      = 1 << 10 // frames up to this size share a slab
	frameSlab    = 1024
	maxBatch     = 256
	zeroCopySize = 16 << 10 // frames from this size are written without a copy
	largeHead    = 8 << 10  // ... but for their first bytes (see writeMsg)
	maxCommand   = 1 << 20  // commands above this need a MaxMsgSize as large
	trustedSize  = 8 << 20  // bodies above this are read before being allocated
)

// zconn is one established ZMTP connection (tcp or ipc). Its reader runs
// on the goroutine that called serveConn; its writer is a goroutine that
// drains the pipe's queue.
type zconn struct {
	s         *Socket
	p         *pipe
	nc        net.Conn
	br        *connReader
	bw        *bufio.Writer
	peerMinor byte
	peerType  string
	peerID    []byte

	done     chan struct{}
	doneOnce sync.Once
	shut     chan struct{} // closed by shutdown: the writer half-closes
	shutOnce sync.Once
	errMu    sync.Mutex
	err      error

	rx      atomic.Uint64 // frames received, for heartbeats
	wrote   atomic.Bool   // a message was written: Close waits for the peer
	peerTTL atomic.Int64  // nanoseconds asked for by the peer's PING

	// reader-owned
	rid     []byte // ROUTER: the peer's routing id, put before each message
	slab    []byte
	fslab   [][]byte
	frames  [][]byte
	msgSize int64 // of the frames so far
	batch   []Msg
	d       *lender // non-nil: Recv may read this connection (direct.go)
	cmdBuf  []byte
	// wmu guards bw and the fields below: the writer goroutine holds
	// it while it writes, and so does a REQ or REP Send that writes its
	// message itself (writeInline).
	wmu     sync.Mutex
	scratch []byte
	iw      *inlineWriter // nil: every message goes through the writer
}

func (c *zconn) close(err error) {
	c.doneOnce.Do(func() {
		c.errMu.Lock()
		c.err = err
		c.errMu.Unlock()
		close(c.done)
		c.nc.Close()
	})
}

// shutdown asks the writer to end the connection gracefully: once its
// queue is written it shuts down the sending side, and the reader reads
// on until the peer closes (see Socket.shutdownConns).
func (c *zconn) shutdown() {
	c.shutOnce.Do(func() { close(c.shut) })
}

// closeWrite flushes what is buffered and shuts down the sending side;
// where the connection cannot half-close, it closes.
func (c *zconn) closeWrite() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.bw.Buffered() > 0 {
		if err := c.bw.Flush(); err != nil {
			c.close(writeErr(err))
			return
		}
	}
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		c.close(ErrClosed)
	}
}

func (c *zconn) cause() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

func (s *Socket) metadata() zmtp.Metadata {
	md := zmtp.Metadata{{Name: "Socket-Type", Value: []byte(s.typ.String())}}
	if s.typ == Req || s.typ == Dealer || s.typ == Router {
		// As libzmq: these types always send Identity, empty when no
		// RoutingID is set; the others never do.
		md = append(md, zmtp.Property{Name: "Identity", Value: s.cfg.RoutingID})
	}
	keys := make([]string, 0, len(s.cfg.Metadata))
	for k := range s.cfg.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		md = append(md, zmtp.Property{Name: k, Value: []byte(s.cfg.Metadata[k])})
	}
	return md
}

// handshake runs the greeting and the NULL mechanism over nc.
func (s *Socket) handshake(ctx context.Context, nc net.Conn) (*zconn, error) {
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	c := &zconn{s: s, nc: nc, br: newConnReader(nc, readBufSize), done: make(chan struct{}), shut: make(chan struct{})}
	var mech zmtp.Mechanism = zmtp.NewNull(s.metadata())
	if pc := s.cfg.Plain; pc != nil {
		mech = &zmtp.Plain{Server: pc.Server, Username: pc.Username, Password: pc.Password,
			Authenticate: pc.Authenticate, Metadata: s.metadata()}
	} else if cc := s.cfg.Curve; cc != nil {
		mech = s.curveMechanism(cc)
	}
	if _, err := nc.Write(zmtp.AppendGreeting(nil, zmtp.Greeting{Mechanism: mech.Name()})); err != nil {
		return nil, err
	}
	var g [zmtp.GreetingSize]byte
	if _, err := io.ReadFull(c.br, g[:zmtp.SignatureSize+1]); err != nil {
		return nil, err
	}
	if _, err := zmtp.ParseGreeting(g[:zmtp.SignatureSize+1]); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if _, err := io.ReadFull(c.br, g[zmtp.SignatureSize+1:]); err != nil {
		return nil, err
	}
	gr, err := zmtp.ParseGreeting(g[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	c.peerMinor = gr.Minor
	if gr.Major > 3 {
		c.peerMinor = zmtp.VersionMinor
	}
	if gr.Mechanism != mech.Name() {
		nc.Write(zmtp.AppendError(nil, "security mechanism mismatch"))
		return nil, fmt.Errorf("%w: peer offers %q", zmtp.ErrMechanism, gr.Mechanism)
	}
	if start := mech.Start(); len(start) > 0 {
		if _, err := nc.Write(start); err != nil {
			return nil, err
		}
	}
	for {
		flags, body, err := zmtp.ReadFrame(c.br, nil, 1<<20)
		if err != nil {
			return nil, curveHandshakeErr(mech, fmt.Errorf("%w: %w", ErrProtocol, err))
		}
		if flags&zmtp.FlagCommand == 0 {
			return nil, fmt.Errorf("%w: data frame during handshake", ErrProtocol)
		}
		cmd, err := zmtp.ParseCommand(body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		out, md, done, err := mech.Next(cmd)
		if len(out) > 0 {
			if _, werr := nc.Write(out); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			return nil, err
		}
		if !done {
			continue
		}
		pt, _ := md.Get("Socket-Type")
		c.peerType = string(pt)
		if !zmtp.Compatible(s.typ.String(), c.peerType) {
			nc.Write(zmtp.AppendError(nil, "invalid socket type"))
			return nil, fmt.Errorf("%w: %s cannot talk to %q", ErrIncompatible, s.typ, c.peerType)
		}
		if id, ok := md.Get("Identity"); ok && len(id) > 0 && id[0] != 0 {
			c.peerID = append([]byte(nil), id...)
		}
		break
	}
	nc.SetDeadline(time.Time{})
	c.secureCurve(mech)
	return c, nil
}

// serveConn runs one connection to the end: handshake, attach to p (a new
// pipe when nil), read until it fails, detach. ctx ends it.
func (s *Socket) serveConn(ctx context.Context, nc net.Conn, p *pipe, endpoint, transport string) (handshaked bool) {
	local, remote := nc.LocalAddr().String(), nc.RemoteAddr().String()
	ev := Event{Endpoint: endpoint, Local: local, Remote: remote}
	c, err := s.handshake(ctx, nc)
	if err != nil {
		nc.Close()
		s.refused.Add(1)
		ev.Type, ev.Err = EventHandshakeFailed, err
		s.log.Debug("handshake failed", "endpoint", endpoint, "remote", remote, "err", err)
		s.emit(ev)
		return false
	}
	ev.PeerType = c.peerType
	stop := context.AfterFunc(ctx, func() { c.close(ErrClosed) })
	defer stop()
	if p == nil {
		p = s.newPipe(endpoint, transport, false)
	}
	c.p = p
	c.bw = bufio.NewWriterSize(c.nc, writeBufSize)
	if s.typ == Req || s.typ == Rep {
		c.iw = newInlineWriter(c.nc)
	}
	c.initDirect()
	c.br.pool = &s.pool
	p.mu.Lock()
	p.conn = c
	p.mu.Unlock()
	if err := s.attach(p, c.peerType, c.peerID); err != nil {
		p.mu.Lock()
		p.conn = nil
		p.mu.Unlock()
		c.close(err)
		s.refused.Add(1)
		if !p.dialed {
			p.dead.Store(true)
		}
		ev.Type, ev.Err = EventHandshakeFailed, err
		s.emit(ev)
		return true
	}
	ev.Type = EventHandshakeSucceeded
	s.emit(ev)
	if s.typ == Router {
		// attach set the routing id on this goroutine; it stays for the
		// life of the connection.
		c.rid = p.routingID
		p.prefixed.Store(true)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop()
	}()
	err = c.readLoop()
	c.endLending()
	c.br.retire()
	c.close(err)
	wg.Wait()
	if cause := c.cause(); cause != nil {
		err = cause
	}
	p.mu.Lock()
	if p.conn == c {
		p.conn = nil
	}
	p.writing = false
	p.mu.Unlock()
	if p.dialed {
		s.detach(p, s.cfg.Immediate)
	} else {
		s.dropPipe(p)
	}
	s.signalSpace()
	ev.Type, ev.Err = EventDisconnected, err
	s.log.Debug("disconnected", "endpoint", endpoint, "remote", remote, "err", err)
	s.emit(ev)
	return true
}

// alloc returns n bytes for a received frame, from a shared slab when
// small.
func (c *zconn) alloc(n int) []byte {
	if n > slabMax {
		return c.s.pool.get(n)
	}
	if cap(c.slab)-len(c.slab) < n {
		c.slab = make([]byte, 0, slabSize)
	}
	l := len(c.slab)
	c.slab = c.slab[:l+n]
	return c.slab[l : l+n : l+n]
}

// msgOf copies the scratch frames into a slab-backed Msg, after the
// peer's routing id on a ROUTER.
func (c *zconn) msgOf() Msg {
	n := len(c.frames)
	if c.rid != nil {
		n++
	}
	if n > 64 {
		m := make(Msg, 0, n)
		if c.rid != nil {
			m = append(m, c.rid)
		}
		return append(m, c.frames...)
	}
	if cap(c.fslab)-len(c.fslab) < n {
		c.fslab = make([][]byte, 0, frameSlab)
	}
	l := len(c.fslab)
	if c.rid != nil {
		c.fslab = append(c.fslab, c.rid)
	}
	// One append per frame: cheaper than a bulk copy of pointers (with
	// its write barriers) for the usual one or two frames.
	//lint:ignore S1011 see above
	for _, f := range c.frames {
		c.fslab = append(c.fslab, f)
	}
	return Msg(c.fslab[l : l+n : l+n])
}

// flush hands the batch of received messages to the socket, waiting
// while the pipe is over its receive limit.
func (c *zconn) flush() error {
	s, p := c.s, c.p
	var bytes uint64
	for _, m := range c.batch {
		bytes += uint64(m.Size() - len(c.rid))
	}
	p.msgsIn.Add(uint64(len(c.batch)))
	p.bytesIn.Add(bytes)
	ms := c.batch
	for len(ms) > 0 {
		n := s.pushIn(p, ms, false)
		ms = ms[n:]
		if len(ms) == 0 {
			break
		}
		select {
		case <-p.inSpace:
		case <-c.done:
			return ErrClosed
		}
	}
	clear(c.batch)
	c.batch = c.batch[:0]
	return nil
}

// readLoop reads frames until the connection fails, handing received
// messages to the socket in batches. On a socket that receives directly
// (see direct.go), it lends the connection's read side to Recv at
// message boundaries.
func (c *zconn) readLoop() error {
	for {
		if len(c.batch) > 0 && c.br.Buffered() < 2 {
			if err := c.flush(); err != nil {
				return err
			}
		}
		if c.d != nil && len(c.batch) == 0 && len(c.frames) == 0 {
			if err := c.lendPoint(); err != nil {
				return err
			}
		}
		m, err := c.readFrame()
		if err != nil {
			return err
		}
		if m != nil {
			c.batch = append(c.batch, m)
			if len(c.batch) >= maxBatch {
				if err := c.flush(); err != nil {
					return err
				}
			}
		}
	}
}

// readFrame reads one frame. When the frame ends a message the socket
// wants, it returns that message; otherwise (a command, a frame with
// MORE, a subscription) nil. Before a read that would wait, it hands the
// batch of messages received so far to the socket.
func (c *zconn) readFrame() (Msg, error) {
	s := c.s
	h, err := c.br.Peek(2)
	if err != nil {
		return nil, err
	}
	if h[0]&zmtp.FlagLong != 0 {
		if len(c.batch) > 0 && c.br.Buffered() < 9 {
			if err := c.flush(); err != nil {
				return nil, err
			}
		}
		if h, err = c.br.Peek(9); err != nil {
			return nil, noEOF(err)
		}
	}
	limit := int64(-1)
	if max := s.cfg.MaxMsgSize; max > 0 {
		limit = max - c.msgSize
	}
	flags, size, hl, err := zmtp.ParseFrameHeader(h, limit)
	if err != nil {
		if errors.Is(err, zmtp.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %w", ErrMsgTooLarge, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if len(c.batch) > 0 && int64(c.br.Buffered()) < int64(hl)+size {
		if err := c.flush(); err != nil {
			return nil, err
		}
	}
	c.br.Discard(hl)
	c.rx.Add(1)
	if flags&zmtp.FlagCommand != 0 {
		if size > maxCommand && (s.cfg.MaxMsgSize < 0 || size > s.cfg.MaxMsgSize) {
			return nil, fmt.Errorf("%w: command of %d bytes", ErrMsgTooLarge, size)
		}
		if int64(cap(c.cmdBuf)) < size {
			c.cmdBuf = make([]byte, size)
		}
		body := c.cmdBuf[:size]
		if _, err := io.ReadFull(c.br, body); err != nil {
			return nil, noEOF(err)
		}
		return nil, c.command(body)
	}
	var body []byte
	if size <= slabMax && int64(c.br.Buffered()) >= size {
		// Small and already here: the frame is the buffer's bytes.
		body = c.br.Take(int(size))
	} else if size <= trustedSize {
		body = c.alloc(int(size))
		if err := c.br.ReadFull(body); err != nil {
			return nil, err
		}
	} else {
		// Without a limit, never trust a large declared size: grow
		// the body as the bytes arrive.
		var bb bytes.Buffer
		bb.Grow(trustedSize)
		n, err := bb.ReadFrom(io.LimitReader(c.br, size))
		if err != nil {
			return nil, err
		}
		if n < size {
			return nil, io.ErrUnexpectedEOF
		}
		body = bb.Bytes()
	}
	c.frames = append(c.frames, body)
	c.msgSize += size
	if flags&zmtp.FlagMore != 0 {
		return nil, nil
	}
	c.msgSize = 0
	var m Msg
	switch {
	case (s.typ == Pub || s.typ == XPub) && len(c.frames) == 1 && len(body) > 0 && body[0] <= 1:
		// ZMTP 3.0 subscription: \x01topic or \x00topic.
		s.applySub(c.p, body[0] == 1, body[1:])
		s.pool.recycleMsg(Msg{body}) // applySub keeps a copy
	case s.typ != Pub && s.typ != Push:
		m = c.msgOf()
	}
	clear(c.frames)
	c.frames = c.frames[:0]
	return m, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// command handles a command received after the handshake.
func (c *zconn) command(body []byte) error {
	cmd, err := zmtp.ParseCommand(body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	switch cmd.Name {
	case zmtp.CmdPing:
		ttl, pctx, err := zmtp.ParsePing(cmd.Data)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if ttl > 0 {
			c.peerTTL.Store(int64(ttl) * int64(100*time.Millisecond))
		}
		c.p.send(outMsg{kind: kindPong, m: Msg{append([]byte(nil), pctx...)}}, true)
	case zmtp.CmdPong:
	case zmtp.CmdSubscribe, zmtp.CmdCancel:
		if c.s.typ == Pub || c.s.typ == XPub {
			c.s.applySub(c.p, cmd.Name == zmtp.CmdSubscribe, append([]byte(nil), cmd.Data...))
		}
	case zmtp.CmdError:
		reason, _ := zmtp.ParseError(cmd.Data)
		return &zmtp.PeerError{Reason: reason}
	default:
		// Unknown commands are ignored, as RFC 37 asks.
	}
	return nil
}

// writeLoop drains the pipe's queue into the connection, flushing when
// the queue is empty, and runs heartbeats.
func (c *zconn) writeLoop() {
	p := c.p
	cfg := &c.s.cfg
	var tick <-chan time.Time
	var lastRx, rxAtPing uint64
	var pinged bool
	lastSeen := time.Now()
	pingAt := lastSeen
	hbIvl := cfg.HeartbeatIvl
	if hbIvl > 0 {
		t := time.NewTicker(hbIvl)
		defer t.Stop()
		tick = t.C
	}
	if hbIvl > 0 {
		// The first PING goes out at once, so that the peer learns our
		// TTL without waiting a whole interval.
		pinged, pingAt = true, lastSeen
		c.wmu.Lock()
		c.scratch = zmtp.AppendPing(c.scratch[:0], uint16(cfg.HeartbeatTTL/(100*time.Millisecond)), nil)
		c.bw.Write(c.scratch)
		c.wmu.Unlock()
	}
	ttlTicker := (*time.Ticker)(nil)
	defer func() {
		if ttlTicker != nil {
			ttlTicker.Stop()
		}
	}()
	for {
		p.mu.Lock()
		batch := p.q
		if len(batch) == 0 {
			p.mu.Unlock()
			c.wmu.Lock()
			if c.bw.Buffered() > 0 {
				if hbIvl > 0 {
					c.nc.SetWriteDeadline(time.Now().Add(cfg.HeartbeatTimeout))
				}
				if err := c.bw.Flush(); err != nil {
					c.wmu.Unlock()
					c.close(writeErr(err))
					return
				}
			}
			if hbIvl > 0 && c.iw != nil {
				// Written: no deadline while idle, or an inline write
				// (which never waits) would meet an expired one.
				c.nc.SetWriteDeadline(time.Time{})
			}
			c.wmu.Unlock()
			p.mu.Lock()
			if len(p.q) == 0 {
				p.writing = false
			}
			p.mu.Unlock()
			c.s.signalSpace()
			if tick == nil && ttlTicker == nil && c.peerTTL.Load() > 0 {
				ttlTicker = time.NewTicker(time.Duration(c.peerTTL.Load()) / 2)
				tick = ttlTicker.C
			}
			select {
			case <-p.wake:
			case <-c.done:
				return
			case <-c.shut:
				c.closeWrite()
				return
			case now := <-tick:
				rx := c.rx.Load()
				if rx != lastRx {
					lastRx, lastSeen = rx, now
				}
				if pinged && rx != rxAtPing {
					pinged = false
				}
				// libzmq's rule: a PING not followed by any traffic
				// within the timeout ends the connection; so does
				// silence longer than the TTL the peer asked for.
				ttl := time.Duration(c.peerTTL.Load())
				if pinged && now.Sub(pingAt) >= cfg.HeartbeatTimeout || ttl > 0 && now.Sub(lastSeen) > ttl {
					c.close(ErrHeartbeat)
					return
				}
				if hbIvl > 0 && !pinged {
					pinged, pingAt, rxAtPing = true, now, rx
					c.wmu.Lock()
					c.scratch = zmtp.AppendPing(c.scratch[:0], uint16(cfg.HeartbeatTTL/(100*time.Millisecond)), nil)
					_, err := c.bw.Write(c.scratch)
					c.wmu.Unlock()
					if err != nil {
						c.close(err)
						return
					}
				}
			}
			continue
		}
		p.q = p.spare[:0]
		p.spare = nil
		p.writing = true
		p.mu.Unlock()
		c.s.signalSpace()
		if hbIvl > 0 {
			// A peer that stops reading must not stall us forever.
			c.nc.SetWriteDeadline(time.Now().Add(cfg.HeartbeatTimeout))
		}
		var msgs, bytes uint64
		c.wmu.Lock()
		for i := range batch {
			n, err := c.writeMsg(&batch[i])
			if err != nil {
				c.wmu.Unlock()
				c.close(writeErr(err))
				return
			}
			if batch[i].kind == kindData {
				msgs++
				bytes += uint64(n)
			}
		}
		c.wmu.Unlock()
		clear(batch)
		if msgs > 0 && !c.wrote.Load() {
			c.wrote.Store(true)
		}
		p.msgsOut.Add(msgs)
		p.bytesOut.Add(bytes)
		p.mu.Lock()
		if p.spare == nil {
			p.spare = batch[:0]
		}
		p.mu.Unlock()
	}
}

// writeErr names a write that timed out: the peer stopped reading.
func writeErr(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: peer stopped reading: %w", ErrHeartbeat, err)
	}
	return err
}

func (c *zconn) writeMsg(om *outMsg) (int, error) {
	switch om.kind {
	case kindSub, kindCancel:
		c.scratch = zmtp.AppendSubscribe(c.scratch[:0], c.peerMinor, om.kind == kindSub, om.m[0])
		_, err := c.bw.Write(c.scratch)
		return 0, err
	case kindPong:
		c.scratch = zmtp.AppendPong(c.scratch[:0], om.m[0])
		_, err := c.bw.Write(c.scratch)
		return 0, err
	}
	total := 0
	for flags, f := range om.frames {
		if len(f) <= 256 && c.bw.Available() >= len(f)+9 {
			// Fast path: header and body straight into the buffer.
			buf := c.bw.AvailableBuffer()
			buf = zmtp.AppendFrameHeader(buf, flags, len(f))
			buf = append(buf, f...)
			c.bw.Write(buf)
		} else if len(f) >= zeroCopySize {
			// Large frame, as libzmq's encoder sends it: the header
			// and the first largeHead bytes of the body go out with
			// what is buffered, then the rest straight from the
			// frame, without a copy. Two writes rather than one
			// writev: the peer starts reading the head while the
			// kernel still copies the rest (about 1.5 times the
			// throughput at 64 KiB over loopback).
			c.scratch = zmtp.AppendFrameHeader(c.scratch[:0], flags, len(f))
			c.bw.Write(c.scratch)
			k := min(c.bw.Available(), largeHead)
			c.bw.Write(f[:k])
			if err := c.bw.Flush(); err != nil {
				return total, err
			}
			if _, err := c.nc.Write(f[k:]); err != nil {
				return total, err
			}
		} else {
			c.scratch = zmtp.AppendFrameHeader(c.scratch[:0], flags, len(f))
			if _, err := c.bw.Write(c.scratch); err != nil {
				return total, err
			}
			if _, err := c.bw.Write(f); err != nil {
				return total, err
			}
		}
		total += len(f)
	}
	return total, nil
}

// inlineMax bounds the messages a Send writes itself; larger ones go
// through the writer goroutine.
const inlineMax = 16 << 10

// writeInline writes om, of size bytes (at most inlineMax), from the
// sending goroutine with one non-blocking write: it never waits for the
// socket. What the kernel does not take at once (a full socket buffer)
// goes to the writer goroutine, in order; so does om itself when the
// writer has something buffered (a PING). p.inline is set by the caller.
func (c *zconn) writeInline(om *outMsg, size int) {
	p := c.p
	c.wmu.Lock()
	if c.bw.Buffered() > 0 {
		c.wmu.Unlock()
		p.mu.Lock()
		p.inline = false
		p.q = append(p.q, *om)
		p.mu.Unlock()
		p.wakeWriter()
		return
	}
	b := c.iw.buf[:0]
	for flags, f := range om.frames {
		b = zmtp.AppendFrame(b, flags, f)
	}
	c.iw.buf = b
	n := c.iw.write(b)
	rest := n < len(b)
	if rest {
		// The writer flushes the rest (and meets any error). It fits
		// in the empty buffer: this write does not block either.
		c.bw.Write(b[n:])
		c.s.inlineRest.Add(1)
	}
	c.wmu.Unlock()
	p.msgsOut.Add(1)
	p.bytesOut.Add(uint64(size))
	if !c.wrote.Load() {
		c.wrote.Store(true)
	}
	p.mu.Lock()
	p.inline = false
	if rest && p.conn == c {
		p.writing = true // until the writer has flushed
	}
	p.mu.Unlock()
	if rest {
		p.wakeWriter()
	}
}
