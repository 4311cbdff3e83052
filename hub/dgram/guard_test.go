package dgram_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/dgram"
	"github.com/switchboard/switchboard/monitor"
)

// conn returns the hub's connection of door with the given remote, or
// fails the test.
func conn(t *testing.T, h *hub.Hub, door, remote string) monitor.Conn {
	t.Helper()
	for _, c := range h.Conns() {
		if c.Door == door && c.Remote == remote {
			return c
		}
	}
	t.Fatalf("no %s connection from %s in %+v", door, remote, h.Conns())
	return monitor.Conn{}
}

func TestWatchSender(t *testing.T) {
	h := newHub(t, nil)
	d := serveDoor(t, h, nil)
	a := dial(t, d.Addr())
	a.cmdOK("NICK ann")
	a.cmdOK("JOIN lobby")
	c := conn(t, h, "udp", a.c.LocalAddr().String())
	if c.Proto != "udp" || c.Local != d.Addr().String() || c.User != "ann" || len(c.Rooms) != 1 || c.Rooms[0] != "lobby" {
		t.Errorf("conn %+v", c)
	}
	if c.MsgsIn != 2 || c.BytesIn != uint64(len("NICK ann")+len("JOIN lobby")) || c.MsgsOut < 1 || c.BytesOut == 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestAdmit(t *testing.T) {
	h := newHub(t, nil)
	deny := errors.New("denied here")
	d := serveDoor(t, h, &dgram.Config{Admit: func(net.Addr) error { return deny }})
	a := dial(t, d.Addr())
	if r := a.cmd("NICK ann"); !strings.HasPrefix(r, "ERR refused") || !strings.Contains(r, "denied here") {
		t.Fatalf("first refusal: %q", r)
	}
	a.send("NICK ann")
	a.send("PING")
	if r, ok := a.recvWithin(200 * time.Millisecond); ok {
		t.Fatalf("told twice: %q", r)
	}
	for deadline := time.Now().Add(10 * time.Second); d.Stats().Refused < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("refused %d, want 3", d.Stats().Refused)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(h.Conns()); n != 0 {
		t.Errorf("%d hub connections, want 0", n)
	}
}

func TestAuthenticate(t *testing.T) {
	h := newHub(t, nil)
	auth := func(_ net.Addr, tok string) error {
		if tok != "s3cret" {
			return hub.ErrAuth
		}
		return nil
	}
	d := serveDoor(t, h, &dgram.Config{Authenticate: auth})
	a := dial(t, d.Addr())
	if r := a.cmd("NICK ann"); !strings.HasPrefix(r, "ERR ") || !strings.Contains(r, "AUTH") {
		t.Fatalf("before AUTH: %q", r)
	}
	if r := a.cmd("AUTH wrong"); !strings.HasPrefix(r, "ERR ") {
		t.Fatalf("bad token: %q", r)
	}
	if r := a.cmd("AUTH s3cret"); r != "OK AUTH" {
		t.Fatalf("good token: %q", r)
	}
	a.cmdOK("NICK ann")
	if r := a.cmd("AUTH again"); r != "OK AUTH" {
		t.Fatalf("AUTH once attached: %q", r)
	}
}
