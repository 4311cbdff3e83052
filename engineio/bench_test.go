package engineio

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/engineio/internal/packet"
)

// wsClients dials n WebSocket-only clients; each counts the messages it
// reads into delivered. It returns the server's sockets.
func wsClients(b *testing.B, e *env, n int, delivered *atomic.Int64) []*Socket {
	b.Helper()
	// Background: a cancellable ctx costs coder an allocation per read.
	ctx := context.Background()
	var wg sync.WaitGroup
	var conns []*websocket.Conn
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
		wg.Wait()
	})
	for range n {
		c := e.mustDialWS("EIO=4&transport=websocket")
		wsRead(b, c) // open
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [512]byte
			for {
				_, r, err := c.Reader(ctx)
				if err != nil {
					return
				}
				for {
					if _, err := r.Read(buf[:]); err != nil {
						break
					}
				}
				delivered.Add(1)
			}
		}()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.sockets) != n {
		b.Fatalf("want %d sockets, got %d", n, len(e.sockets))
	}
	return append([]*Socket(nil), e.sockets...)
}

// BenchmarkBroadcast sends one message to N WebSocket clients per
// iteration and reports deliveries per second (clients run in this
// process, so their reading is part of the cost).
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, size := range []int{32, 1024} {
			b.Run(fmt.Sprintf("clients=%d/size=%d", n, size), func(b *testing.B) {
				e := newEnv(b, &Config{PingInterval: time.Hour}, func(s *Socket) {})
				var delivered atomic.Int64
				e.srv.onConnect = func(s *Socket) {
					e.mu.Lock()
					e.sockets = append(e.sockets, s)
					e.mu.Unlock()
				}
				socks := wsClients(b, e, n, &delivered)
				m := Message{Data: bytes.Repeat([]byte("x"), size)}
				const window = 256 // in flight per socket, under MaxQueuedPackets
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					for _, s := range socks {
						for s.Send(m) != nil {
							runtime.Gosched()
						}
					}
					if i >= window {
						waitDelivered(b, &delivered, int64(i-window)*int64(n))
					}
				}
				waitDelivered(b, &delivered, int64(b.N)*int64(n))
				d := time.Since(start)
				b.ReportMetric(float64(b.N)*float64(n)/d.Seconds(), "deliveries/s")
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(float64(d.Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
			})
		}
	}
}

func waitDelivered(b *testing.B, delivered *atomic.Int64, want int64) {
	deadline := time.Now().Add(time.Minute)
	for delivered.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %d of %d", delivered.Load(), want)
		}
		runtime.Gosched()
	}
}

// BenchmarkSend measures Send plus the WebSocket write path for one
// client, in batches.
func BenchmarkSend(b *testing.B) {
	e := newEnv(b, &Config{PingInterval: time.Hour, MaxQueuedPackets: 1 << 16}, nil)
	var delivered atomic.Int64
	s := wsClients(b, e, 1, &delivered)[0]
	m := Message{Data: []byte(`2["chat","hello, world"]`)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for s.Send(m) != nil {
			runtime.Gosched()
		}
		i++
	}
	waitDelivered(b, &delivered, int64(i))
}

// BenchmarkPollingRoundTrip is one POST and one GET of a polling client.
func BenchmarkPollingRoundTrip(b *testing.B) {
	e := newEnv(b, &Config{PingInterval: time.Hour}, nil)
	sid := e.handshake()
	b.ReportAllocs()
	for b.Loop() {
		if code, _ := e.post(sid, "4hello"); code != 200 {
			b.Fatal(code)
		}
		if _, body := e.poll(sid); body != "4hello" {
			b.Fatal(body)
		}
	}
}

// BenchmarkAppendFrame is the WebSocket frame encoder.
func BenchmarkAppendFrame(b *testing.B) {
	p := packet.Packet{Type: packet.Message, Data: []byte(strings.Repeat("x", 64))}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendFrame(buf[:0], p)
	}
}

// BenchmarkInbound: one client sends messages as fast as it can; the
// server counts them (each may go through a park and wake-up).
func BenchmarkInbound(b *testing.B) {
	var got atomic.Int64
	e := newEnv(b, &Config{PingInterval: time.Hour}, func(s *Socket) {
		s.OnMessage(func(Message) { got.Add(1) })
	})
	c := e.mustDialWS("EIO=4&transport=websocket")
	wsRead(b, c)
	msg := []byte(`42["chat","hello, world"]`)
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		n++
	}
	deadline := time.Now().Add(time.Minute)
	for got.Load() < int64(n) && time.Now().Before(deadline) {
		runtime.Gosched()
	}
}
