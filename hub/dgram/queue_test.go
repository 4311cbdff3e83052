package dgram

import (
	"net"
	"testing"

	"github.com/switchboard/switchboard/hub"
)

// TestSenderQueueBounded: datagrams for one sender beyond Config.Queue
// are dropped and counted, and other senders still get theirs.
func TestSenderQueueBounded(t *testing.T) {
	h, err := hub.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(h, pc, &Config{Queue: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	slow := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	other := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10}
	// Nothing writes (Serve is not running): the slow sender's queue fills.
	for _, cmd := range []string{"PING 1", "PING 2", "PING 3", "PING 4"} {
		d.command(slow, cmd)
	}
	d.command(other, "PING x")
	if st := d.Stats(); st.Dropped != 2 || len(d.out) != 3 {
		t.Fatalf("dropped %d, queued %d; want 2 and 3", st.Dropped, len(d.out))
	}
}
