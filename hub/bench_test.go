package hub_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/internal/testutil"
)

type nopPeer struct{}

func (nopPeer) Deliver(*hub.Event) error { return nil }
func (nopPeer) Close()                   {}

// BenchmarkSay is the core alone: one message to a room of n members whose
// peers do nothing.
func BenchmarkSay(b *testing.B) {
	for _, n := range []int{2, 10, 100, 1000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			h, err := hub.New(&hub.Config{Rate: 1e12, Burst: 1 << 40})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			var sender *hub.Conn
			for i := range n {
				c, err := h.Attach(nopPeer{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.SetName(fmt.Sprint("u", i)); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Join("lobby"); err != nil {
					b.Fatal(err)
				}
				sender = c
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sender.Say("lobby", "hello, world"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*float64(n-1)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

const benchText = "hello, world, this is a chat line of ordinary length"

// chatRun drives a chat server at base (http://host:port) with n raw
// WebSocket Socket.IO clients in room "lobby": client 0 says lines with
// acks, in bursts; one op is one line acked to the sender and delivered to
// the n-1 others.
func chatRun(b *testing.B, base string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	conns := make([]*websocket.Conn, n)
	var said, acks, wantSaid, wantAcks atomic.Int64
	reached := make(chan struct{}, 1)
	check := func() {
		if said.Load() == wantSaid.Load() && acks.Load() == wantAcks.Load() {
			select {
			case reached <- struct{}{}:
			default:
			}
		}
	}
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
		// CONNECT, nick, join, each after the previous one's reply.
		for _, m := range []struct{ send, reply string }{
			{"40", "40"}, {fmt.Sprintf(`421["nick","u%d"]`, i), "431"}, {`422["join","lobby"]`, "432"},
		} {
			if err := c.Write(ctx, websocket.MessageText, []byte(m.send)); err != nil {
				b.Fatal(err)
			}
			for {
				_, got, err := c.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if strings.HasPrefix(string(got), m.reply) {
					break
				}
			}
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
				switch s := string(m); {
				case strings.HasPrefix(s, `42["said"`):
					said.Add(1)
					check()
				case strings.HasPrefix(s, `43`):
					acks.Add(1)
					check()
				case s == "2":
					c.Write(ctx, websocket.MessageText, []byte("3"))
				}
			}
		}()
	}
	const burst = 64
	msg := []byte(`423["say",{"room":"lobby","text":"` + benchText + `"}]`)
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		k := min(burst, b.N-sent)
		sent += k
		wantSaid.Store(int64(sent) * int64(n-1))
		wantAcks.Store(int64(sent))
		for range k {
			if err := conns[0].Write(ctx, websocket.MessageText, msg); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-reached:
		case <-time.After(time.Minute):
			b.Fatalf("received %d of %d lines, %d of %d acks", said.Load(), wantSaid.Load(), acks.Load(), wantAcks.Load())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(n-1)/b.Elapsed().Seconds(), "deliveries/s")
}

// startNodeChat starts testdata/nodechat.js and returns its base URL.
func startNodeChat(b *testing.B) string {
	node, dir := testutil.Node(b)
	script, err := filepath.Abs(filepath.Join("testdata", "nodechat.js"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
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

// BenchmarkChatVsNode runs the same chat load (one sender, n-1 receivers in
// one room, WebSocket, acks) against the hub and against the same protocol
// on the official Node server (socket.io 4.8, testdata/nodechat.js), and
// logs the ratio. Runs only with SWITCHBOARD_INTEROP=1.
func BenchmarkChatVsNode(b *testing.B) {
	testutil.Interop(b)
	for _, n := range []int{10, 100} {
		var goNs, nodeNs float64
		b.Run(fmt.Sprintf("hub/N=%d", n), func(b *testing.B) {
			ts := startServer(b, &hub.ServerConfig{Hub: &hub.Config{Rate: 1e12, Burst: 1 << 40}}).url
			chatRun(b, ts, n)
			goNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(fmt.Sprintf("node/N=%d", n), func(b *testing.B) {
			chatRun(b, startNodeChat(b), n)
			nodeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		if goNs > 0 && nodeNs > 0 {
			b.Logf("N=%d: hub %.0f ns/line, node %.0f ns/line: hub is %.2fx node's speed", n, goNs, nodeNs, nodeNs/goNs)
		}
	}
}
