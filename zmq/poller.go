package zmq

import (
	"context"
	"sync"
)

// PollEvents is a set of readiness conditions.
type PollEvents uint8

// Poll conditions.
const (
	// PollIn: Recv would return a message (or ErrClosed) without waiting.
	PollIn PollEvents = 1 << iota
	// PollOut: Send would not block.
	PollOut
)

// Polled is one ready socket returned by Poll.
type Polled struct {
	Socket *Socket
	Events PollEvents
}

// Poller waits for any of several sockets to become ready, like
// zmq_poll. It is safe for concurrent use, but Poll is meant to be called
// from one goroutine at a time. Remove a socket before closing it, or
// call Close to remove all.
type Poller struct {
	mu    sync.Mutex
	items []pollItem
	sig   chan struct{}
}

type pollItem struct {
	s  *Socket
	ev PollEvents
}

// NewPoller returns an empty Poller.
func NewPoller() *Poller { return &Poller{sig: make(chan struct{}, 1)} }

// Add watches s for the events ev (adding to any already watched).
func (p *Poller) Add(s *Socket, ev PollEvents) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.items {
		if p.items[i].s == s {
			p.items[i].ev |= ev
			return
		}
	}
	p.items = append(p.items, pollItem{s: s, ev: ev})
	s.addWatcher(p.sig)
}

// Remove stops watching s.
func (p *Poller) Remove(s *Socket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.items {
		if p.items[i].s == s {
			p.items = append(p.items[:i], p.items[i+1:]...)
			s.removeWatcher(p.sig)
			return
		}
	}
}

// Close removes every socket.
func (p *Poller) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, it := range p.items {
		it.s.removeWatcher(p.sig)
	}
	p.items = nil
	return nil
}

// Poll blocks until at least one watched socket is ready, or ctx ends,
// and returns the ready ones.
func (p *Poller) Poll(ctx context.Context) ([]Polled, error) {
	for {
		// Drain a stale signal first so that a later one is not lost.
		select {
		case <-p.sig:
		default:
		}
		p.mu.Lock()
		items := append([]pollItem(nil), p.items...)
		p.mu.Unlock()
		var out []Polled
		for _, it := range items {
			var ev PollEvents
			if it.ev&PollIn != 0 && it.s.readable() {
				ev |= PollIn
			}
			if it.ev&PollOut != 0 && it.s.writable() {
				ev |= PollOut
			}
			if ev != 0 {
				out = append(out, Polled{Socket: it.s, Events: ev})
			}
		}
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-p.sig:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Socket) addWatcher(ch chan struct{}) {
	s.inMu.Lock()
	s.watchers = append(append([]chan struct{}(nil), s.watchers...), ch)
	s.inMu.Unlock()
	s.spaceMu.Lock()
	s.spaceWatchers = append(append([]chan struct{}(nil), s.spaceWatchers...), ch)
	s.spaceMu.Unlock()
}

func (s *Socket) removeWatcher(ch chan struct{}) {
	del := func(ws []chan struct{}) []chan struct{} {
		out := make([]chan struct{}, 0, len(ws))
		for _, w := range ws {
			if w != ch {
				out = append(out, w)
			}
		}
		return out
	}
	s.inMu.Lock()
	s.watchers = del(s.watchers)
	s.inMu.Unlock()
	s.spaceMu.Lock()
	s.spaceWatchers = del(s.spaceWatchers)
	s.spaceMu.Unlock()
}

// readable reports whether Recv would not wait. On SUB it first drops
// queued messages no subscription wants.
func (s *Socket) readable() bool {
	if s.typ == Pub || s.typ == Push {
		return false
	}
	// Messages waiting on a connection lent to Recv are read into the
	// queue by its reader goroutine once it has it back.
	s.reclaimDirect(false)
	if s.typ == Sub {
		var wake []*Socket
		s.mu.Lock()
		s.inMu.Lock()
		for {
			in, ok := s.in.peek()
			if !ok || s.subs.match(in.m[0]) {
				break
			}
			s.in.pop()
			if w := s.poppedLocked(in.p); w != nil {
				wake = append(wake, w)
			}
		}
		s.inMu.Unlock()
		s.mu.Unlock()
		for _, w := range wake {
			w.signalSpace()
		}
	}
	s.inMu.Lock()
	defer s.inMu.Unlock()
	return s.in.len() > 0 || s.inClosed
}

// writable reports whether Send would not block.
func (s *Socket) writable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true
	}
	switch s.typ {
	case Pub, XPub, XSub, Router, Rep:
		return true
	case Sub, Pull:
		return false
	case Req:
		if s.req.pending && !s.cfg.ReqRelaxed {
			return false
		}
	}
	for _, p := range s.pipes {
		if p.hasRoom() {
			return true
		}
	}
	return false
}

func (p *pipe) hasRoom() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead.Load() || p.hwm == 0 {
		return true
	}
	if peer := p.peer; peer != nil {
		peer.s.inMu.Lock()
		defer peer.s.inMu.Unlock()
		return peer.inHWM == 0 || peer.inCount < peer.inHWM
	}
	return len(p.q) < p.hwm
}
