package hub_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/monitor"
)

type watchedPeer struct{ nopPeer }

func (watchedPeer) Watch() monitor.Conn {
	return monitor.Conn{ID: "x", Proto: "test", Door: "test", Local: "127.0.0.1:1", Remote: "127.0.0.1:2", State: "open"}
}

// BenchmarkConns is one snapshot of a hub's n connections (each with a
// name and two rooms), as /api/conns, /metrics and stat take it.
func BenchmarkConns(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			h, err := hub.New(&hub.Config{Rate: 1e12, Burst: 1 << 40, MaxConns: n})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			for i := range n {
				c, err := h.Attach(watchedPeer{})
				if err != nil {
					b.Fatal(err)
				}
				c.SetName(fmt.Sprint("u", i))
				c.Join("lobby")
				c.Join(fmt.Sprint("r", i%50))
			}
			b.ReportAllocs()
			for b.Loop() {
				if got := len(h.Conns()); got != n {
					b.Fatal(got)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/conn")
		})
	}
}

// BenchmarkGuardCheck is one admission decision with a few allow and deny
// networks.
func BenchmarkGuardCheck(b *testing.B) {
	allow, _ := hub.ParsePrefixes("10.0.0.0/8, 192.168.0.0/16, 127.0.0.0/8, ::1")
	deny, _ := hub.ParsePrefixes("10.1.0.0/16, 192.168.7.7")
	g, err := hub.NewGuard(&hub.ProtectConfig{Allow: allow, Deny: deny}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ap := netip.MustParseAddrPort("127.0.0.1:40000")
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Check("socket.io", ap); err != nil {
			b.Fatal(err)
		}
	}
}
