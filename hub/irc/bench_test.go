package irc

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/hub"
)

func BenchmarkParse(b *testing.B) {
	line := []byte(":ann!~ann@127.0.0.1 PRIVMSG #lobby :hello there, how is everyone today?\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliverSaid renders one said event into a client's queue (the
// per-recipient cost of a message in a room).
func BenchmarkDeliverSaid(b *testing.B) {
	h, _ := hub.New(nil)
	defer h.Close()
	d, _ := New(h, &Config{Queue: 1 << 30})
	a, z := net.Pipe()
	defer a.Close()
	defer z.Close()
	c := newClient(d, a)
	c.nick = "bob"
	ev := &hub.Event{Kind: hub.EventSaid, Room: "lobby", User: "ann", Text: strings.Repeat("hello ", 20), At: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Deliver(ev); err != nil {
			b.Fatal(err)
		}
		if len(c.out) > 1<<20 {
			c.out = c.out[:0]
		}
	}
}
