package engineio

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engineio/internal/wsframe"
)

// TestHeartbeatHeap: after any sequence of schedules and cancels, the
// heap is ordered, each socket knows its position, and the timer is set
// no later than the first socket due.
func TestHeartbeatHeap(t *testing.T) {
	srv, err := NewServer(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := &srv.hb
	socks := make([]*Socket, 200)
	for i := range socks {
		socks[i] = &Socket{srv: srv}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	in := map[*Socket]time.Duration{}
	for step := range 5000 {
		s := socks[rng.IntN(len(socks))]
		if rng.IntN(4) == 0 {
			h.cancel(s)
			delete(in, s)
		} else {
			at := time.Hour + time.Duration(rng.IntN(1000))*time.Second
			h.schedule(s, at)
			in[s] = at
		}
		h.mu.Lock()
		if len(h.heap) != len(in) {
			t.Fatalf("step %d: heap holds %d, want %d", step, len(h.heap), len(in))
		}
		for i, e := range h.heap {
			if int(e.s.hbIndex) != i+1 || in[e.s] != e.at {
				t.Fatalf("step %d: entry %d: index %d, at %v want %v", step, i, e.s.hbIndex, e.at, in[e.s])
			}
			if p := (i - 1) / 2; i > 0 && h.heap[p].at > e.at {
				t.Fatalf("step %d: entry %d before its parent", step, i)
			}
		}
		if len(h.heap) > 0 && (h.at == 0 || h.at > h.heap[0].at) {
			t.Fatalf("step %d: timer at %v, first due %v", step, h.at, h.heap[0].at)
		}
		h.mu.Unlock()
	}
	for s := range in {
		if s.hbIndex == 0 {
			t.Fatal("scheduled socket without index")
		}
	}
	h.stop()
	for _, s := range socks {
		if s.hbIndex != 0 {
			t.Fatal("stop left an index")
		}
	}
}

// TestHeartbeatManySockets: sockets with heartbeats of their own, due at
// different times, each get their pings, and a socket that stops
// answering is closed for ping timeout while the others go on.
func TestHeartbeatManySockets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{PingInterval: 50 * time.Millisecond, PingTimeout: 300 * time.Millisecond}, nil)
	const n = 8
	type client struct {
		sid   string
		pings chan struct{}
	}
	var cs [n]client
	for i := range cs {
		c := e.mustDialWS("EIO=4&transport=websocket")
		_, open := wsRead(t, c)
		cs[i] = client{parseOpen(t, open).SID, make(chan struct{}, 100)}
		mute := i == 0
		go func() {
			for {
				_, _, err := c.Read(t.Context())
				if err != nil {
					return
				}
				cs[i].pings <- struct{}{}
				if !mute {
					_ = c.Write(t.Context(), 1, []byte("3"))
				}
			}
		}()
		time.Sleep(7 * time.Millisecond) // due at different times
	}
	ev := recv(t, e.closes, "close")
	if ev.sid != cs[0].sid || ev.reason != ReasonPingTimeout {
		t.Fatalf("want %s closed for ping timeout first, got %s %q", cs[0].sid, ev.sid, ev.reason)
	}
	for i := 1; i < n; i++ {
		if got := len(cs[i].pings); got < 3 {
			t.Errorf("client %d: %d pings while the first timed out", i, got)
		}
		if e.srv.Socket(cs[i].sid) == nil {
			t.Errorf("client %d closed", i)
		}
	}
}

// TestHeartbeatSlowClose: a socket closed for a ping timeout whose close
// handler takes longer than PingTimeout does not hold back the ping of a
// healthy socket due in the same timer firing, which must not be closed.
func TestHeartbeatSlowClose(t *testing.T) {
	var mu sync.Mutex
	slow := map[string]bool{}
	closes := make(chan [2]string, 10)
	cfg := &Config{PingInterval: 10 * time.Second, PingTimeout: 100 * time.Millisecond}
	e := newEnv(t, cfg, func(s *Socket) {
		s.OnMessage(func(Message) {})
		s.OnClose(func(reason string, err error) {
			mu.Lock()
			sl := slow[s.ID()]
			mu.Unlock()
			if sl {
				time.Sleep(400 * time.Millisecond) // a database write, say
			}
			closes <- [2]string{s.ID(), reason}
		})
	})
	dial := func() (*rawWS, *Socket) {
		w, resp := e.rawDial(t, goodHeaders, "")
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatal(resp.StatusCode)
		}
		_, p, err := w.next()
		if err != nil {
			t.Fatal(err)
		}
		return w, e.srv.Socket(parseOpen(t, p).SID)
	}
	_, a := dial() // never answers
	wb, b := dial()
	pinged := make(chan struct{}, 1)
	go func() { // b answers every ping at once
		for {
			op, p, err := wb.next()
			if err != nil {
				return
			}
			if op == wsframe.OpText && p == "2" {
				wb.send(frame(true, wsframe.OpText, "3"))
				select {
				case pinged <- struct{}{}:
				default:
				}
			}
		}
	}()
	mu.Lock()
	slow[a.ID()] = true
	mu.Unlock()
	// a's pong and b's ping fall due together, so that one firing of
	// the heartbeat timer takes both.
	x := e.srv.clock() + 50*time.Millisecond
	a.mu.Lock()
	a.awaitingPong = true
	a.due = x
	e.srv.hb.schedule(a, x)
	a.mu.Unlock()
	b.mu.Lock()
	b.due = x
	e.srv.hb.schedule(b, x)
	b.mu.Unlock()
	select {
	case <-pinged:
	case <-time.After(2 * time.Second):
		t.Fatal("the healthy socket got no ping")
	}
	deadline := time.After(time.Second)
	for {
		select {
		case c := <-closes:
			if c[0] == b.ID() {
				t.Fatalf("the healthy socket was closed: %s", c[1])
			}
			if c[1] != ReasonPingTimeout {
				t.Fatalf("the silent socket closed for %q", c[1])
			}
		case <-deadline:
			return
		}
	}
}
