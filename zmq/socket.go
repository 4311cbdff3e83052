package zmq

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
)

// Socket is a ZeroMQ socket of one Type. It binds and connects to any
// number of endpoints and exchanges whole multipart messages with the
// peers behind them, with libzmq's routing for its type.
//
// All methods are safe for concurrent use by multiple goroutines; each
// message is sent and received whole. Send and Recv block until the ctx
// given to them ends, never longer; Close unblocks them with ErrClosed.
// The caller must call Close, which stops and waits for every goroutine
// the socket started.
type Socket struct {
	typ    Type
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // lifetime: cancelled by Close
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	once   sync.Once

	nextPipe atomic.Uint64
	pool     framePool
	// inlineRest counts Sends that wrote part of a message themselves
	// and left the rest to the writer (tests).
	inlineRest atomic.Uint64
	// directIn counts messages Recv read from a connection itself
	// (recvDirect; tests).
	directIn atomic.Uint64
	dropped  atomic.Uint64
	refused  atomic.Uint64

	// mu guards the fields below. Lock order: mu, then a pipe's mu, then
	// any socket's inMu, then any socket's spaceMu. A SUB-side socket may
	// take a PUB-side socket's mu (inproc subscriptions), never the other
	// way round.
	mu        sync.Mutex
	closed    bool
	pipes     []*pipe // send candidates, in attach order
	rr        int
	byID      map[string]*pipe
	nextID    uint32
	listeners []*listener
	dialers   []*dialer
	lastEP    string
	subs      subSet         // SUB, XSUB: own subscriptions, counted
	topics    map[string]int // XPUB: subscribers per topic
	lastSub   *pipe          // XPUB manual: peer of the last subscription
	req       struct {
		p       *pipe
		pending bool
		id      uint32
	}
	rep struct {
		p       *pipe
		env     Msg
		pending bool
	}

	// inMu guards the receive queue.
	inMu     sync.Mutex
	in       ring[inMsg]
	inWait   int
	inSig    chan struct{}
	inClosed bool
	watchers []chan struct{}
	// directWaiters: connections a Recv waits on itself (direct.go).
	directWaiters []*zconn

	spaceMu       sync.Mutex
	spaceCh       chan struct{}
	spaceWatchers []chan struct{}
}

type inMsg struct {
	m Msg
	p *pipe
}

// NewSocket returns a socket of type typ configured by cfg (nil means
// defaults). The socket neither binds nor connects until told to.
func NewSocket(typ Type, cfg *Config) (*Socket, error) {
	if !typ.valid() {
		return nil, fmt.Errorf("%w: socket type %d", ErrConfig, int(typ))
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := c.checkSecurity(); err != nil {
		return nil, err
	}
	s := &Socket{typ: typ, cfg: c, log: c.Logger, inSig: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("zmq", typ.String())
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	if typ == Router {
		s.byID = make(map[string]*pipe)
	}
	if typ == XPub || typ == Pub {
		s.topics = make(map[string]int)
	}
	s.req.id = uint32(time.Now().UnixNano())
	return s, nil
}

// Type returns the socket's type.
func (s *Socket) Type() Type { return s.typ }

// LastEndpoint returns the endpoint of the last successful Bind, with a
// wildcard port resolved ("tcp://127.0.0.1:41234"), like ZMQ_LAST_ENDPOINT.
func (s *Socket) LastEndpoint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastEP
}

func (s *Socket) emit(e Event) {
	if s.cfg.Monitor != nil {
		s.cfg.Monitor(e)
	}
}

// hwm returns an internal limit: 0 means none.
func hwm(v int) int {
	if v < 0 {
		return 0
	}
	return v
}

// Close stops the socket: it stops listening and receiving, waits up to
// Config.Linger for queued messages to be written (to peers still
// connecting too), then shuts down the sending side of every connection
// that carried messages and, within the same Linger, waits for each of
// those peers to close its side, so that a peer reads every message
// before it sees the connection end.
// Then it closes every connection and waits for every goroutine the
// socket started. Blocked Send and Recv calls return ErrClosed at once.
// Close is idempotent and always returns nil.
func (s *Socket) Close() error {
	s.once.Do(s.close)
	return nil
}

func (s *Socket) close() {
	s.mu.Lock()
	s.closed = true
	lns := s.listeners
	ds := s.dialers
	s.listeners, s.dialers = nil, nil
	s.mu.Unlock()
	for _, l := range lns {
		l.stop()
	}
	s.closeIn()
	if s.cfg.Linger > 0 {
		deadline := time.Now().Add(s.cfg.Linger)
		if s.linger(deadline) {
			s.shutdownConns(deadline)
		}
	}
	s.cancel(ErrClosed)
	for _, d := range ds {
		d.stop()
	}
	s.mu.Lock()
	pipes := append([]*pipe(nil), s.pipes...)
	s.mu.Unlock()
	for _, p := range pipes {
		s.dropPipe(p)
	}
	s.signalSpace()
	s.wg.Wait()
}

// closeIn closes the receive queue at the start of Close: blocked Recv
// calls return ErrClosed, and what peers send from now on is discarded,
// so that no connection's reader waits for room while Close lingers.
func (s *Socket) closeIn() {
	s.mu.Lock()
	pipes := append([]*pipe(nil), s.pipes...)
	s.mu.Unlock()
	s.inMu.Lock()
	s.inClosed = true
	ws := s.watchers
	for _, p := range pipes {
		if p.inBlocked {
			p.inBlocked = false
			select {
			case p.inSpace <- struct{}{}:
			default:
			}
		}
	}
	s.inMu.Unlock()
	s.reclaimDirect(true)
	for _, w := range ws {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// linger waits until every connected pipe's queue is written, or until
// the deadline. It reports whether every queue was written.
func (s *Socket) linger(deadline time.Time) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		ch := s.spaceChan()
		if s.drained() {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
}

// shutdownConns ends gracefully every connection that carried messages,
// once its queue is written: the writer shuts down the sending side (the
// peer reads EOF after the last message), and the reader reads on until
// the peer closes its side, or until the deadline. Closing at once could
// lose messages still in the kernel: closing a Unix socket wakes the peer
// with POLLHUP, and libzmq, when its receive queue is full at that
// moment, stops reading the connection and drops what it has not read
// yet; closing a TCP socket with unread input, or receiving anything
// after closing, sends RST, and the peer's kernel discards the data its
// application has not read. A connection that carried only commands
// (handshake, subscriptions, heartbeats) closes at once.
func (s *Socket) shutdownConns(deadline time.Time) {
	cs := s.conns(func(c *zconn) bool { return c.wrote.Load() })
	if len(cs) == 0 {
		return
	}
	for _, c := range cs {
		c.shutdown()
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for _, c := range cs {
		select {
		case <-c.done:
		case <-t.C:
			return
		}
	}
}

// conns returns the established connections of the socket's pipes for
// which keep reports true.
func (s *Socket) conns(keep func(*zconn) bool) []*zconn {
	var cs []*zconn
	s.mu.Lock()
	for _, p := range s.pipes {
		p.mu.Lock()
		if c := p.conn; c != nil && keep(c) {
			cs = append(cs, c)
		}
		p.mu.Unlock()
	}
	s.mu.Unlock()
	return cs
}

func (s *Socket) drained() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pipes {
		p.mu.Lock()
		busy := !p.dead.Load() && (len(p.q) > 0 || p.writing || p.inline)
		p.mu.Unlock()
		if busy {
			return false
		}
	}
	return true
}

// spaceChan returns a channel closed at the next signalSpace.
func (s *Socket) spaceChan() <-chan struct{} {
	s.spaceMu.Lock()
	if s.spaceCh == nil {
		s.spaceCh = make(chan struct{})
	}
	ch := s.spaceCh
	s.spaceMu.Unlock()
	return ch
}

// signalSpace wakes senders waiting for room in a queue (or for a pipe).
func (s *Socket) signalSpace() {
	s.spaceMu.Lock()
	if s.spaceCh != nil {
		close(s.spaceCh)
		s.spaceCh = nil
	}
	for _, w := range s.spaceWatchers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	s.spaceMu.Unlock()
}

// Send sends m to the peer (or peers) the socket type picks. It blocks
// while the type's mute state says so (PUSH, DEALER, REQ and PAIR at the
// high-water mark or without a peer) until ctx ends, and returns
// ctx.Err() then. PUB, XPUB and ROUTER never block: they drop at the
// high-water mark. Send takes ownership of m's frames (see Msg).
func (s *Socket) Send(ctx context.Context, m Msg) error {
	if len(m) == 0 {
		return ErrEmptyMsg
	}
	var ch <-chan struct{}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		done, err := s.trySend(m)
		s.mu.Unlock()
		if done {
			return err
		}
		if ch == nil {
			// Take the channel, then try once more, so that a signal
			// between the failed try and the wait is not lost.
			ch = s.spaceChan()
			continue
		}
		select {
		case <-ch:
			ch = nil
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return ErrClosed
		}
	}
}

// SendString sends a message of string frames; a convenience for Send.
func (s *Socket) SendString(ctx context.Context, frames ...string) error {
	return s.Send(ctx, NewMsgString(frames...))
}

// trySend queues m under s.mu. done=false means "blocked: wait for room".
func (s *Socket) trySend(m Msg) (done bool, err error) {
	om := outMsg{m: m}
	switch s.typ {
	case Push, Dealer:
		return s.roundRobin(om), nil
	case Pair:
		if len(s.pipes) == 0 {
			return false, nil
		}
		return s.pipes[0].send(om, false), nil
	case Pub, XPub:
		s.fanOut(om, true)
		return true, nil
	case XSub:
		if len(m) == 1 && len(m[0]) > 0 && m[0][0] <= 1 {
			if m[0][0] == 1 {
				s.subscribeLocked(m[0][1:])
			} else {
				s.unsubscribeLocked(m[0][1:])
			}
			return true, nil
		}
		s.fanOut(om, false)
		return true, nil
	case Req:
		if s.req.pending && !s.cfg.ReqRelaxed {
			return true, ErrState
		}
		if s.cfg.ReqCorrelate {
			s.req.id++
			id := binary.BigEndian.AppendUint32(make([]byte, 0, 4), s.req.id)
			om.pre = Msg{id, {}}
		} else {
			om.pre = delimiter
		}
		n := len(s.pipes)
		for i := 0; i < n; i++ {
			p := s.pipes[(s.rr+i)%n]
			if p.send(om, false) {
				s.rr = (s.rr + i + 1) % n
				s.req.p, s.req.pending = p, true
				return true, nil
			}
		}
		return false, nil
	case Rep:
		if !s.rep.pending {
			return true, ErrState
		}
		om.pre = s.rep.env
		if !s.rep.p.send(om, false) {
			s.dropped.Add(1)
			s.rep.p.dropped.Add(1)
		}
		s.rep.p, s.rep.env, s.rep.pending = nil, nil, false
		return true, nil
	case Router:
		p := s.byID[string(m[0])]
		if p == nil {
			if s.cfg.RouterMandatory {
				return true, ErrHostUnreachable
			}
			s.dropped.Add(1)
			return true, nil
		}
		if len(m) == 1 {
			return true, nil // routing id alone: nothing to send
		}
		om.m = m[1:]
		if p.send(om, false) {
			return true, nil
		}
		if s.cfg.RouterMandatory {
			return false, nil
		}
		s.dropped.Add(1)
		p.dropped.Add(1)
		return true, nil
	}
	return true, ErrNotSupported
}

// delimiter is the empty frame REQ puts before a request. Never modified.
var delimiter = Msg{{}}

func (s *Socket) roundRobin(om outMsg) bool {
	n := len(s.pipes)
	for i := 0; i < n; i++ {
		k := s.rr + i
		if k >= n {
			k -= n
		}
		if s.pipes[k].send(om, false) {
			s.rr = k + 1
			if s.rr == n {
				s.rr = 0
			}
			return true
		}
	}
	return false
}

// fanOut sends to every pipe (whose subscriptions match, if filter),
// dropping where a queue is full.
func (s *Socket) fanOut(om outMsg, filter bool) {
	for _, p := range s.pipes {
		if filter && !p.subs.match(om.m[0]) {
			continue
		}
		if !p.send(om, false) {
			s.dropped.Add(1)
			p.dropped.Add(1)
		}
	}
}

// Recv returns the next message for this socket type: fair-queued from
// every peer, with the routing id prepended on ROUTER, the envelope
// removed on REQ and REP, and filtered by subscription on SUB. It blocks
// until a message arrives or ctx ends (returning ctx.Err()).
func (s *Socket) Recv(ctx context.Context) (Msg, error) {
	switch s.typ {
	case Pub, Push:
		return nil, ErrNotSupported
	case Req:
		s.mu.Lock()
		ok := s.req.pending
		s.mu.Unlock()
		if !ok {
			return nil, ErrState
		}
	case Rep:
		s.mu.Lock()
		busy := s.rep.pending
		s.mu.Unlock()
		if busy {
			return nil, ErrState
		}
	}
	if s.ctx.Err() != nil {
		return nil, ErrClosed
	}
	for {
		in, ok, err := s.popIn(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if m, keep := s.filterIn(in); keep {
			return m, nil
		}
		s.pool.recycleMsg(in.m) // dropped: the application never sees it
	}
}

// RecvString receives a message and returns its frames as strings.
func (s *Socket) RecvString(ctx context.Context) ([]string, error) {
	m, err := s.Recv(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(m))
	for i, f := range m {
		out[i] = string(f)
	}
	return out, nil
}

// popIn returns the next queued message, waiting for one.
func (s *Socket) popIn(ctx context.Context) (inMsg, bool, error) {
	// asked: the connection whose read side this Recv asked for (see
	// direct.go); the request is withdrawn if Recv returns otherwise.
	var asked *zconn
	defer func() {
		if asked != nil {
			asked.unwant()
		}
	}()
	s.inMu.Lock()
	for s.in.len() == 0 {
		if s.inClosed {
			s.inMu.Unlock()
			return inMsg{}, false, ErrClosed
		}
		if s.typ.receivesDirectly() {
			s.inMu.Unlock()
			if c := s.directConn(); c != nil {
				m, ok, ask, err := c.recvDirect(ctx)
				if err != nil {
					return inMsg{}, false, err
				}
				if ok {
					return inMsg{m: m, p: c.p}, true, nil
				}
				if ask {
					asked = c
				} else if asked == c {
					asked = nil // lent to this Recv since
				}
			}
			s.inMu.Lock()
			if s.in.len() > 0 || s.inClosed {
				continue
			}
		}
		s.inWait++
		s.inMu.Unlock()
		var err error
		select {
		case <-s.inSig:
		case <-ctx.Done():
			err = ctx.Err()
		case <-s.ctx.Done():
			err = ErrClosed
		}
		s.inMu.Lock()
		s.inWait--
		if err != nil {
			s.inMu.Unlock()
			return inMsg{}, false, err
		}
	}
	in, _ := s.in.pop()
	wakePeer := s.poppedLocked(in.p)
	if s.in.len() > 0 && s.inWait > 0 {
		s.wakeRecv()
	}
	s.inMu.Unlock()
	if wakePeer != nil {
		wakePeer.signalSpace()
	}
	return in, true, nil
}

// poppedLocked accounts for a message of p leaving the receive queue: a
// reader blocked at the limit resumes, and an inproc sender is returned
// for the caller to wake (signalSpace) once inMu is released.
func (s *Socket) poppedLocked(p *pipe) (wakePeer *Socket) {
	p.inCount--
	if p.inHWM > 0 && p.inCount < p.inHWM {
		if p.inBlocked {
			p.inBlocked = false
			select {
			case p.inSpace <- struct{}{}:
			default:
			}
		}
		if p.inCount == p.inHWM-1 {
			wakePeer = p.src.Load()
		}
	}
	return wakePeer
}

// pushIn queues messages from p for Recv. It returns how many it took:
// fewer than len(ms) when p reached its receive limit (then p.inBlocked
// is set and p.inSpace will be signalled). force ignores the limit.
func (s *Socket) pushIn(p *pipe, ms []Msg, force bool) int {
	s.inMu.Lock()
	if s.inClosed {
		s.inMu.Unlock()
		return len(ms)
	}
	n := 0
	for _, m := range ms {
		if !force && p.inHWM > 0 && p.inCount >= p.inHWM {
			if !s.cfg.Conflate {
				p.inBlocked = true
				break
			}
		}
		if s.cfg.Conflate {
			for s.in.len() > 0 {
				old, _ := s.in.pop()
				old.p.inCount--
				s.pool.recycleMsg(old.m)
			}
		}
		s.in.push(inMsg{m: m, p: p})
		p.inCount++
		n++
	}
	wake := n > 0 && s.inWait > 0
	ws := s.watchers
	var dw *zconn
	if n > 0 && len(s.directWaiters) > 0 {
		dw = s.directWaiters[0]
	}
	s.inMu.Unlock()
	if dw != nil {
		dw.kick()
	}
	if n > 0 {
		if wake {
			s.wakeRecv()
		}
		for _, w := range ws {
			select {
			case w <- struct{}{}:
			default:
			}
		}
	}
	return n
}

// filterIn applies the type's receive rules to a queued message.
func (s *Socket) filterIn(in inMsg) (Msg, bool) {
	m := in.m
	switch s.typ {
	case Sub:
		s.mu.Lock()
		ok := s.subs.match(m[0])
		s.mu.Unlock()
		return m, ok
	case Router:
		if in.p.prefixed.Load() {
			return m, true
		}
		out := make(Msg, 0, len(m)+1)
		out = append(out, in.p.routingID)
		return append(out, m...), true
	case Req:
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.req.pending || in.p != s.req.p {
			return nil, false
		}
		if s.cfg.ReqCorrelate {
			if len(m) < 2 || len(m[0]) != 4 || binary.BigEndian.Uint32(m[0]) != s.req.id {
				return nil, false
			}
			m = m[1:]
		}
		if len(m) < 2 || len(m[0]) != 0 {
			return nil, false
		}
		s.req.pending = false
		if len(m) < len(in.m) {
			s.pool.recycleMsg(in.m[:1]) // the correlation id
		}
		return m[1:], true
	case Rep:
		i := 0
		for i < len(m) && len(m[i]) != 0 {
			i++
		}
		if i >= len(m)-1 {
			return nil, false // no delimiter, or nothing after it
		}
		s.mu.Lock()
		s.rep.p, s.rep.env, s.rep.pending = in.p, m[:i+1:i+1], true
		s.mu.Unlock()
		return m[i+1:], true
	}
	return m, true
}

// Subscribe adds a subscription: on SUB and XSUB, messages whose first
// frame starts with prefix are wanted (an empty prefix wants all); on an
// XPUB with XPubManual, it subscribes the peer of the last subscription
// message received. Subscriptions are counted: each needs its Unsubscribe.
func (s *Socket) Subscribe(prefix []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	switch {
	case s.typ == Sub || s.typ == XSub:
		s.subscribeLocked(prefix)
	case s.typ == XPub && s.cfg.XPubManual:
		if s.lastSub != nil {
			s.lastSub.subs.addSet(prefix)
		}
	default:
		return ErrNotSupported
	}
	return nil
}

// Unsubscribe removes one count of a subscription added by Subscribe.
func (s *Socket) Unsubscribe(prefix []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	switch {
	case s.typ == Sub || s.typ == XSub:
		s.unsubscribeLocked(prefix)
	case s.typ == XPub && s.cfg.XPubManual:
		if s.lastSub != nil {
			s.lastSub.subs.removeSet(prefix)
		}
	default:
		return ErrNotSupported
	}
	return nil
}

func (s *Socket) subscribeLocked(prefix []byte) {
	if s.subs.addCount(prefix) || s.typ == XSub {
		topic := append([]byte(nil), prefix...)
		for _, p := range s.pipes {
			if p.live { // attach sends the whole set to a new peer
				p.send(outMsg{kind: kindSub, m: Msg{topic}}, true)
			}
		}
	}
}

func (s *Socket) unsubscribeLocked(prefix []byte) {
	if s.subs.removeCount(prefix) || s.typ == XSub {
		topic := append([]byte(nil), prefix...)
		for _, p := range s.pipes {
			if p.live { // attach sends the whole set to a new peer
				p.send(outMsg{kind: kindCancel, m: Msg{topic}}, true)
			}
		}
	}
}

// applySub records a peer's (un)subscription on a PUB or XPUB socket.
func (s *Socket) applySub(p *pipe, on bool, topic []byte) {
	s.mu.Lock()
	if s.closed || p.dead.Load() {
		s.mu.Unlock()
		return
	}
	up := false
	if s.cfg.XPubManual && s.typ == XPub {
		s.lastSub, up = p, true
	} else if on {
		if len(p.subs.m) >= maxPeerSubs {
			// A peer may not grow our memory without bound.
			s.mu.Unlock()
			s.dropped.Add(1)
			return
		}
		if p.subs.addSet(topic) {
			s.topics[string(topic)]++
			up = s.topics[string(topic)] == 1
		}
		up = up || s.cfg.XPubVerbose
	} else {
		if p.subs.removeSet(topic) {
			s.topics[string(topic)]--
			if s.topics[string(topic)] <= 0 {
				delete(s.topics, string(topic))
				up = true
			}
		}
		up = up || s.cfg.XPubVerboser
	}
	s.mu.Unlock()
	if up && s.typ == XPub {
		f := make([]byte, 1+len(topic))
		if on {
			f[0] = 1
		}
		copy(f[1:], topic)
		if s.pushIn(p, []Msg{{f}}, false) == 0 {
			s.dropped.Add(1) // the application is not reading: bounded
		}
	}
}

// maxPeerSubs bounds the subscriptions one peer may hold on a PUB or XPUB.
const maxPeerSubs = 1 << 16

var zmtpCompatible = zmtp.Compatible
