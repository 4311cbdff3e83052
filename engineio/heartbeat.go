package engineio

import (
	"sync"
	"time"

	"github.com/switchboard/switchboard/engineio/internal/packet"
)

// heartbeats times the sockets' heartbeats (the next ping, or the pong
// deadline) with one timer per Server, set for the socket due first,
// rather than a time.Timer per socket (about 130 bytes each, which an
// idle connection would hold for ever).
type heartbeats struct {
	srv *Server

	mu      sync.Mutex
	heap    []hbEntry // min-heap on at; Socket.hbIndex is a socket's position
	timer   *time.Timer
	at      time.Duration // on srv.clock: when the timer fires; 0 when not set
	stopped bool
}

// hbEntry is one socket's place in the heap.
type hbEntry struct {
	at time.Duration // on srv.clock
	s  *Socket
}

// schedule makes s due at at (on srv.clock), replacing its earlier time.
func (h *heartbeats) schedule(s *Socket, at time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	if i := int(s.hbIndex) - 1; i >= 0 {
		h.heap[i].at = at
		if !h.up(i) {
			h.down(i)
		}
	} else {
		h.heap = append(h.heap, hbEntry{at, s})
		s.hbIndex = int32(len(h.heap))
		h.up(len(h.heap) - 1)
	}
	h.armLocked()
}

// cancel takes s out of the heap.
func (h *heartbeats) cancel(s *Socket) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := int(s.hbIndex) - 1; i >= 0 {
		h.removeLocked(i)
	}
}

// stop cancels every heartbeat, for good.
func (h *heartbeats) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for _, e := range h.heap {
		e.s.hbIndex = 0
	}
	h.heap = nil
	if h.timer != nil {
		h.timer.Stop()
	}
}

// armLocked sets the timer for the first socket due, unless it is set
// for no later.
func (h *heartbeats) armLocked() {
	if len(h.heap) == 0 {
		return // a timer still set fires for nothing
	}
	next := h.heap[0].at
	if h.at != 0 && h.at <= next {
		return
	}
	d := max(next-h.srv.clock(), 0)
	h.at = max(next, 1)
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.run)
	} else {
		h.timer.Reset(d)
	}
}

// run is the timer's function: it takes the sockets that are due out of
// the heap, sets the timer for the next (a later firing runs on a
// goroutine of its own), then runs their onTimer and closes those whose
// pong is overdue. The Server's Close waits for it.
func (h *heartbeats) run() {
	if !h.srv.enter() {
		return
	}
	defer h.srv.wg.Done()
	h.mu.Lock()
	h.at = 0
	now := h.srv.clock()
	var due []*Socket
	for len(h.heap) > 0 && h.heap[0].at <= now {
		due = append(due, h.heap[0].s)
		h.removeLocked(0)
	}
	if !h.stopped {
		h.armLocked()
	}
	h.mu.Unlock()
	// Every ping first, then the closes, whose handlers (OnClose, and
	// through socketio the application's disconnect handlers) may take
	// their time: they must not hold back another socket's ping.
	k := 0
	for _, s := range due {
		if s.onTimer() {
			due[k] = s
			k++
		}
	}
	for _, s := range due[:k] {
		s.close(ReasonPingTimeout, ErrPingTimeout, false, packet.Close)
	}
}

// removeLocked removes the entry at i.
func (h *heartbeats) removeLocked(i int) {
	h.heap[i].s.hbIndex = 0
	last := len(h.heap) - 1
	if i != last {
		h.heap[i] = h.heap[last]
		h.heap[i].s.hbIndex = int32(i + 1)
	}
	h.heap[last] = hbEntry{}
	h.heap = h.heap[:last]
	if i != last {
		if !h.up(i) {
			h.down(i)
		}
	}
	if cap(h.heap) > 64 && len(h.heap) < cap(h.heap)/4 {
		h.heap = append([]hbEntry(nil), h.heap...)
	}
}

func (h *heartbeats) swap(i, j int) {
	h.heap[i], h.heap[j] = h.heap[j], h.heap[i]
	h.heap[i].s.hbIndex = int32(i + 1)
	h.heap[j].s.hbIndex = int32(j + 1)
}

// up moves the entry at i towards the root; it reports whether it moved.
func (h *heartbeats) up(i int) bool {
	moved := false
	for i > 0 {
		p := (i - 1) / 2
		if h.heap[p].at <= h.heap[i].at {
			break
		}
		h.swap(i, p)
		i = p
		moved = true
	}
	return moved
}

// down moves the entry at i towards the leaves.
func (h *heartbeats) down(i int) {
	n := len(h.heap)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && h.heap[c+1].at < h.heap[c].at {
			c++
		}
		if h.heap[i].at <= h.heap[c].at {
			return
		}
		h.swap(i, c)
		i = c
	}
}
