// Package speakers keeps the Hub connections a door speaks through on
// behalf of names it does not hold connections for: a ZeroMQ service
// pushing [room, text, from], a multicast group's datagrams "from\ttext".
// Each name gets its own hub.Conn, attached on first use, named, joined
// to the rooms it speaks in, and closed after an idle time.
package speakers

import (
	"fmt"
	"sync"
	"time"

	"github.com/switchboard/switchboard/hub"
)

// Pool holds one hub.Conn per name. Its methods are safe for concurrent
// use. Has may be called from a Peer's Deliver: it takes only the pool's
// own short lock, which is never held while calling the Hub.
type Pool struct {
	h    *hub.Hub
	max  int
	idle time.Duration
	now  func() time.Time

	mu     sync.Mutex
	m      map[string]*speaker
	closed bool
}

type speaker struct {
	mu    sync.Mutex // serialises this speaker's requests
	c     *hub.Conn
	named bool
	rooms map[string]bool
	last  time.Time // guarded by Pool.mu
}

// nopPeer discards what the Hub tells a speaker: speakers only talk.
type nopPeer struct{}

func (nopPeer) Deliver(*hub.Event) error { return nil }
func (nopPeer) Close()                   {}

// New returns a Pool of at most max speakers (default 256), each closed
// after idle without speaking (default 5 minutes) by Sweep.
func New(h *hub.Hub, max int, idle time.Duration) *Pool {
	if max <= 0 {
		max = 256
	}
	if idle <= 0 {
		idle = 5 * time.Minute
	}
	return &Pool{h: h, max: max, idle: idle, now: time.Now, m: make(map[string]*speaker)}
}

// Idle returns the idle time after which Sweep closes a speaker.
func (p *Pool) Idle() time.Duration { return p.idle }

// Has reports whether name is one of the pool's speakers.
func (p *Pool) Has(name string) bool {
	p.mu.Lock()
	_, ok := p.m[name]
	p.mu.Unlock()
	return ok
}

// Len returns the number of speakers.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

func (p *Pool) get(name string) (*speaker, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, hub.ErrClosed
	}
	if sp := p.m[name]; sp != nil {
		sp.last = p.now()
		return sp, nil
	}
	if len(p.m) >= p.max {
		return nil, fmt.Errorf("%w: %d speakers", hub.ErrLimit, p.max)
	}
	c, err := p.h.Attach(nopPeer{})
	if err != nil {
		return nil, err
	}
	sp := &speaker{c: c, rooms: make(map[string]bool), last: p.now()}
	p.m[name] = sp
	return sp, nil
}

// remove forgets sp if it is still name's speaker and closes its Conn.
func (p *Pool) remove(name string, sp *speaker) {
	p.mu.Lock()
	if p.m[name] == sp {
		delete(p.m, name)
	}
	p.mu.Unlock()
	sp.c.Close()
}

// Say says text in room as name: the name's connection is made, named and
// joined to room as needed. Errors are the Hub's (hub.ErrInvalid for a bad
// name, hub.ErrRate, hub.ErrLimit, hub.ErrClosed).
func (p *Pool) Say(name, room, text string) (hub.Message, error) {
	sp, err := p.get(name)
	if err != nil {
		return hub.Message{}, err
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if !sp.named {
		if _, err := sp.c.SetName(name); err != nil {
			p.remove(name, sp)
			return hub.Message{}, err
		}
		sp.named = true
	}
	if !sp.rooms[room] {
		if _, err := sp.c.Join(room); err != nil {
			return hub.Message{}, err
		}
		sp.rooms[room] = true
	}
	return sp.c.Say(room, text)
}

// Sweep closes the speakers idle for longer than the pool's idle time and
// returns how many it closed.
func (p *Pool) Sweep() int {
	now := p.now()
	type gone struct {
		name string
		sp   *speaker
	}
	var out []gone
	p.mu.Lock()
	for name, sp := range p.m {
		if now.Sub(sp.last) > p.idle {
			out = append(out, gone{name, sp})
			delete(p.m, name)
		}
	}
	p.mu.Unlock()
	for _, g := range out {
		g.sp.c.Close()
	}
	return len(out)
}

// Close closes every speaker; later Says fail with hub.ErrClosed.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	all := p.m
	p.m = make(map[string]*speaker)
	p.mu.Unlock()
	for _, sp := range all {
		sp.c.Close()
	}
}
