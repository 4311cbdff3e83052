package dgram_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/dgram"
)

// events is a Peer that collects what the Hub tells it.
type events chan *hub.Event

func (e events) Deliver(ev *hub.Event) error {
	select {
	case e <- ev:
		return nil
	default:
		return errors.New("test peer: queue full")
	}
}
func (e events) Close() {}

// said returns the text of the next said event as "from: text".
func (e events) said(t *testing.T) string {
	t.Helper()
	s, ok := e.saidWithin(10 * time.Second)
	if !ok {
		t.Fatal("nothing said within 10s")
	}
	return s
}

// saidExcept returns the next said event other than skip.
func (e events) saidExcept(t *testing.T, skip string) string {
	t.Helper()
	for {
		if s := e.said(t); s != skip {
			return s
		}
	}
}

func (e events) saidWithin(d time.Duration) (string, bool) {
	deadline := time.After(d)
	for {
		select {
		case ev := <-e:
			if ev.Kind == hub.EventSaid {
				return ev.User + ": " + ev.Text, true
			}
		case <-deadline:
			return "", false
		}
	}
}

func member(t *testing.T, h *hub.Hub, name, room string) (*hub.Conn, events) {
	t.Helper()
	ev := make(events, 256)
	c, err := h.Attach(ev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.SetName(name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(room); err != nil {
		t.Fatal(err)
	}
	return c, ev
}

func serveMirror(t *testing.T, h *hub.Hub, room, spec string) *dgram.Mirror {
	t.Helper()
	m, err := dgram.ListenMirror(context.Background(), h, room, spec, nil)
	if errors.Is(err, unix.ENETUNREACH) || errors.Is(err, unix.ENODEV) {
		t.Skipf("no multicast on lo here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mirror Serve: %v", err)
		}
	})
	return m
}

// TestMirrorTwoHubs: two hubs mirror "lobby" to one group on lo; each
// side hears the other exactly once, and nothing loops.
func TestMirrorTwoHubs(t *testing.T) {
	const group = "239.77.0.1"
	h1 := newHub(t, nil)
	h2 := newHub(t, nil)
	m1 := serveMirror(t, h1, "lobby", "udp://"+group+":0?iface=lo&mcastloop=1")
	port := m1.LocalAddr().(*net.UDPAddr).Port
	m2 := serveMirror(t, h2, "lobby", fmt.Sprintf("udp://%s:%d?iface=lo&mcastloop=1", group, port))
	waitMember(t, h1, "lobby", "mirror")
	waitMember(t, h2, "lobby", "mirror")
	ann, annEv := member(t, h1, "ann", "lobby")
	bob, bobEv := member(t, h2, "bob", "lobby")

	// The group may not be deliverable on lo here: probe it first.
	if _, err := ann.Say("lobby", "probe"); err != nil {
		t.Fatal(err)
	}
	ev, ok := bobEv.saidWithin(3 * time.Second)
	if !ok {
		t.Skip("lo does not deliver multicast here")
	}
	if ev != "ann: probe" {
		t.Fatalf("bob heard %q", ev)
	}
	if _, err := bob.Say("lobby", "hello ann"); err != nil {
		t.Fatal(err)
	}
	if got := annEv.said(t); got != "bob: hello ann" {
		t.Fatalf("ann heard %q", got)
	}
	// Exactly once and no echo: the next thing each hears is the other's
	// next line, not a copy of anything.
	if _, err := ann.Say("lobby", "one more"); err != nil {
		t.Fatal(err)
	}
	if got := bobEv.said(t); got != "ann: one more" {
		t.Fatalf("bob heard %q", got)
	}
	if _, err := bob.Say("lobby", "last"); err != nil {
		t.Fatal(err)
	}
	if got := annEv.said(t); got != "bob: last" {
		t.Fatalf("ann heard %q", got)
	}
	// A counter moves just after its datagram went out or was said: wait.
	var s1, s2 dgram.MirrorStats
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for deadline := time.After(10 * time.Second); ; {
		s1, s2 = m1.Stats(), m2.Stats()
		if s1.Out == 2 && s2.Out == 2 && s1.In == 2 && s2.In == 2 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("stats %+v %+v", s1, s2)
		}
	}
	if s1.Out != 2 || s2.Out != 2 || s1.In != 2 || s2.In != 2 || s1.Refused+s2.Refused != 0 {
		t.Fatalf("stats %+v %+v", s1, s2)
	}
	if s1.Looped == 0 && s2.Looped == 0 {
		t.Fatalf("own datagrams never came back with mcastloop=1: %+v %+v", s1, s2)
	}
}

// waitMember waits until user is in room: the doors join in Serve.
func waitMember(t *testing.T, h *hub.Hub, room, user string) {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		for _, m := range h.Members(room) {
			if m == user {
				return
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s not in %s within 10s", user, room)
		}
	}
}
