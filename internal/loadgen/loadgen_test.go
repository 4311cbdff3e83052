package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/socketio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// goBenchServer is a Go socketio server following the benchmark
// convention ("go" broadcasts count "m" events; "echo" acknowledges).
func goBenchServer(t *testing.T) string {
	t.Helper()
	srv, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/", "/bench"} {
		ns := srv.Of(name)
		ns.OnConnection(func(s *socketio.Socket) {
			s.On("go", func(args []any, _ socketio.AckFunc) {
				n := int(args[0].(float64))
				for i := range n {
					ns.Emit("m", i, args[1])
				}
			})
			s.On("echo", func(args []any, ack socketio.AckFunc) {
				if ack != nil {
					ack(args...)
				}
			})
		})
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); ts.Close() })
	return ts.URL
}

// parse reads the "key: value" lines of a Result.
func parse(t *testing.T, r *Result) map[string]string {
	t.Helper()
	var b bytes.Buffer
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		out[k] = v
	}
	return out
}

func runModes(t *testing.T, url string, transports []string) {
	for _, tr := range transports {
		for _, mode := range []string{ModeBroadcast, ModeEcho, ModeIdle} {
			for _, full := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/full=%v", tr, mode, full), func(t *testing.T) { runMode(t, url, tr, mode, full) })
			}
		}
	}
}

func runMode(t *testing.T, url, tr, mode string, full bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := Run(ctx, Config{URL: url, Clients: 8, Transport: tr, Mode: mode, Duration: 200 * time.Millisecond, Round: 20, Full: full})
	if err != nil {
		t.Fatal(err)
	}
	kv := parse(t, res)
	t.Logf("%v", kv)
	if res.Connected != 8 || res.Disconnects != 0 || res.FirstError != nil {
		t.Fatalf("result %+v", res)
	}
	if mode != ModeIdle && res.Deliveries == 0 {
		t.Fatal("no deliveries")
	}
	if mode == ModeEcho && (res.RTTp50 <= 0 || res.RTTp99 < res.RTTp50 || kv["rtt_p99_us"] == "") {
		t.Fatalf("rtt %v %v", res.RTTp50, res.RTTp99)
	}
	for _, k := range []string{"deliveries_per_s", "gen_cpu_per_delivery_us", "gen_cpu_cores", "connected", "client"} {
		if kv[k] == "" {
			t.Fatalf("missing %s", k)
		}
	}
}

func TestRunGoServer(t *testing.T) {
	url := goBenchServer(t)
	runModes(t, url, []string{"websocket", "polling", "upgrade"})
	runModes(t, url+"/bench", []string{"websocket"})
}

// nodeServer starts interop/node/client/server.js (the official socket.io
// 4.8 server) and returns its plain server's URL.
func nodeServer(t testing.TB) string {
	node, dir := testutil.Node(t)
	cmd := exec.Command(node, filepath.Join("client", "server.js"))
	cmd.Dir = dir
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	line := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
	}()
	t.Cleanup(func() { stdin.Close(); <-done })
	var ports struct{ Plain int }
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &ports); err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("node did not start")
	}
	return fmt.Sprintf("http://127.0.0.1:%d", ports.Plain)
}

// TestRunNodeServer runs the generator against the official socket.io 4.8
// server.
func TestRunNodeServer(t *testing.T) {
	runModes(t, nodeServer(t), []string{"websocket", "polling"})
}

// BenchmarkGeneratorOnNodeServer runs the generator for 2 s per mode with
// 100 WebSocket clients against the official socket.io 4.8 server (in its
// own process) and reports what it measured next to its own cost:
// deliveries/s, gen-cpu-us/delivery and gen-cores (the generator's CPU
// over wall time; well under the machine's cores means the generator is
// not the bottleneck). Run with -benchtime 1x.
func BenchmarkGeneratorOnNodeServer(b *testing.B) {
	url := nodeServer(b)
	for _, full := range []bool{false, true} {
		for _, mode := range []string{ModeBroadcast, ModeEcho} {
			b.Run(fmt.Sprintf("%s/full=%v", mode, full), func(b *testing.B) { benchGenerator(b, url, mode, full) })
		}
	}
}

func benchGenerator(b *testing.B, url, mode string, full bool) {
	for range b.N {
		res, err := Run(context.Background(), Config{URL: url, Clients: 100, Mode: mode, Duration: 2 * time.Second, Full: full})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.DeliveriesPerSec(), "deliveries/s")
		b.ReportMetric(us(res.CPUPerDelivery()), "gen-cpu-us/delivery")
		b.ReportMetric(res.CPU.Seconds()/res.Elapsed.Seconds(), "gen-cores")
		if mode == ModeEcho {
			b.ReportMetric(us(res.RTTp50), "rtt-p50-us")
			b.ReportMetric(us(res.RTTp99), "rtt-p99-us")
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{Mode: "x"}, {Transport: "x"}, {Clients: -1}} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
