//go:build linux

package endpoint

import (
	"context"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("tcp://127.0.0.1:7000?nodelay=1&keepalive=30s&tos=16"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoopbackTCP compares writing through an endpoint.Conn (counters
// and all) with writing on the bare *net.TCPConn under it.
func BenchmarkLoopbackTCP(b *testing.B) {
	for _, size := range []int{64, 1024, 16384} {
		for _, mode := range []string{"raw", "endpoint"} {
			b.Run(mode+"/"+sizeName(size), func(b *testing.B) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				l, err := Listen(ctx, "tcp://127.0.0.1:0", nil)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				done := make(chan struct{})
				go func() {
					defer close(done)
					s, err := l.AcceptConn()
					if err != nil {
						return
					}
					defer s.Close()
					io.Copy(io.Discard, s.NetConn())
				}()
				c, err := Dial(ctx, "tcp://"+l.Local(), nil)
				if err != nil {
					b.Fatal(err)
				}
				var w net.Conn = c
				if mode == "raw" {
					w = c.NetConn()
				}
				buf := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := w.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				c.Close()
				<-done
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
