package zmqdoor_test

import (
	"testing"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/zmqdoor"
	"github.com/switchboard/switchboard/monitor"
	"github.com/switchboard/switchboard/zmq"
)

func byDoor(h *hub.Hub) map[string]monitor.Conn {
	m := make(map[string]monitor.Conn)
	for _, c := range h.Conns() {
		m[c.Door] = c
	}
	return m
}

func TestWatch(t *testing.T) {
	h := newHub(t)
	d := serve(t, h, zmqdoor.Config{})
	ctx := ctxT(t)
	_, aliceEv := user(t, h, "alice", "lobby")
	waitFor(t, "every zmq door in Conns", func() bool {
		m := byDoor(h)
		return m["zmq-pub"].ID != "" && m["zmq-in"].ID != "" && m["zmq-in-sub"].ID != "" && m["zmq-rpc"].ID != ""
	})
	m := byDoor(h)
	for door, ep := range map[string]string{"zmq-pub": d.PubAddr(), "zmq-in": d.InAddr(), "zmq-in-sub": d.InSubAddr(), "zmq-rpc": d.RPCAddr()} {
		if c := m[door]; c.Local != ep || c.State != "listen" {
			t.Errorf("%s: %+v, want local %s, state listen", door, c, ep)
		}
	}
	if m["zmq-pub"].User != "zmq" || m["zmq-pub"].Proto != "zmq/XPUB" {
		t.Errorf("zmq-pub: %+v", m["zmq-pub"])
	}
	push := socket(t, zmq.Push, d.InAddr())
	if err := push.SendString(ctx, "lobby", "counted", "svc"); err != nil {
		t.Fatal(err)
	}
	aliceEv.next(t, hub.EventSaid)
	c := byDoor(h)["zmq-in"]
	if c.State != "open" || c.Remote != push.Stats().Conns[0].Local || c.MsgsIn != 1 || c.BytesIn == 0 {
		t.Errorf("zmq-in after a message: %+v", c)
	}
}
