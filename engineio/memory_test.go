package engineio

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Environment of the client process that BenchmarkIdleWebSocket starts
// (this test binary again, running TestIdleClientProcess).
const (
	envClientURL = "ENGINEIO_IDLE_CLIENT_URL"
	envClientN   = "ENGINEIO_IDLE_CLIENT_N"
)

// TestIdleClientProcess is the client side of BenchmarkIdleWebSocket; it
// is skipped unless started by it.
func TestIdleClientProcess(t *testing.T) {
	url := os.Getenv(envClientURL)
	if url == "" {
		t.Skip("client process of BenchmarkIdleWebSocket")
	}
	n, _ := strconv.Atoi(os.Getenv(envClientN))
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
	}()
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		c, _, err := websocket.Dial(ctx, url, nil)
		if err == nil {
			_, _, err = c.Read(ctx) // open packet
		}
		cancel()
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	// Wait for the parent to close stdin.
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// rss returns this process's resident set size in bytes.
func rss(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

// TestIdleWebSocketMemory locks in the memory an idle WebSocket session
// holds: n sessions opened from a separate client process must grow the
// live heap by at most maxIdleHeap bytes each. It measures about 1.1 KB
// (the net.Conn and its addresses, the Socket, its handshake details, the
// wsTransport, map and heap entries); it was about 4 KB with a
// coder/websocket Conn, the request's header map and a timer per socket.
func TestIdleWebSocketMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a client process")
	}
	const n, maxIdleHeap = 500, 2500
	e := newEnv(t, nil, func(s *Socket) {})
	live := func() uint64 {
		runtime.GC()
		runtime.GC() // and empty the pools' victim caches
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	h0 := live()
	stop := startIdleClients(t, e, n)
	defer stop()
	h1 := live()
	per := (int64(h1) - int64(h0)) / n
	t.Logf("%d live heap bytes per idle WebSocket session", per)
	if per > maxIdleHeap {
		t.Errorf("an idle WebSocket session holds %d heap bytes, want at most %d", per, maxIdleHeap)
	}
}

// startIdleClients opens n idle WebSocket sessions to e from a client
// process (this test binary, running TestIdleClientProcess) and waits
// until the server counts them; stop ends the process.
func startIdleClients(tb testing.TB, e *env, n int) (stop func()) {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestIdleClientProcess$", "-test.count=1")
	u := "ws" + strings.TrimPrefix(e.url, "http") + "?EIO=4&transport=websocket"
	cmd.Env = append(os.Environ(), envClientURL+"="+u, envClientN+"="+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	stop = func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		stop()
		tb.Fatalf("client process: %q %v", line, err)
	}
	if got := e.srv.Count(); got != n {
		stop()
		tb.Fatalf("want %d sockets, got %d", n, got)
	}
	return stop
}

// BenchmarkIdleWebSocket opens idle WebSocket sessions from a separate
// client process and reports the server's memory per connection: RSS and
// Go heap+stack growth.
func BenchmarkIdleWebSocket(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			for b.Loop() {
				idleRun(b, n)
			}
		})
	}
}

func idleRun(b *testing.B, n int) {
	if os.Getenv("ENGINEIO_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	e := newEnv(b, &Config{PingInterval: time.Hour}, func(s *Socket) {})
	settle()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	r0 := rss(b)

	stop := startIdleClients(b, e, n)
	defer stop()
	settle()
	runtime.ReadMemStats(&m1)
	r1 := rss(b)
	if p := os.Getenv("ENGINEIO_HEAPPROFILE"); p != "" {
		f, err := os.Create(p)
		if err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	heap := int64(m1.HeapInuse+m1.StackInuse) - int64(m0.HeapInuse+m0.StackInuse)
	b.ReportMetric(float64(r1-r0)/float64(n), "rss-B/conn")
	b.ReportMetric(float64(heap)/float64(n), "heap+stack-B/conn")
	b.ReportMetric(float64(runtime.NumGoroutine())/float64(n), "goroutines/conn")
}
