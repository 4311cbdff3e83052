package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/internal/testutil"
)

// benchClientServer is a Go server with "echo" (acknowledges its
// arguments) and "ticks" (emits N "tick" events).
func benchClientServer(b *testing.B) string {
	srv, err := NewServer(&Config{Engine: &engineio.Config{MaxQueuedPackets: 1 << 20}})
	if err != nil {
		b.Fatal(err)
	}
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("echo", func(args []any, ack AckFunc) { ack(args...) })
		s.On("ticks", func(args []any, _ AckFunc) {
			for i := range int(args[0].(float64)) {
				s.Emit("tick", i)
			}
		})
	})
	ts := httptest.NewServer(srv)
	b.Cleanup(func() { srv.Close(); ts.Close() })
	return ts.URL
}

// goClientRun times n operations of mode on the Go client.
func goClientRun(b *testing.B, url, mode string, n int, transport string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Connect(ctx, url, &ClientConfig{Engine: &engineio.DialConfig{Transports: []string{transport}, MaxQueuedPackets: 1 << 20}, NoReconnect: true}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	payload := strings.Repeat("x", 64)
	for range 50 {
		if _, err := s.EmitWithAck(ctx, "echo", payload); err != nil {
			b.Fatal(err)
		}
	}
	done := make(chan struct{})
	got := 0
	s.On("tick", func([]any, AckFunc) {
		if got++; got == n {
			close(done)
		}
	})
	t0 := time.Now()
	if mode == "echo" {
		for range n {
			if _, err := s.EmitWithAck(ctx, "echo", payload); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		if err := s.Emit("ticks", n); err != nil {
			b.Fatal(err)
		}
		select {
		case <-done:
		case <-ctx.Done():
			b.Fatalf("received %d of %d", got, n)
		}
	}
	return time.Since(t0)
}

// nodeClientRun times the same on the official socket.io-client.
func nodeClientRun(b *testing.B, url, mode string, n int, transport string) time.Duration {
	node, dir := testutil.Node(b)
	cmd := exec.Command(node, filepath.Join("client", "bench-client.js"), url, mode, fmt.Sprint(n), transport)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("node bench client: %v", err)
	}
	var r struct{ NS int64 }
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("node said %q: %v", out, err)
	}
	return time.Duration(r.NS)
}

// BenchmarkClientVsNode compares the Go client with the official
// socket.io-client 4.8, both against the same Go server and doing the same
// work: echo (one emit-with-ack round trip per op) and recv (one event
// received per op). It reports go-ns/op, node-ns/op and node/go (above 1:
// the Go client is faster).
func BenchmarkClientVsNode(b *testing.B) {
	url := benchClientServer(b)
	for _, transport := range []string{"websocket", "polling"} {
		for _, mode := range []string{"echo", "recv"} {
			b.Run(transport+"/"+mode, func(b *testing.B) {
				n := max(b.N, 100)
				g := goClientRun(b, url, mode, n, transport)
				nd := nodeClientRun(b, url, mode, n, transport)
				b.ReportMetric(float64(g.Nanoseconds())/float64(n), "go-ns/op")
				b.ReportMetric(float64(nd.Nanoseconds())/float64(n), "node-ns/op")
				b.ReportMetric(float64(nd)/float64(g), "node/go")
			})
		}
	}
}
