package dgram

import (
	"net"
	"testing"

	"github.com/switchboard/switchboard/hub"
)

// FuzzCommand feeds arbitrary datagrams from a few senders to a door: it
// never panics, answers every datagram at most once per command, and keeps
// its bounds.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{"NICK ann", "JOIN lobby", "SAY lobby hi there", "PART lobby", "QUIT", "PING", "NAMES lobby", "nick", "SAY", "\x00\xff", "JOIN " + string(make([]byte, 100))} {
		f.Add(byte(0), s)
	}
	h, err := hub.New(&hub.Config{Rate: 1e9, Burst: 1 << 30})
	if err != nil {
		f.Fatal(err)
	}
	defer h.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	d, err := New(h, pc, &Config{MaxSenders: 3, Queue: 4})
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close()
	f.Fuzz(func(t *testing.T, who byte, cmd string) {
		from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10000 + int(who%5)}
		d.command(from, cmd)
		for len(d.out) > 0 {
			o := <-d.out
			if o.s != nil {
				o.s.pending.Add(-1)
			}
		}
		if n := d.Stats().Senders; n > 3 {
			t.Fatalf("%d senders, bound 3", n)
		}
	})
}
