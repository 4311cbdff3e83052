package dgram_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/dgram"
)

// roundTrips sends b.N datagrams on c, each after the reply to the last,
// and returns the time taken; a reply must start with want.
func roundTrips(b *testing.B, c *net.UDPConn, msg, want string) time.Duration {
	b.Helper()
	buf := make([]byte, 2048)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 && (n < len(want) || string(buf[:len(want)]) != want) {
			b.Fatalf("reply %q, want %s...", buf[:n], want)
		}
	}
	return time.Since(start)
}

// BenchmarkCommandRoundTrip compares a SAY through the command door
// (parse, Hub request, reply) and a PING with a bare UDP echo server, all
// on loopback; it logs the ratios.
func BenchmarkCommandRoundTrip(b *testing.B) {
	res := map[string]float64{}
	b.Run("raw-echo", func(b *testing.B) {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(buf[:n], from)
			}
		}()
		c, err := net.DialUDP("udp", nil, pc.LocalAddr().(*net.UDPAddr))
		if err != nil {
			b.Fatal(err)
		}
		d := roundTrips(b, c, "PING x", "PING x")
		c.Close()
		pc.Close()
		<-done
		res["raw"] = float64(d.Nanoseconds()) / float64(b.N)
	})
	for _, tc := range []struct{ name, msg, want string }{{"door-ping", "PING x", "PONG x"}, {"door-say", "SAY lobby a line of chat", "OK SAY"}} {
		b.Run(tc.name, func(b *testing.B) {
			h, _ := hub.New(&hub.Config{Rate: 1e12, Burst: 1 << 40})
			defer h.Close()
			dr, err := dgram.Listen(context.Background(), h, "udp://127.0.0.1:0", nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- dr.Serve(ctx) }()
			defer func() { stop(); <-served }()
			c, _ := net.DialUDP("udp", nil, dr.Addr().(*net.UDPAddr))
			buf := make([]byte, 2048)
			for _, cmd := range []string{"NICK ann", "JOIN lobby"} {
				c.Write([]byte(cmd))
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				for {
					n, err := c.Read(buf)
					if err != nil {
						b.Fatal(err)
					}
					if string(buf[:2]) == "OK" || n == 0 {
						break
					}
				}
			}
			defer c.Close()
			d := roundTrips(b, c, tc.msg, tc.want)
			res[tc.name] = float64(d.Nanoseconds()) / float64(b.N)
		})
	}
	if res["raw"] > 0 {
		b.Logf("round trip: door-ping/raw %.2f, door-say/raw %.2f (raw %.0f ns)", res["door-ping"]/res["raw"], res["door-say"]/res["raw"], res["raw"])
	}
}
