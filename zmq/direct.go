package zmq

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
)

// Direct receive. A REQ or REP socket whose Recv has exactly one
// connection to read from (REQ: the peer its request went to; REP: its
// only peer), over a bare TCP or Unix socket, reads that connection from
// the goroutine that called Recv: a reply goes from the kernel to the
// caller with no goroutine hand-off, and the Go runtime wakes no second
// thread for it. On a round trip that hand-off costs more than the rest
// of the receive path together.
//
// The connection's reader goroutine owns its read side and lends it to
// Recv at a message boundary: a Recv that finds the queue empty asks for
// it (want), interrupting the reader's wait for the next message with a
// read deadline in the past (kick); the reader lends it (lent) and wakes
// Recv. Between Recv calls the read side stays lent for lendLinger, so a
// request-reply loop lends it once; then the reader goroutine takes it
// back and watches the connection as before (heartbeats, disconnection).
//
// A Recv that holds the read side blocks only while waiting for the
// first byte of a frame, where a kick interrupts it cleanly (ctx ended,
// Close): the frames of a message read so far stay in the connection's
// state for whoever reads on. It reads a frame only once the frame is
// whole in the buffer; anything else (a large frame, a frame still
// arriving) goes back to the reader goroutine, which reads it into the
// queue as usual.

// lendLinger is how long, at least (at most twice as long), the read side
// stays lent with no Recv using it.
const lendLinger = 5 * time.Millisecond

// lender is the state of a connection's read side. The fields are
// guarded by mu; the frame-reading state in zconn belongs to whoever
// holds the read side: the reader goroutine unless lent, else the Recv
// that is busy.
type lender struct {
	mu      sync.Mutex
	want    bool // a Recv asked for the read side
	lent    bool // Recv calls hold the read side; the reader waits on back
	busy    bool // a Recv is using the read side
	idle    bool // the holder waits for the first byte of a frame
	kicked  bool // the read deadline is set to interrupt that wait
	closing bool // the socket is closing: the read side is not lent again
	dead    bool // the reader goroutine has stopped
	armed   bool // timer is running
	used    bool // a Recv used the read side since timer last fired
	// turned: Recv calls that found the read side busy and wait on the
	// queue; the busy Recv's end wakes one.
	turned int
	// done is the Done channel of the busy Recv's ctx: a kick from the
	// watch of another ctx is not for it.
	done <-chan struct{}
	// back returns the read side to the reader goroutine, with the
	// error that ended the connection, if any. One value per lending.
	back chan error
	// timer gives back a read side no Recv has used for lendLinger. A
	// Recv starts it only when it is not running (Reset on a timer can
	// cost a wakeup of a second thread): it sets used, and the timer,
	// when it fires, waits another lendLinger.
	timer *time.Timer
	// watch kicks a Recv when its ctx ends. The registration stays for
	// the next Recv with the same ctx (the same Done channel): a Recv
	// does not allocate. A watch that fires once its Recv is over kicks
	// nobody.
	watchDone <-chan struct{}
	watchStop func() bool
}

// initDirect lets Recv read the connection when the socket type receives
// directly and the connection is a bare socket: a wrapper (TLS, CURVE)
// may consume bytes on a read that a deadline interrupts.
func (c *zconn) initDirect() {
	if !c.s.typ.receivesDirectly() || bareRawConn(c.nc) == nil {
		return
	}
	d := &lender{back: make(chan error, 1)}
	d.timer = time.AfterFunc(time.Hour, c.lendExpired)
	d.timer.Stop()
	c.d = d
}

// endLending marks the read side's reader goroutine as stopped.
func (c *zconn) endLending() {
	if d := c.d; d != nil {
		d.mu.Lock()
		d.dead = true
		d.timer.Stop()
		if d.watchStop != nil {
			d.watchStop()
			d.watchStop, d.watchDone = nil, nil
		}
		d.mu.Unlock()
	}
}

// kickLocked interrupts the holder's wait for the first byte of a
// message. d.mu is held.
func (c *zconn) kickLocked() {
	if d := c.d; d.idle && !d.kicked {
		d.kicked = true
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

func (c *zconn) kick() {
	c.d.mu.Lock()
	c.kickLocked()
	c.d.mu.Unlock()
}

// kickFor kicks a busy Recv whose ctx has the Done channel done.
func (c *zconn) kickFor(done <-chan struct{}) {
	d := c.d
	d.mu.Lock()
	if d.busy && d.done == done {
		c.kickLocked()
	}
	d.mu.Unlock()
}

// unwant withdraws a Recv's request for the read side, once that Recv
// returns without it (a message from the queue, its ctx ended).
func (c *zconn) unwant() {
	d := c.d
	d.mu.Lock()
	d.want = false
	d.mu.Unlock()
}

// waitFirst waits for the first byte of a frame; the caller has set
// idle. It reports whether a kick ended the wait (then err is nil).
func (c *zconn) waitFirst() (kicked bool, err error) {
	_, err = c.br.Peek(1)
	kicked = c.unidle()
	if err != nil && kicked && errors.Is(err, os.ErrDeadlineExceeded) {
		c.br.clearTimeout()
		return true, nil
	}
	return kicked, err
}

// unidle ends an idle wait, clearing the deadline of a kick; it reports
// whether there was one.
func (c *zconn) unidle() (kicked bool) {
	d := c.d
	d.mu.Lock()
	d.idle = false
	kicked = d.kicked
	if kicked {
		d.kicked = false
		c.nc.SetReadDeadline(time.Time{})
	}
	d.mu.Unlock()
	return kicked
}

// lendPoint is the reader goroutine at a message boundary: it lends the
// read side when a Recv wants it, and waits there for the next message
// (interruptibly) when nothing is buffered.
func (c *zconn) lendPoint() error {
	d := c.d
	for {
		d.mu.Lock()
		if d.want && !d.closing {
			d.want, d.lent = false, true
			d.arm()
			d.mu.Unlock()
			c.s.wakeRecv()
			if err := c.waitBack(); err != nil {
				return err
			}
			if len(c.frames) > 0 {
				return nil // Recv gave it back inside a message
			}
			continue
		}
		if c.br.Buffered() > 0 {
			d.mu.Unlock()
			return nil
		}
		d.idle = true
		d.mu.Unlock()
		if _, err := c.waitFirst(); err != nil {
			return err
		}
	}
}

// waitBack waits for the lent read side to come back.
func (c *zconn) waitBack() error {
	d := c.d
	select {
	case err := <-d.back:
		return err
	case <-c.done:
	}
	d.mu.Lock()
	d.dead = true
	if d.lent && !d.busy {
		d.lent = false
		d.mu.Unlock()
		return ErrClosed
	}
	d.mu.Unlock()
	// A Recv holds it, and gives it back now that the connection is
	// closed, or has just given it back.
	if err := <-d.back; err != nil {
		return err
	}
	return ErrClosed
}

// arm starts the timer unless it runs. d.mu is held.
func (d *lender) arm() {
	if !d.armed {
		d.armed = true
		d.timer.Reset(lendLinger)
	}
}

// lendExpired gives back a read side no Recv has used for lendLinger.
// While a Recv uses it, the timer stops: that Recv's end starts it.
func (c *zconn) lendExpired() {
	d := c.d
	d.mu.Lock()
	if !d.lent || d.busy {
		d.armed = false
		d.mu.Unlock()
		return
	}
	if d.used {
		d.used = false
		d.timer.Reset(lendLinger)
		d.mu.Unlock()
		return
	}
	d.lent, d.armed = false, false
	d.mu.Unlock()
	d.back <- nil
}

// reclaim gives the read side back to the reader goroutine unless a Recv
// is using it: something other than Recv needs the messages read into the
// queue (a Poller, Close). closing also interrupts a Recv waiting on it
// and stops lending.
func (c *zconn) reclaim(closing bool) {
	d := c.d
	d.mu.Lock()
	if closing {
		d.closing = true
		if d.lent {
			c.kickLocked()
		}
	}
	if d.lent && !d.busy {
		d.lent = false
		d.mu.Unlock()
		d.back <- nil
		return
	}
	d.mu.Unlock()
}

// giveBack returns the read side from a Recv to the reader goroutine,
// with the error that ends the connection, if any.
func (c *zconn) giveBack(err error) {
	d := c.d
	d.mu.Lock()
	d.busy, d.lent, d.done = false, false, nil
	wake := d.turned > 0
	d.turned = 0
	d.mu.Unlock()
	d.back <- err
	if wake {
		c.s.wakeRecv()
	}
}

// endDirect ends a Recv's use of the read side: it stays lent for the
// next Recv, for lendLinger.
func (c *zconn) endDirect() {
	d := c.d
	d.mu.Lock()
	if d.dead || d.closing {
		d.mu.Unlock()
		c.giveBack(nil)
		return
	}
	d.busy, d.used, d.done = false, true, nil
	d.arm()
	wake := d.turned > 0
	d.turned = 0
	d.mu.Unlock()
	if wake {
		c.s.wakeRecv() // another Recv's turn
	}
}

// recvDirect receives the next message of the connection from the
// calling goroutine. ok is false when Recv has to wait on the queue
// instead: the queue has messages, the read side is not lent yet (asked
// is true: it asked for it, and the reader goroutine wakes Recv once it
// is lent), another Recv uses it, or the next message is not whole in
// the buffer (the reader goroutine reads it). err is the ctx's error.
func (c *zconn) recvDirect(ctx context.Context) (m Msg, ok, asked bool, err error) {
	d := c.d
	d.mu.Lock()
	if d.dead || d.closing {
		d.mu.Unlock()
		return nil, false, false, nil
	}
	if d.busy {
		d.turned++
		d.mu.Unlock()
		return nil, false, false, nil
	}
	if !d.lent {
		if !d.want {
			d.want = true
			c.kickLocked()
		}
		d.mu.Unlock()
		return nil, false, true, nil
	}
	d.busy, d.done = true, ctx.Done()
	if done := d.done; done != nil && done != d.watchDone {
		if d.watchStop != nil {
			d.watchStop()
		}
		d.watchDone, d.watchStop = done, context.AfterFunc(ctx, func() { c.kickFor(done) })
	}
	d.mu.Unlock()
	// The reader goroutine queued messages of this connection before it
	// lent the read side (a stale want): those come first.
	if c.s.queued() {
		c.endDirect()
		return nil, false, false, nil
	}
	for {
		if c.br.Buffered() == 0 {
			d.mu.Lock()
			if d.closing || d.dead {
				d.mu.Unlock()
				c.giveBack(nil)
				return nil, false, false, nil
			}
			d.idle = true
			d.mu.Unlock()
			// A message queued from another connection (REP's second
			// peer, the new peer of a relaxed REQ) kicks this wait.
			if !c.s.addDirectWaiter(c) {
				c.unidle()
				c.endDirect()
				return nil, false, false, nil
			}
			if err := ctx.Err(); err != nil {
				c.s.removeDirectWaiter(c)
				c.unidle()
				c.endDirect()
				return nil, false, false, err
			}
			kicked, err := c.waitFirst()
			c.s.removeDirectWaiter(c)
			if err != nil {
				c.giveBack(err)
				return nil, false, false, nil
			}
			if kicked {
				// The ctx ended, or the socket is closing, or the
				// queue has a message (both seen above), or a late
				// kick meant for an earlier wait.
				if err := ctx.Err(); err != nil {
					c.endDirect()
					return nil, false, false, err
				}
				continue
			}
		}
		if !c.frameBuffered() {
			c.giveBack(nil)
			return nil, false, false, nil
		}
		m, err := c.readFrame()
		if err != nil {
			c.giveBack(err)
			return nil, false, false, nil
		}
		if m != nil {
			c.p.msgsIn.Add(1)
			c.p.bytesIn.Add(uint64(m.Size() - len(c.rid)))
			c.s.directIn.Add(1)
			c.endDirect()
			return m, true, false, nil
		}
	}
}

// frameBuffered reports whether the next frame is whole in the buffer
// (or malformed: readFrame reports that without waiting).
func (c *zconn) frameBuffered() bool {
	b := c.br.buf[c.br.r:c.br.w]
	_, size, hl, err := zmtp.ParseFrameHeader(b, -1)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return false
	}
	return err != nil || int64(len(b)-hl) >= size
}

// receivesDirectly reports whether Recv on a socket of type t may read a
// connection itself (see directConn).
func (t Type) receivesDirectly() bool { return t == Req || t == Rep }

// directConn returns the connection Recv may read itself, or nil.
func (s *Socket) directConn() *zconn {
	var p *pipe
	s.mu.Lock()
	switch s.typ {
	case Req:
		p = s.req.p
	case Rep:
		if len(s.pipes) == 1 {
			p = s.pipes[0]
		}
	}
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c == nil || c.d == nil {
		return nil
	}
	return c
}

// reclaimDirect gives every lent read side back to its reader goroutine
// (see zconn.reclaim).
func (s *Socket) reclaimDirect(closing bool) {
	if !s.typ.receivesDirectly() {
		return
	}
	for _, c := range s.conns(func(c *zconn) bool { return c.d != nil }) {
		c.reclaim(closing)
	}
}

// addDirectWaiter records c as waiting in a Recv, to be kicked when a
// message is queued; it reports false when the queue already has one.
func (s *Socket) addDirectWaiter(c *zconn) bool {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	if s.in.len() > 0 || s.inClosed {
		return false
	}
	s.directWaiters = append(s.directWaiters, c)
	return true
}

func (s *Socket) removeDirectWaiter(c *zconn) {
	s.inMu.Lock()
	for i, w := range s.directWaiters {
		if w == c {
			last := len(s.directWaiters) - 1
			s.directWaiters[i] = s.directWaiters[last]
			s.directWaiters[last] = nil
			s.directWaiters = s.directWaiters[:last]
			break
		}
	}
	s.inMu.Unlock()
}

// wakeRecv wakes a Recv waiting on the queue, or the next one to wait.
func (s *Socket) wakeRecv() {
	select {
	case s.inSig <- struct{}{}:
	default:
	}
}

// queued reports whether the receive queue has messages.
func (s *Socket) queued() bool {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	return s.in.len() > 0
}
