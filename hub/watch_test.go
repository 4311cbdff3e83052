package hub_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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

	// /metrics reports the door's series (per door and protocol) through
	// client_golang, and its counters grow as traffic flows.
	const sio = `{door="socket.io",proto="socket.io/websocket"}`
	m := scrapeMetrics(t, ts.url)
	for name, min := range map[string]float64{
		"switchboard_connections":             2,
		"switchboard_messages_received_total": n + 2,
		"switchboard_messages_sent_total":     n,
		"switchboard_bytes_received_total":    n * 5,
		"switchboard_bytes_sent_total":        n * 20,
	} {
		if got := m[name+sio]; got < min {
			t.Errorf("/metrics %s%s = %v, want >= %v", name, sio, got, min)
		}
	}
	if got := m["switchboard_connections"+sio]; got != 2 {
		t.Errorf("/metrics connections = %v, want 2", got)
	}
	for _, name := range []string{"switchboard_queue_messages" + sio, "switchboard_process_start_time_seconds", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := m[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for i := range n {
		say(t, ctx, a, 100+i, "again")
	}
	in0, out0 := m["switchboard_messages_received_total"+sio], m["switchboard_messages_sent_total"+sio]
	waitFor(t, "/metrics to count the second round", func() bool {
		m = scrapeMetrics(t, ts.url)
		return m["switchboard_messages_received_total"+sio] >= in0+n && m["switchboard_messages_sent_total"+sio] >= out0+n
	})

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
	// Its traffic stays counted: the counters never go down.
	before := m
	m = scrapeMetrics(t, ts.url)
	if got := m["switchboard_connections"+sio]; got != 1 {
		t.Errorf("/metrics connections after bob left = %v, want 1", got)
	}
	for _, name := range []string{"switchboard_messages_received_total", "switchboard_messages_sent_total", "switchboard_bytes_received_total", "switchboard_bytes_sent_total"} {
		if m[name+sio] < before[name+sio] {
			t.Errorf("/metrics %s went down from %v to %v when bob left", name, before[name+sio], m[name+sio])
		}
	}
}

// scrapeMetrics GETs /metrics and parses it with expfmt into
// `name{door="d",proto="p"}` (or the bare name) → value.
func scrapeMetrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	res, body := get(t, base+"/metrics", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics: %v:\n%s", err, body)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			key := name
			if ls := m.GetLabel(); len(ls) > 0 {
				parts := make([]string, len(ls))
				for i, l := range ls { // client_golang sorts them by name
					parts[i] = l.GetName() + "=" + strconv.Quote(l.GetValue())
				}
				key += "{" + strings.Join(parts, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			default:
				out[key] = -1
			}
		}
	}
	return out
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
