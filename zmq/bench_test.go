package zmq

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"
)

var benchSizes = []int{16, 256, 4 << 10, 64 << 10}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkPushPull measures one-way throughput: b.N messages of each size
// pushed and pulled, over inproc and loopback tcp.
func BenchmarkPushPull(b *testing.B) {
	for _, tr := range []string{"inproc", "tcp", "ipc"} {
		for _, size := range benchSizes {
			b.Run(tr+"/"+sizeName(size), func(b *testing.B) {
				ep := map[string]string{"inproc": "inproc://bench", "tcp": "tcp://127.0.0.1:*", "ipc": "ipc://" + b.TempDir() + "/b.sock"}[tr]
				pull, push := pairUp(b, Pull, Push, ep, nil, nil)
				ctx := context.Background()
				msg := Msg{make([]byte, size)}
				// Warm up: one message through.
				if err := push.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
				if _, err := pull.Recv(ctx); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				done := make(chan error, 1)
				n := b.N
				go func() {
					for i := 0; i < n; i++ {
						if err := push.Send(ctx, msg); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
				for i := 0; i < n; i++ {
					if _, err := pull.Recv(ctx); err != nil {
						b.Fatal(err)
					}
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msg/s")
			})
		}
	}
}

// BenchmarkReqRep measures the round trip of a 16-byte request and reply
// over loopback tcp (and inproc), reporting the median as p50-ns.
func BenchmarkReqRep(b *testing.B) {
	for _, tr := range []string{"inproc", "tcp"} {
		b.Run(tr, func(b *testing.B) {
			ep := map[string]string{"inproc": "inproc://rr", "tcp": "tcp://127.0.0.1:*"}[tr]
			rep, req := pairUp(b, Rep, Req, ep, nil, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					m, err := rep.Recv(ctx)
					if err != nil {
						return
					}
					if rep.Send(ctx, m) != nil {
						return
					}
				}
			}()
			msg := Msg{make([]byte, 16)}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := req.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
				if _, err := req.Recv(ctx); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			cancel()
			<-done
		})
	}
}

// BenchmarkPubSub measures PUB to one SUB at 16 bytes over tcp, with a
// high-water mark large enough that nothing is dropped while the
// subscriber keeps up.
func BenchmarkPubSub(b *testing.B) {
	for _, tr := range []string{"inproc", "tcp"} {
		b.Run(tr+"/16B", func(b *testing.B) {
			ep := map[string]string{"inproc": "inproc://ps", "tcp": "tcp://127.0.0.1:*"}[tr]
			pub, sub := pairUp(b, Pub, Sub, ep, &Config{SendHWM: -1}, &Config{RecvHWM: -1})
			sub.Subscribe(nil)
			ctx := context.Background()
			waitRecv(b, ctx, pub, sub, "warm")
			msg := Msg{make([]byte, 16)}
			b.SetBytes(16)
			b.ReportAllocs()
			b.ResetTimer()
			n := b.N
			go func() {
				for i := 0; i < n; i++ {
					pub.Send(ctx, msg)
				}
			}()
			for i := 0; i < n; i++ {
				if _, err := sub.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}
