package zmq

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
)

type outKind uint8

const (
	kindData outKind = iota
	kindSub
	kindCancel
	kindPong
)

// outMsg is a queued outgoing message: the frames of pre (an envelope),
// then those of m. Subscriptions carry their topic in m[0].
type outMsg struct {
	kind outKind
	pre  Msg
	m    Msg
}

// frames yields the frames of pre, then those of m, each with its flags
// on the wire (MORE on all but the last).
func (om *outMsg) frames(yield func(flags byte, f []byte) bool) {
	last := len(om.pre) + len(om.m) - 1
	i := 0
	for _, part := range [2]Msg{om.pre, om.m} {
		for _, f := range part {
			var flags byte
			if i < last {
				flags = zmtp.FlagMore
			}
			i++
			if !yield(flags, f) {
				return
			}
		}
	}
}

func (om *outMsg) flatten() Msg {
	if len(om.pre) == 0 {
		return om.m
	}
	out := make(Msg, 0, len(om.pre)+len(om.m))
	out = append(out, om.pre...)
	return append(out, om.m...)
}

// pipe is the socket's side of one peer: a bounded outgoing queue that
// survives reconnections of a connecting endpoint, and the accounting of
// the messages received from that peer. A pipe is written by a
// connection's writer goroutine (tcp, ipc) or delivers straight into the
// peer socket's receive queue (inproc).
type pipe struct {
	s         *Socket
	id        uint64
	endpoint  string
	transport string
	dialed    bool

	mu      sync.Mutex
	q       []outMsg
	spare   []outMsg
	wake    chan struct{}
	hwm     int
	conn    *zconn
	peer    *pipe // inproc: the other socket's pipe
	writing bool
	inline  bool // a Send is writing a message itself (writeInline)

	dead atomic.Bool
	// prefixed: messages from this pipe already start with the routing
	// id (a ROUTER's tcp and ipc connections put it there).
	prefixed atomic.Bool
	// src is the inproc socket that delivers into this pipe's queue,
	// woken when the queue drains below its limit.
	src atomic.Pointer[Socket]

	// Guarded by s.mu.
	attached  bool
	live      bool // a peer is attached (handshake done); subscriptions go out
	routingID []byte
	peerType  string
	subs      subSet

	// Guarded by s.inMu.
	inCount   int
	inHWM     int
	inBlocked bool
	inSpace   chan struct{}

	msgsIn, msgsOut, bytesIn, bytesOut, dropped atomic.Uint64
}

func (s *Socket) newPipe(endpoint, transport string, dialed bool) *pipe {
	return &pipe{
		s: s, id: s.nextPipe.Add(1), endpoint: endpoint, transport: transport, dialed: dialed,
		wake: make(chan struct{}, 1), hwm: hwm(s.cfg.SendHWM),
		inHWM: hwm(s.cfg.RecvHWM), inSpace: make(chan struct{}, 1),
	}
}

// send queues om. It returns false when the queue is at its high-water
// mark (and force is false). A dead pipe swallows messages.
func (p *pipe) send(om outMsg, force bool) bool {
	p.mu.Lock()
	if p.dead.Load() {
		p.mu.Unlock()
		return true
	}
	if peer := p.peer; peer != nil {
		ok := peer.deliver(om, force)
		p.mu.Unlock()
		if ok && om.kind == kindData {
			p.msgsOut.Add(1)
			p.bytesOut.Add(uint64(om.m.Size()))
		}
		return ok
	}
	if !force && p.hwm > 0 && len(p.q) >= p.hwm {
		if !p.s.cfg.Conflate {
			p.mu.Unlock()
			return false
		}
	}
	if p.s.cfg.Conflate && om.kind == kindData {
		k := 0
		for _, o := range p.q {
			if o.kind != kindData {
				p.q[k] = o
				k++
			}
		}
		clear(p.q[k:])
		p.q = p.q[:k]
	}
	if c := p.conn; c != nil && c.iw != nil && len(p.q) == 0 && !p.writing && !p.inline && om.kind == kindData {
		if size := om.pre.Size() + om.m.Size(); size <= inlineMax {
			// Nothing queued, the writer idle: write it from here,
			// without waking the writer goroutine (REQ and REP, one
			// message in flight: latency rather than batching).
			p.inline = true
			p.mu.Unlock()
			c.writeInline(&om, size)
			return true
		}
	}
	p.q = append(p.q, om)
	n := len(p.q)
	p.mu.Unlock()
	if n == 1 {
		p.wakeWriter()
	}
	return true
}

// wakeWriter wakes the connection's writer goroutine.
func (p *pipe) wakeWriter() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// deliver is the inproc path: om comes from the peer pipe and goes
// straight into this pipe's socket.
func (p *pipe) deliver(om outMsg, force bool) bool {
	switch om.kind {
	case kindSub, kindCancel:
		p.s.applySub(p, om.kind == kindSub, om.m[0])
		return true
	case kindPong:
		return true
	}
	s := p.s
	if s.typ == Pub || s.typ == XPub {
		m := om.flatten()
		if len(m) == 1 && len(m[0]) > 0 && m[0][0] <= 1 {
			s.applySub(p, m[0][0] == 1, m[0][1:])
			return true
		}
		if s.typ == Pub {
			return true
		}
	}
	if s.typ == Push {
		return true
	}
	one := [1]Msg{om.flatten()}
	if s.pushIn(p, one[:], force) == 1 {
		p.msgsIn.Add(1)
		p.bytesIn.Add(uint64(one[0].Size()))
		return true
	}
	return false
}

// attach makes p a send candidate and runs the per-type greetings of a
// new peer. peerID is the peer's Identity property. It fails for a
// second PAIR peer or a routing id already in use. Called without s.mu.
func (s *Socket) attach(p *pipe, peerType string, peerID []byte) error {
	s.mu.Lock()
	if s.ctx.Err() != nil { // closed, done lingering
		s.mu.Unlock()
		return ErrClosed
	}
	var old *pipe
	p.peerType = peerType
	if s.typ == Pair {
		for _, q := range s.pipes {
			if q != p {
				s.mu.Unlock()
				return ErrAddrInUse
			}
		}
	}
	if s.typ == Router {
		if len(peerID) == 0 {
			s.nextID++
			peerID = binary.BigEndian.AppendUint32([]byte{0}, s.nextID)
		}
		if o := s.byID[string(peerID)]; o != nil && o != p {
			if !s.cfg.RouterHandover {
				s.mu.Unlock()
				return ErrAddrInUse
			}
			old = o
			delete(s.byID, string(peerID))
		}
		p.routingID = append([]byte(nil), peerID...)
		s.byID[string(peerID)] = p
	}
	if !p.attached {
		p.attached = true
		s.pipes = append(s.pipes, p)
	}
	if s.typ == XPub && s.cfg.XPubWelcome != nil {
		p.send(outMsg{m: Msg{s.cfg.XPubWelcome}}, true)
	}
	p.live = true
	if s.typ == Sub || s.typ == XSub {
		// Every subscription goes to the new peer once, as libzmq
		// sends them: none was queued while the pipe had no peer, and
		// any left queued from a connection that dropped is stale.
		p.mu.Lock()
		k := 0
		for _, o := range p.q {
			if o.kind != kindSub && o.kind != kindCancel {
				p.q[k] = o
				k++
			}
		}
		clear(p.q[k:])
		p.q = p.q[:k]
		p.mu.Unlock()
		for t := range s.subs.m {
			p.send(outMsg{kind: kindSub, m: Msg{[]byte(t)}}, true)
		}
	}
	if s.cfg.ProbeRouter && (s.typ == Dealer || s.typ == Router || s.typ == Req) {
		p.send(outMsg{m: Msg{{}}}, true)
	}
	s.mu.Unlock()
	if old != nil {
		s.dropPipe(old)
	}
	s.signalSpace()
	return nil
}

// detach forgets what the peer told us when its connection ends. A pipe
// of a connecting endpoint stays a send candidate (unless Immediate) so
// that messages queue for the next connection.
func (s *Socket) detach(p *pipe, remove bool) {
	s.mu.Lock()
	if p.routingID != nil && s.byID[string(p.routingID)] == p {
		delete(s.byID, string(p.routingID))
	}
	var gone []string
	for t := range p.subs.m {
		if s.topics != nil {
			s.topics[t]--
			if s.topics[t] <= 0 {
				delete(s.topics, t)
				gone = append(gone, t)
			}
		}
	}
	p.subs = subSet{}
	p.live = false
	if s.lastSub == p {
		s.lastSub = nil
	}
	if remove && p.attached {
		p.attached = false
		for i, q := range s.pipes {
			if q == p {
				s.pipes = append(s.pipes[:i], s.pipes[i+1:]...)
				break
			}
		}
		if s.rr >= len(s.pipes) {
			s.rr = 0
		}
	}
	s.mu.Unlock()
	if s.typ == XPub && !s.cfg.XPubManual {
		for _, t := range gone {
			s.pushIn(p, []Msg{{append([]byte{0}, t...)}}, true)
		}
	}
}

// dropPipe kills p: its queue is discarded, it leaves the send
// candidates, its connection is closed, and an inproc peer drops its side.
func (s *Socket) dropPipe(p *pipe) {
	if p.dead.Swap(true) {
		return
	}
	p.mu.Lock()
	clear(p.q)
	p.q = p.q[:0]
	c, peer := p.conn, p.peer
	p.peer = nil
	p.mu.Unlock()
	s.detach(p, true)
	if c != nil {
		c.close(ErrClosed)
	}
	if peer != nil {
		peer.s.dropPipe(peer)
		peer.s.emit(Event{Type: EventDisconnected, Endpoint: peer.endpoint, PeerType: s.typ.String(), Err: ErrClosed})
	}
	s.signalSpace()
}

// subSet is a set of subscription prefixes.
type subSet struct {
	m      map[string]int
	maxLen int
}

// addCount adds one count; it reports whether the prefix is new.
func (t *subSet) addCount(b []byte) bool {
	if t.m == nil {
		t.m = make(map[string]int)
	}
	t.m[string(b)]++
	if len(b) > t.maxLen {
		t.maxLen = len(b)
	}
	return t.m[string(b)] == 1
}

// removeCount removes one count; it reports whether the prefix is gone.
func (t *subSet) removeCount(b []byte) bool {
	n, ok := t.m[string(b)]
	if !ok {
		return false
	}
	if n <= 1 {
		delete(t.m, string(b))
		return true
	}
	t.m[string(b)] = n - 1
	return false
}

// addSet adds b once; it reports whether b was new.
func (t *subSet) addSet(b []byte) bool {
	if _, ok := t.m[string(b)]; ok {
		return false
	}
	return t.addCount(b)
}

// removeSet removes b; it reports whether b was there.
func (t *subSet) removeSet(b []byte) bool {
	if _, ok := t.m[string(b)]; !ok {
		return false
	}
	delete(t.m, string(b))
	return true
}

// match reports whether some prefix in the set starts topic.
func (t *subSet) match(topic []byte) bool {
	if len(t.m) == 0 {
		return false
	}
	if _, ok := t.m[""]; ok {
		return true
	}
	n := min(len(topic), t.maxLen)
	for i := 1; i <= n; i++ {
		if _, ok := t.m[string(topic[:i])]; ok {
			return true
		}
	}
	return false
}
