package hub_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/socketio"
)

// testServer is a hub Server serving on 127.0.0.1, restartable on the
// same port.
type testServer struct {
	t      testing.TB
	cfg    *hub.ServerConfig
	url    string // "http://127.0.0.1:PORT"
	srv    *hub.Server
	cancel context.CancelFunc
	done   chan error
}

// startServer serves a hub on 127.0.0.1:0. It stops in t.Cleanup.
func startServer(t testing.TB, cfg *hub.ServerConfig) *testServer {
	t.Helper()
	ts := &testServer{t: t, cfg: cfg}
	ts.start("127.0.0.1:0")
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start(addr string) {
	ts.t.Helper()
	srv, err := hub.NewServer(ts.cfg)
	if err != nil {
		ts.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		ts.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	ts.url, ts.srv, ts.cancel, ts.done = "http://"+ln.Addr().String(), srv, cancel, done
}

// stop shuts the server down and waits for Serve; it is idempotent.
func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	select {
	case err := <-ts.done:
		if err != nil {
			ts.t.Errorf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		ts.t.Error("Serve did not return after cancel")
	}
}

// restart stops the server and starts a new one (a new Hub) on the same
// address, as a daemon restart would.
func (ts *testServer) restart() {
	ts.t.Helper()
	ts.stop()
	ts.start(strings.TrimPrefix(ts.url, "http://"))
}

// waitFor waits until cond holds, checking every few milliseconds for at
// most 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestWebPage(t *testing.T) {
	url := startServer(t, nil).url
	tests := []struct {
		path     string
		status   int
		contains string
		ctype    string
	}{
		{"/", 200, `<script src="sb.js"`, "text/html"},
		{"/sb.js", 200, "Engine.IO 4", "text/javascript"},
		{"/app.js", 200, "emitWithAck('say'", "text/javascript"},
		{"/style.css", 200, "--accent", "text/css"},
		{"/nope", 404, "", ""},
		{"/web/index.html", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := get(t, url+tt.path, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("status: want %d, got %d", tt.status, res.StatusCode)
			}
			if tt.status != 200 {
				return
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.ctype) {
				t.Errorf("Content-Type: want %s, got %q", tt.ctype, got)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("CSP: %q", csp)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
		})
	}
	// The page loads nothing from elsewhere.
	_, body := get(t, url+"/", nil)
	for _, bad := range []string{"http://", "https://", "//cdn"} {
		if strings.Contains(body, bad) {
			t.Errorf("index.html references %q", bad)
		}
	}
}

func TestOrigin(t *testing.T) {
	url := startServer(t, &hub.ServerConfig{AllowedOrigins: []string{"http://friend.example:8000"}}).url
	host := strings.TrimPrefix(url, "http://")
	tests := []struct {
		origin string
		want   int
	}{
		{"", 200},
		{"http://" + host, 200},
		{"http://friend.example:8000", 200},
		{"http://evil.example", 403},
	}
	for _, tt := range tests {
		hdr := map[string]string{}
		if tt.origin != "" {
			hdr["Origin"] = tt.origin
		}
		res, body := get(t, url+"/socket.io/?EIO=4&transport=polling", hdr)
		if res.StatusCode != tt.want {
			t.Errorf("origin %q: want %d, got %d %s", tt.origin, tt.want, res.StatusCode, body)
		}
	}
	if _, err := hub.NewServer(&hub.ServerConfig{AllowedOrigins: []string{"evil.example"}}); err == nil {
		t.Error("bad origin accepted")
	}
}

func TestServeStops(t *testing.T) {
	srv, err := hub.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	res, _ := get(t, "http://"+ln.Addr().String()+"/", nil)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still listening")
	}
	if _, err := srv.Hub().Attach(nil); !errors.Is(err, hub.ErrClosed) {
		t.Errorf("hub not closed: %v", err)
	}
}

// rawClient is a minimal Socket.IO client over WebSocket for tests that
// need to misbehave (never read).
func rawClient(t *testing.T, ctx context.Context, base, name string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); err != nil { // engine handshake
		t.Fatal(err)
	}
	for _, m := range []struct{ send, reply string }{
		{"40", "40"}, {`421["nick","` + name + `"]`, "431"}, {`422["join","lobby"]`, "432"},
	} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m.send)); err != nil {
			t.Fatal(err)
		}
		for {
			_, got, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(string(got), m.reply) {
				break
			}
		}
	}
	return c
}

// A client that stops reading is disconnected once its bounded queue is
// full, and leaves the hub (its room, its presence); the sender is not
// stalled.
func TestSlowConsumer(t *testing.T) {
	ts := startServer(t, &hub.ServerConfig{
		Hub:      &hub.Config{Rate: 1e9, Burst: 1 << 30},
		SocketIO: &socketio.Config{Engine: &engineio.Config{MaxQueuedPackets: 8}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	slow := rawClient(t, ctx, ts.url, "slow")
	defer slow.CloseNow()
	fast := rawClient(t, ctx, ts.url, "fast")
	defer fast.CloseNow()
	readerDone := make(chan struct{})
	var sawLeft atomic.Bool
	go func() { // fast reads everything it is sent
		defer close(readerDone)
		for {
			_, m, err := fast.Read(ctx)
			if err != nil {
				return
			}
			if strings.HasPrefix(string(m), `42["left",{"room":"lobby","user":"slow"}`) {
				sawLeft.Store(true)
			}
		}
	}()
	h := ts.srv.Hub()
	line := []byte(`42["say",{"room":"lobby","text":"` + strings.Repeat("x", 1000) + `"}]`)
	gone := false
	for i := 0; i < 200000 && !gone; i++ {
		if err := fast.Write(ctx, websocket.MessageText, line); err != nil {
			t.Fatalf("sender stalled or dropped after %d lines: %v", i, err)
		}
		if i%100 == 99 {
			gone = !slices.Contains(h.Members("lobby"), "slow")
		}
	}
	if !gone {
		t.Fatal("slow consumer still in the room")
	}
	waitFor(t, "fast to see slow leave", sawLeft.Load)
	if got := ts.srv.SocketIO().Stats().SlowConsumers; got == 0 {
		t.Error("no slow consumer counted")
	}
	if slices.Contains(h.Online(), "slow") {
		t.Error("slow consumer still online")
	}
	fast.CloseNow()
	<-readerDone
}
