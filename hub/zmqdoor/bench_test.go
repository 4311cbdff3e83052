package zmqdoor_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/zmqdoor"
	"github.com/switchboard/switchboard/zmq"
)

// window bounds the messages in flight, so neither XPUB nor PUB drops.
const window = 256

// pump sends b.N messages with send and waits for each with recv, at most
// window ahead, and returns the time taken.
func pump(b *testing.B, send func(i int), recv func()) time.Duration {
	b.Helper()
	got := make(chan struct{}, window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < b.N; i++ {
			recv()
			got <- struct{}{}
		}
	}()
	start := time.Now()
	inflight := 0
	for i := 0; i < b.N; i++ {
		if inflight == window {
			<-got
			inflight--
		}
		send(i)
		inflight++
	}
	<-done
	return time.Since(start)
}

// BenchmarkPub compares a line said in a Hub room and published by the
// XPUB door with a bare zmq PUB→SUB message of the same frames, both over
// loopback TCP; it logs door/raw.
func BenchmarkPub(b *testing.B) {
	var raw, door float64
	b.Run("raw", func(b *testing.B) {
		ctx := context.Background()
		pub, _ := zmq.NewSocket(zmq.Pub, &zmq.Config{Linger: -1})
		defer pub.Close()
		pub.Bind("tcp://127.0.0.1:*")
		sub, _ := zmq.NewSocket(zmq.Sub, &zmq.Config{Linger: -1})
		defer sub.Close()
		sub.Subscribe([]byte("lobby"))
		sub.Connect(pub.LastEndpoint())
		// The slow joiner: publish until the subscriber hears one.
		for {
			pub.SendString(ctx, "lobby", "probe")
			c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			_, err := sub.Recv(c)
			cancel()
			if err == nil {
				break
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		d := pump(b, func(int) {
			pub.SendString(ctx, "lobby", "ann", "a line of chat", "0a1b2c3d-1", "1764000000000")
		}, func() {
			if _, err := sub.Recv(ctx); err != nil {
				b.Error(err)
			}
		})
		raw = float64(d.Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(b.N)/d.Seconds(), "msgs/s")
	})
	b.Run("door", func(b *testing.B) {
		ctx := context.Background()
		h, _ := hub.New(&hub.Config{Rate: 1e12, Burst: 1 << 40})
		defer h.Close()
		dr, err := zmqdoor.Listen(h, &zmqdoor.Config{Pub: "tcp://127.0.0.1:*"})
		if err != nil {
			b.Fatal(err)
		}
		sctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- dr.Serve(sctx) }()
		defer func() { stop(); <-served }()
		ev := make(chan *hub.Event, 16)
		ann, _ := h.Attach(events(ev))
		defer ann.Close()
		ann.SetName("ann")
		ann.Join("lobby")
		sub, _ := zmq.NewSocket(zmq.Sub, &zmq.Config{Linger: -1})
		defer sub.Close()
		sub.Subscribe([]byte("lobby"))
		sub.Connect(dr.PubAddr())
		for e := range ev {
			if e.Kind == hub.EventJoined && e.User == "zmq" {
				break
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		d := pump(b, func(int) {
			if _, err := ann.Say("lobby", "a line of chat"); err != nil {
				b.Error(err)
			}
		}, func() {
			if _, err := sub.Recv(ctx); err != nil {
				b.Error(err)
			}
		})
		door = float64(d.Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(b.N)/d.Seconds(), "msgs/s")
		if st := dr.Stats(); st.PubDropped != 0 || st.XPub.Dropped != 0 {
			b.Errorf("dropped: %+v", st)
		}
	})
	if raw > 0 && door > 0 {
		b.Logf("door/raw time per message: %.2f (door %.0f ns, raw %.0f ns)", door/raw, door, raw)
	}
}
