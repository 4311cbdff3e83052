package monitor_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/switchboard/switchboard/monitor"
)

func ExampleNewSnapshot() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := monitor.NewSnapshot(monitor.Process{PID: 42, Command: "listen"}, now, []monitor.Conn{
		{ID: "1", Proto: "tcp", Local: "127.0.0.1:7000", Remote: "127.0.0.1:40000", State: "open",
			Since: now.Add(-3 * time.Second), MsgsIn: 2, BytesIn: 12},
	})
	fmt.Println(s.Totals.Conns, s.Totals.BytesIn, s.Conns[0].Age)
	// Output: 1 12 3
}

// A process serves its connections on its control socket; `switchboard
// stat` (or Fetch) reads them.
func ExampleServe() {
	ctx := context.Background()
	started := time.Now()
	srv, err := monitor.Serve(ctx, monitor.ServerConfig{
		Process: monitor.Self("myapp", nil, started),
		Source: monitor.SourceFunc(func() []monitor.Conn {
			return []monitor.Conn{{ID: "1", Proto: "tcp", Local: "127.0.0.1:7000", State: "listen", Since: started}}
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	paths, _ := monitor.Discover("")
	for _, p := range paths {
		s, err := monitor.Fetch(ctx, p)
		if err == nil {
			fmt.Println(s.Process.Command, s.Totals.Conns)
		}
	}
}

// The Prometheus metrics of a Source, on an HTTP mux: per door and
// protocol, plus the Go runtime and process metrics.
func ExamplePrometheusHandler() {
	started := time.Now()
	src := monitor.SourceFunc(func() []monitor.Conn {
		return []monitor.Conn{{ID: "1", Door: "irc", Proto: "tcp", State: "open", Since: started, MsgsIn: 3}}
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", monitor.PrometheusHandler(monitor.Self("myapp", nil, started), src))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "switchboard_messages_received_total") {
			fmt.Print(line)
		}
	}
	// Output: switchboard_messages_received_total{door="irc",proto="tcp"} 3
}
