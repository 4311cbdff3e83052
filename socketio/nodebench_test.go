package socketio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// benchPayload is the second argument of every broadcast event.
const benchPayload = `{"room":"lobby","from":"ann","text":"hello, world, this is a chat line of ordinary length"}`

// rawWS is a minimal WebSocket client for the benchmark, so that the
// clients cost little next to the server measured: it reads unmasked
// server frames with a reused buffer and writes masked frames with a zero
// mask key.
type rawWS struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
	wmu sync.Mutex
}

func dialRawWS(url string) (*rawWS, error) {
	u := strings.TrimPrefix(url, "ws://")
	host, path, _ := strings.Cut(u, "/")
	c, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	req := "GET /" + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	return &rawWS{c: c, r: r, buf: make([]byte, 0, 4096)}, nil
}

// read returns the next data frame's payload (valid until the next read).
func (w *rawWS) read() ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(w.r, h[:]); err != nil {
		return nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(w.r, l[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(w.r, l[:]); err != nil {
			return nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	if n > 1<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	w.buf = slices.Grow(w.buf[:0], int(n))[:n]
	if _, err := io.ReadFull(w.r, w.buf); err != nil {
		return nil, err
	}
	if h[0]&0x0f == 8 {
		return nil, io.EOF
	}
	return w.buf, nil
}

func (w *rawWS) writeText(p string) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	f := []byte{0x81}
	switch {
	case len(p) < 126:
		f = append(f, 0x80|byte(len(p)))
	case len(p) < 1<<16:
		f = append(f, 0x80|126, byte(len(p)>>8), byte(len(p)))
	default:
		return fmt.Errorf("frame too large")
	}
	f = append(f, 0, 0, 0, 0) // zero mask key: payload unchanged
	f = append(f, p...)
	_, err := w.c.Write(f)
	return err
}

// broadcastRun drives a server at base (http://host:port) with n raw
// WebSocket Socket.IO clients: client 0 asks for bursts of burst "m"
// broadcasts, waiting for each burst to arrive everywhere; each op is one
// event delivered to all n clients.
func broadcastRun(b *testing.B, base string, n, burst int) {
	url := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	conns := make([]*rawWS, n)
	var got, target atomic.Int64 // events received by all clients, and awaited
	reached := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.c.Close()
			}
		}
	}()
	for i := range conns {
		c, err := dialRawWS(url)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
		if _, err := c.read(); err != nil { // engine handshake
			b.Fatal(err)
		}
		if err := c.writeText("40"); err != nil {
			b.Fatal(err)
		}
		if m, err := c.read(); err != nil || !strings.HasPrefix(string(m), "40") {
			b.Fatalf("connect: %q %v", m, err)
		}
	}
	prefix := []byte(`42["m"`)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := c.read()
				if err != nil {
					return
				}
				switch {
				case bytes.HasPrefix(m, prefix):
					if got.Add(1) == target.Load() {
						reached <- struct{}{}
					}
				case string(m) == "2":
					c.writeText("3")
				}
			}
		}()
	}
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		k := min(burst, b.N-sent)
		sent += k
		target.Store(int64(sent) * int64(n))
		if err := conns[0].writeText(fmt.Sprintf(`42["go",%d,%s]`, k, benchPayload)); err != nil {
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
// ratio of their per-event times (go test -v shows it). The clients are the
// same minimal WebSocket readers in this process for both. Runs only with SWITCHBOARD_INTEROP=1.
func BenchmarkBroadcastVsNode(b *testing.B) {
	testutil.Interop(b)
	for _, c := range []struct{ n, burst int }{{10, 1}, {100, 1}, {10, 256}, {100, 256}} {
		n, burst := c.n, c.burst
		var goNs, nodeNs float64
		b.Run(fmt.Sprintf("go/N=%d/burst=%d", n, burst), func(b *testing.B) {
			srv, err := NewServer(nil)
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
			broadcastRun(b, ts.URL, n, burst)
			goNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(fmt.Sprintf("node/N=%d/burst=%d", n, burst), func(b *testing.B) {
			broadcastRun(b, startNodeBench(b), n, burst)
			nodeNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		if goNs > 0 && nodeNs > 0 {
			b.Logf("N=%d burst=%d: go %.0f ns/event, node %.0f ns/event: go is %.2fx node's speed", n, burst, goNs, nodeNs, nodeNs/goNs)
		}
	}
}
