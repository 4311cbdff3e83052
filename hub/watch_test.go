package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/monitor"
)

// say sends a say request on a raw client and waits for its ack.
func say(t *testing.T, ctx context.Context, c *websocket.Conn, id int, text string) {
	t.Helper()
	msg := `42` + itoa(id) + `["say",{"room":"lobby","text":"` + text + `"}]`
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	want := "43" + itoa(id) + `[{"`
	for {
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(got), want) {
			if !strings.Contains(string(got), `"ok":true`) {
				t.Fatalf("say refused: %s", got)
			}
			return
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// fetchSnapshot reads /api/conns.
func fetchSnapshot(t *testing.T, base string, hdr map[string]string) *monitor.Snapshot {
	t.Helper()
	res, body := get(t, base+"/api/conns", hdr)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/api/conns: %s: %s", res.Status, body)
	}
	var s monitor.Snapshot
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/api/conns: %v: %s", err, body)
	}
	return &s
}

// Every hub connection shows in /api/conns and /metrics while traffic
// flows, and the live page is served with the page's CSP.
func TestWatchConns(t *testing.T) {
	ts := startServer(t, &hub.ServerConfig{Hub: &hub.Config{Rate: 1e6, Burst: 1e6}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := rawClient(t, ctx, ts.url, "alice")
	defer a.CloseNow()
	b := rawClient(t, ctx, ts.url, "bob")
	defer b.CloseNow()
	go func() { // b reads what it is sent
		for {
			if _, _, err := b.Read(ctx); err != nil {
				return
			}
		}
	}()
	const n = 20
	for i := range n {
		say(t, ctx, a, 10+i, "hello")
	}
	s := fetchSnapshot(t, ts.url, nil)
	if len(s.Conns) != 2 || s.Totals.Conns != 2 {
		t.Fatalf("conns = %d, want 2: %+v", len(s.Conns), s.Conns)
	}
	local := strings.TrimPrefix(ts.url, "http://")
	users := map[string]monitor.Conn{}
	for _, c := range s.Conns {
		users[c.User] = c
		if c.Door != "socket.io" || c.Proto != "socket.io/websocket" || c.Local != local ||
			!strings.HasPrefix(c.Remote, "127.0.0.1:") || c.State != "open" || c.ID == "" || c.Since.IsZero() {
			t.Errorf("conn %+v: want door socket.io over websocket, local %s, remote on loopback", c, local)
		}
		if len(c.Rooms) != 1 || c.Rooms[0] != "lobby" {
			t.Errorf("%s rooms = %v, want [lobby]", c.User, c.Rooms)
		}
	}
	alice, bob := users["alice"], users["bob"]
	if alice.MsgsIn < n+2 || alice.BytesIn < n*5 {
		t.Errorf("alice in: %d msgs %d bytes, want >= %d msgs", alice.MsgsIn, alice.BytesIn, n+2)
	}
	waitFor(t, "bob's deliveries counted", func() bool {
		return fetchSnapshot(t, ts.url, nil).Totals.MsgsOut >= n
	})
	s = fetchSnapshot(t, ts.url, nil)
	for _, c := range s.Conns {
		if c.User == "bob" {
			bob = c
		}
	}
	if bob.MsgsOut < n || bob.BytesOut < n*20 {
		t.Errorf("bob out: %d msgs %d bytes, want >= %d msgs", bob.MsgsOut, bob.BytesOut, n)
	}

	res, body := get(t, ts.url+"/metrics", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`switchboard_connections{proto="socket.io/websocket",door="socket.io"} 2`,
		`switchboard_messages_received_total{proto="socket.io/websocket",door="socket.io"} `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}

	for _, p := range []struct{ path, want, ctype string }{
		{"/stats", `<script src="stats.js"`, "text/html"},
		{"/stats.js", "api/conns", "text/javascript"},
		{"/stats.css", "canvas", "text/css"},
	} {
		res, body := get(t, ts.url+p.path, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, p.want) ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), p.ctype) {
			t.Errorf("%s: %s %q, want %s containing %q", p.path, res.Status, res.Header.Get("Content-Type"), p.ctype, p.want)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", p.path, csp)
		}
	}

	// A connection that goes is no longer listed.
	b.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "bob to leave the snapshot", func() bool { return len(fetchSnapshot(t, ts.url, nil).Conns) == 1 })
}

// With an admin token, /api/conns and /metrics need it; the chat does not.
func TestAdminToken(t *testing.T) {
	ts := startServer(t, &hub.ServerConfig{AdminToken: "sesame"})
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"none", nil, http.StatusUnauthorized},
		{"wrong", map[string]string{"Authorization": "Bearer open"}, http.StatusUnauthorized},
		{"right", map[string]string{"Authorization": "Bearer sesame"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []string{"/api/conns", "/metrics"} {
				if res, _ := get(t, ts.url+p, tc.hdr); res.StatusCode != tc.want {
					t.Errorf("%s: %s, want %d", p, res.Status, tc.want)
				}
			}
		})
	}
	if res, _ := get(t, ts.url+"/", nil); res.StatusCode != http.StatusOK {
		t.Errorf("chat page: %s", res.Status)
	}
}

// The Hub is a monitor.Source for the control socket read by
// "switchboard stat".
func TestControlSocket(t *testing.T) {
	ts := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := rawClient(t, ctx, ts.url, "carol")
	defer c.CloseNow()
	srv, err := monitor.Serve(ctx, monitor.ServerConfig{Dir: t.TempDir(), Process: ts.srv.Process(), Source: ts.srv})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := monitor.Fetch(ctx, srv.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Conns) != 1 || s.Conns[0].User != "carol" || s.Process.Command != "serve" {
		t.Errorf("snapshot %+v", s)
	}
}
