package monitor

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkScrape serves one scrape of n connections in 8 door/proto
// series: /metrics (client_golang, the Go and process collectors
// included), the Collector alone, and the JSON snapshot beside them.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{100, 10000} {
		now := time.Now()
		conns := make([]Conn, n)
		for i := range conns {
			conns[i] = Conn{ID: fmt.Sprint(i), Door: fmt.Sprint("door", i%4), Proto: []string{"tcp", "socket.io/websocket"}[i%2],
				Local: "127.0.0.1:7000", Remote: "127.0.0.1:40000", State: "open", Since: now, MsgsIn: uint64(i), BytesIn: uint64(10 * i)}
		}
		src := SourceFunc(func() []Conn { return append([]Conn(nil), conns...) })
		p := Process{PID: 1, Command: "bench", Started: now}
		serve := func(b *testing.B, h http.Handler) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		}
		b.Run(fmt.Sprintf("metrics/conns=%d", n), func(b *testing.B) { serve(b, PrometheusHandler(p, src)) })
		b.Run(fmt.Sprintf("collector/conns=%d", n), func(b *testing.B) {
			c := NewCollector(p, src)
			b.ReportAllocs()
			for b.Loop() {
				c.collect()
			}
		})
		b.Run(fmt.Sprintf("json/conns=%d", n), func(b *testing.B) { serve(b, Handler(p, src)) })
	}
}
