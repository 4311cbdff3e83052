package socketio

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/internal/testutil"
)

// benchPayload is the second argument of every broadcast event.
const benchPayload = `{"room":"lobby","from":"ann","text":"hello, world, this is a chat line of ordinary length"}`

// broadcastRun drives a server at base (http://host:port) with n raw
// WebSocket Socket.IO clients: client 0 asks for bursts of "m" broadcasts
// and each op is one event delivered to all n clients.
func broadcastRun(b *testing.B, base string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	conns := make([]*websocket.Conn, n)
	var got, target atomic.Int64 // events received by all clients, and awaited
	reached := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i := range conns {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadLimit(1 << 20)
		conns[i] = c
		if _, _, err := c.Read(ctx); err != nil { // engine handshake
			b.Fatal(err)
		}
		if err := c.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
			b.Fatal(err)
		}
		if _, m, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(m), "40") {
			b.Fatalf("connect: %q %v", m, err)
		}
	}
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.CloseNow()
			for {
				_, m, err := c.Read(ctx)
				if err != nil {
					return
				}
				switch {
				case strings.HasPrefix(string(m), `42["m"`):
					if got.Add(1) == target.Load() {
						reached <- struct{}{}
					}
				case string(m) == "2":
					c.Write(ctx, websocket.MessageText, []byte("3"))
				}
			}
		}()
	}
	const burst = 256
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		k := min(burst, b.N-sent)
		sent += k
		target.Store(int64(sent) * int64(n))
		msg := fmt.Sprintf(`42["go",%d,%s]`, k, benchPayload)
		if err := conns[0].Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			b.Fatal(err)
		}
		select {
		case <-reached:
		case <-time.After(time.Minute):
			b.Fatalf("received %d of %d events", got.Load(), target.Load())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "deliveries/s")
}

// startNodeBench starts interop/node/sio/bench-server.js and returns its
// base URL.
func startNodeBench(b *testing.B) string {
	node, dir := testutil.Node(b)
	cmd := exec.Command(node, filepath.Join("sio", "bench-server.js"))
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	var hello struct{ Port int }
	if err := json.Unmarshal([]byte(line), &hello); err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", hello.Port)
}

// BenchmarkBroadcastVsNode broadcasts to n WebSocket clients from this
// server and from the official Node server (socket.io 4.8), and logs the
// ratio of their per-event times. The clients (raw WebSocket readers in
// this process) are the same for both. Runs only with SWITCHBOARD_INTEROP=1.
func BenchmarkBroadcastVsNode(b *testing.B) {
	testutil.Interop(b)
	for _, n := range []int{10, 100} {
		var goNs, nodeNs float64
		b.Run(fmt.Sprintf("go/N=%d", n), func(b *testing.B) {
			srv, err := NewServer(&Config{Engine: nil})
			if err != nil {
				b.Fatal(err)
			}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			defer srv.Close()
			ns := srv.Of("/")
			ns.OnConnection(func(s *Socket) {
				s.On("go", func(args []any, _ AckFunc) {
					k := int(args[0].(float64))
					payload := json.RawMessage(benchPayload)
					for i := range k {
						ns.Emit("m", i, payload)
					}
				})
			})
			broadcastRun(b, ts.URL, n)
			goNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(fmt.Sprintf("node/N=%d", n), func(b *testing.B) {
			broadcastRun(b, startNodeBench(b), n)
			nodeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		if goNs > 0 && nodeNs > 0 {
			b.Logf("N=%d: go %.0f ns/event, node %.0f ns/event: go is %.2fx node's speed", n, goNs, nodeNs, nodeNs/goNs)
		}
	}
}
