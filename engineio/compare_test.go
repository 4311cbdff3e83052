package engineio

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/internal/testutil"
)

// The BenchmarkCompare* benchmarks run this package's server and Node's
// engine.io server (interop/node) each in its own process, drive both with
// the same Go WebSocket clients from the benchmark process, and report the
// server process's CPU time and RSS from /proc. They need the interop
// peers (SWITCHBOARD_INTEROP=1).

const envCompareServer = "ENGINEIO_COMPARE_SERVER"

var bcastRE = regexp.MustCompile(`^4?bcast:(\d+):(\d+)$`)

// TestCompareServerProcess is the Go server process of BenchmarkCompare*;
// it is skipped unless started by them.
func TestCompareServerProcess(t *testing.T) {
	if os.Getenv(envCompareServer) == "" {
		t.Skip("server process of BenchmarkCompare*")
	}
	var srv *Server
	srv, err := NewServer(&Config{PingInterval: time.Hour, PingTimeout: time.Minute, MaxQueuedPackets: 1 << 16}, func(s *Socket) {
		s.OnMessage(func(m Message) {
			sm := bcastRE.FindSubmatch(m.Data)
			if sm == nil {
				return
			}
			k, _ := strconv.Atoi(string(sm[1]))
			size, _ := strconv.Atoi(string(sm[2]))
			msg := Message{Data: []byte(strings.Repeat("x", size))}
			srv.mu.RLock()
			socks := srv.listLocked()
			srv.mu.RUnlock()
			for range k {
				for _, s := range socks {
					_ = s.Send(msg)
				}
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	hs.Close()
	srv.Close()
}

// serverProc is a server under comparison, in its own process.
type serverProc struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	url   string // ws://127.0.0.1:port/engine.io/?EIO=4&transport=websocket
}

func startServer(b *testing.B, kind string) *serverProc {
	b.Helper()
	var cmd *exec.Cmd
	switch kind {
	case "go":
		testutil.Interop(b)
		exe, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		cmd = exec.Command(exe, "-test.run=^TestCompareServerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCompareServer+"=1")
	case "node":
		node, dir := testutil.Node(b)
		cmd = exec.Command(node, filepath.Join(testutil.RepoRoot(b), "engineio", "testdata", "eio_server.js"))
		cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &serverProc{cmd: cmd, stdin: stdin}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "port ")
	if err != nil || !ok {
		b.Fatalf("%s server: %q %v", kind, line, err)
	}
	p.url = "ws://127.0.0.1:" + port + "/engine.io/?EIO=4&transport=websocket"
	return p
}

// cpu returns the process's user+system CPU time.
func (p *serverProc) cpu(b *testing.B) time.Duration {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stt) * 10 * time.Millisecond // USER_HZ = 100
}

// rss returns the process's resident set size in bytes.
func (p *serverProc) rss(b *testing.B) int64 {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// dialClients connects n WebSocket-only clients that count the messages
// they read (after the open packet) into delivered.
func dialClients(b *testing.B, url string, n int, delivered *atomic.Int64) []*websocket.Conn {
	b.Helper()
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, 0, n)
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
		wg.Wait()
	})
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		c, _, err := websocket.Dial(ctx, url, nil)
		if err == nil {
			_, _, err = c.Read(ctx)
		}
		cancel()
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		c.SetReadLimit(-1)
		conns = append(conns, c)
		if delivered == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [512]byte
			for {
				_, r, err := c.Reader(context.Background())
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
	return conns
}

// BenchmarkCompareBroadcast: one op is one message broadcast to every
// client; reported are deliveries/s and the server's CPU per delivery.
func BenchmarkCompareBroadcast(b *testing.B) {
	for _, n := range []int{1000} {
		for _, kind := range []string{"go", "node"} {
			b.Run(fmt.Sprintf("%s/clients=%d", kind, n), func(b *testing.B) {
				p := startServer(b, kind)
				var delivered atomic.Int64
				conns := dialClients(b, p.url, n, &delivered)
				const burst = 100
				ctx := context.Background()
				b.ResetTimer()
				cpu0 := p.cpu(b)
				start := time.Now()
				sent := int64(0)
				for sent < int64(b.N) {
					k := min(burst, int64(b.N)-sent)
					if err := conns[0].Write(ctx, websocket.MessageText, fmt.Appendf(nil, "4bcast:%d:32", k)); err != nil {
						b.Fatal(err)
					}
					sent += k
					deadline := time.Now().Add(time.Minute)
					for delivered.Load() < sent*int64(n) {
						if time.Now().After(deadline) {
							b.Fatalf("delivered %d of %d", delivered.Load(), sent*int64(n))
						}
						runtime.Gosched()
					}
				}
				d := time.Since(start)
				cpu := p.cpu(b) - cpu0
				total := float64(b.N) * float64(n)
				b.ReportMetric(total/d.Seconds(), "deliveries/s")
				b.ReportMetric(float64(cpu.Nanoseconds())/total, "server-cpu-ns/delivery")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkCompareIdle reports the server process's RSS growth per idle
// WebSocket connection.
func BenchmarkCompareIdle(b *testing.B) {
	for _, n := range []int{5000} {
		for _, kind := range []string{"go", "node"} {
			b.Run(fmt.Sprintf("%s/conns=%d", kind, n), func(b *testing.B) {
				for b.Loop() {
					p := startServer(b, kind)
					r0 := p.rss(b)
					dialClients(b, p.url, n, nil)
					// Let the server settle (GC) before reading RSS.
					<-time.After(2 * time.Second)
					b.ReportMetric(float64(p.rss(b)-r0)/float64(n), "server-rss-B/conn")
				}
			})
		}
	}
}
