package dgram_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/dgram"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newHub(t *testing.T, cfg *hub.Config) *hub.Hub {
	t.Helper()
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// serveDoor runs a command door on a loopback UDP port until the test ends.
func serveDoor(t *testing.T, h *hub.Hub, cfg *dgram.Config) *dgram.Door {
	t.Helper()
	d, err := dgram.Listen(context.Background(), h, "udp://127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return d
}

// client is an nc-style UDP client.
type client struct {
	t *testing.T
	c *net.UDPConn
}

func dial(t *testing.T, addr net.Addr) *client {
	t.Helper()
	c, err := net.DialUDP("udp", nil, addr.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t, c}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the next datagram, failing after 10s.
func (c *client) recv() string {
	c.t.Helper()
	s, ok := c.recvWithin(10 * time.Second)
	if !ok {
		c.t.Fatal("no datagram within 10s")
	}
	return s
}

func (c *client) recvWithin(d time.Duration) (string, bool) {
	buf := make([]byte, 65536)
	c.c.SetReadDeadline(time.Now().Add(d))
	n, err := c.c.Read(buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

// expect returns the next datagram that starts with prefix, skipping
// those that start with one of skip; any other datagram fails the test.
func (c *client) expect(prefix string, skip ...string) string {
	c.t.Helper()
	for {
		s := c.recv()
		skipped := false
		for _, p := range skip {
			skipped = skipped || strings.HasPrefix(s, p)
		}
		if skipped {
			continue
		}
		if !strings.HasPrefix(s, prefix) {
			c.t.Fatalf("got %q, want %s...", s, prefix)
		}
		return s
	}
}

// cmd sends a command and returns its reply, skipping events.
func (c *client) cmd(s string) string {
	c.t.Helper()
	c.send(s)
	return c.expect("", "SAID", "JOINED", "LEFT", "PRESENCE")
}

func (c *client) cmdOK(s string) string {
	c.t.Helper()
	c.send(s)
	r := c.expect("OK", "SAID", "JOINED", "LEFT", "PRESENCE")
	return r
}

func TestCommands(t *testing.T) {
	h := newHub(t, nil)
	d := serveDoor(t, h, nil)
	a, b := dial(t, d.Addr()), dial(t, d.Addr())

	for _, tc := range []struct{ send, want string }{
		{"PING x", "PONG x"},
		{"SAY lobby hi", "ERR no_name "},
		{"nick ann", "OK NICK ann ann"},
		{"JOIN lobby", "OK JOIN lobby ann"},
		{"JOIN bad room!", "ERR invalid "},
		{"DANCE", "ERR unknown "},
		{"SAY lobby", "ERR invalid "},
		{"PART nowhere", "ERR not_in_room "},
	} {
		if got := a.cmd(tc.send); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: got %q, want %q...", tc.send, got, tc.want)
		}
	}
	b.cmdOK("NICK bob")
	if got := a.expect("PRESENCE bob online", "PRESENCE ann"); got != "PRESENCE bob online" {
		t.Fatal(got)
	}
	b.cmdOK("JOIN lobby")
	if got := a.expect("JOINED"); got != "JOINED lobby bob" {
		t.Fatal(got)
	}
	if got := a.cmdOK("NAMES lobby"); got != "OK NAMES lobby ann,bob" {
		t.Fatal(got)
	}
	ok := a.cmdOK("SAY lobby hello bob, two words")
	var id string
	var at int64
	if _, err := fmt.Sscanf(ok, "OK SAY %s %d", &id, &at); err != nil {
		t.Fatalf("%q: %v", ok, err)
	}
	want := fmt.Sprintf("SAID lobby ann %s %d hello bob, two words", id, at)
	if got := b.expect("SAID"); got != want {
		t.Fatalf("bob got %q, want %q", got, want)
	}
	// ann never hears herself: the next SAID she gets is bob's.
	b.cmdOK("SAY lobby back to you")
	if got := a.expect("SAID"); !strings.HasPrefix(got, "SAID lobby bob ") || !strings.HasSuffix(got, " back to you") {
		t.Fatalf("ann got %q", got)
	}
	a.send(strings.Repeat("x", 5000))
	if got := a.expect("ERR", "SAID"); !strings.HasPrefix(got, "ERR invalid datagram longer") {
		t.Fatalf("long datagram: %q", got)
	}
	if got := b.cmd("QUIT"); got != "OK QUIT" {
		t.Fatalf("QUIT: %q", got)
	}
	if got := a.expect("LEFT"); got != "LEFT lobby bob" {
		t.Fatal(got)
	}
	if got := a.expect("PRESENCE"); got != "PRESENCE bob offline" {
		t.Fatal(got)
	}
	if st := d.Stats(); st.Senders != 1 || st.Refused != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSendersBoundedAndIdle: one sender at a time; the idle one is closed
// and told so, and then another may come in.
func TestSendersBoundedAndIdle(t *testing.T) {
	h := newHub(t, nil)
	d := serveDoor(t, h, &dgram.Config{MaxSenders: 1, IdleTimeout: 300 * time.Millisecond})
	a, b := dial(t, d.Addr()), dial(t, d.Addr())
	if got := a.cmd("NICK ann"); !strings.HasPrefix(got, "OK") {
		t.Fatal(got)
	}
	if got := b.cmd("NICK bob"); !strings.HasPrefix(got, "ERR limit ") {
		t.Fatalf("second sender: %q", got)
	}
	if got := a.expect("BYE", "PRESENCE"); got != "BYE idle" {
		t.Fatal(got)
	}
	if got := b.cmd("NICK bob"); !strings.HasPrefix(got, "OK NICK bob bob") {
		t.Fatalf("after the idle one left: %q", got)
	}
	if st := d.Stats(); st.Timeouts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStopsOnCancel: Serve returns when its ctx ends and the connections
// leave the Hub.
func TestStopsOnCancel(t *testing.T) {
	h := newHub(t, nil)
	d, err := dgram.Listen(context.Background(), h, "udp://127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	a := dial(t, d.Addr())
	a.cmdOK("NICK ann")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if n := h.Stats().Conns; n != 0 {
		t.Fatalf("%d connections left in the hub", n)
	}
	if _, err := dgram.Listen(context.Background(), h, "tcp://127.0.0.1:0", nil); !errors.Is(err, endpoint.ErrWrongKind) {
		t.Fatal("a stream endpoint must be refused")
	}
}
