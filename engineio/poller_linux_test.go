//go:build linux

package engineio

import (
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestWebSocketLingersThenParks: a connection that has just handled a
// message keeps its read loop for wsLinger, then parks in the poller
// (its read loop detaches the read buffer first); a message after that
// wakes it.
func TestWebSocketLingersThenParks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	c := e.mustDialWS("EIO=4&transport=websocket")
	_, open := wsRead(t, c)
	s := e.srv.Socket(parseOpen(t, open).SID)
	s.mu.Lock()
	ws := s.ws
	s.mu.Unlock()
	parked := func() bool {
		deadline := time.Now().Add(testTimeout)
		for !ws.parked.Load() {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(time.Millisecond)
		}
		return true
	}
	for i := range 3 {
		wsWrite(t, c, websocket.MessageText, "4hello")
		if _, got := wsRead(t, c); got != "4hello" {
			t.Fatalf("round %d: echo %q", i, got)
		}
		start := time.Now()
		if !parked() {
			t.Fatalf("round %d: not parked", i)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("round %d: parked after %v", i, d)
		}
	}
}
