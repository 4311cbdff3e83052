package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTime bounds every wait of a test.
const waitTime = 5 * time.Second

// relaxedTimings keep the suites' ping interval but give the client
// (this test, maybe on a loaded machine under -race) more time to answer
// a ping and to join a namespace than the suites' 200ms and 1s; the
// handshake cases check the suites' exact timings (engineCase.exact).
var relaxedTimings = timings{
	pingInterval:   300 * time.Millisecond,
	pingTimeout:    time.Second,
	connectTimeout: 2 * time.Second,
}

// env is the reference server on 127.0.0.1:0 with an HTTP client, as the
// suites see it at localhost:3000.
type env struct {
	tm     timings
	srv    *server
	base   string       // http://127.0.0.1:port
	client *http.Client // a fresh connection per concurrent request
	polls  chan string  // sids of GET polls entering the server, when watched
	path   string       // "/engine.io/" or "/socket.io/"
}

// newEnv starts the reference server with timings tm; path selects the
// suite.
func newEnv(t *testing.T, path string, tm timings) *env {
	t.Helper()
	srv, err := newServer(tm, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{tm: tm, srv: srv, path: path, polls: make(chan string, 64)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sid := r.URL.Query().Get("sid"); sid != "" && r.Method == http.MethodGet && r.URL.Query().Get("transport") == "polling" {
			select {
			case e.polls <- sid:
			default:
			}
		}
		srv.ServeHTTP(w, r)
	}))
	tr := &http.Transport{}
	e.base = ts.URL
	e.client = &http.Client{Transport: tr, Timeout: waitTime}
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
		ts.Close()
	})
	return e
}

// url returns the server's URL for query q under the suite's path.
func (e *env) url(q string) string { return e.base + e.path + "?" + q }

// wsURL is url with the ws scheme.
func (e *env) wsURL(q string) string { return "ws" + strings.TrimPrefix(e.url(q), "http") }

// do sends one request and returns its status and body.
func (e *env) do(t *testing.T, method, q, body string) (int, string) {
	t.Helper()
	status, b, err := e.try(context.Background(), method, q, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, b
}

// try is do returning the error, for requests made off the test goroutine.
func (e *env) try(ctx context.Context, method, q, body string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.url(q), rd)
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// openPolling opens a long-polling session and returns its sid
// (initLongPollingSession).
func (e *env) openPolling(t *testing.T) string {
	t.Helper()
	status, body := e.do(t, http.MethodGet, "EIO=4&transport=polling", "")
	if status != http.StatusOK || !strings.HasPrefix(body, "0") {
		t.Fatalf("handshake: %d %q", status, body)
	}
	var open struct{ Sid string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil || open.Sid == "" {
		t.Fatalf("handshake %q: %v", body, err)
	}
	return open.Sid
}

// pollQ is the query of requests on session sid.
func pollQ(sid string) string { return "EIO=4&transport=polling&sid=" + sid }

// ws is a WebSocket client conn with the test's deadline.
type ws struct {
	t   *testing.T
	c   *websocket.Conn
	ctx context.Context
}

// dialWS opens a WebSocket on query q; it fails the test when the server
// refuses the handshake.
func (e *env) dialWS(t *testing.T, q string) *ws {
	t.Helper()
	c, err := e.tryWS(t, q)
	if err != nil {
		t.Fatalf("websocket %s: %v", q, err)
	}
	return c
}

// tryWS opens a WebSocket on query q.
func (e *env) tryWS(t *testing.T, q string) (*ws, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	t.Cleanup(cancel)
	c, resp, err := websocket.Dial(ctx, e.wsURL(q), &websocket.DialOptions{HTTPClient: e.client})
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		return nil, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &ws{t: t, c: c, ctx: ctx}, nil
}

// send writes text messages.
func (w *ws) send(msgs ...string) {
	w.t.Helper()
	for _, m := range msgs {
		if err := w.c.Write(w.ctx, websocket.MessageText, []byte(m)); err != nil {
			w.t.Fatalf("send %q: %v", m, err)
		}
	}
}

// sendBinary writes a binary message.
func (w *ws) sendBinary(b []byte) {
	w.t.Helper()
	if err := w.c.Write(w.ctx, websocket.MessageBinary, b); err != nil {
		w.t.Fatalf("send binary: %v", err)
	}
}

// msg is one WebSocket message.
type msg struct {
	bin  bool
	data string
}

// read returns the next message, failing the test on error.
func (w *ws) read() msg {
	w.t.Helper()
	m, err := w.tryRead()
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return m
}

// tryRead returns the next message or the error ending the conn.
func (w *ws) tryRead() (msg, error) {
	typ, b, err := w.c.Read(w.ctx)
	if err != nil {
		return msg{}, err
	}
	return msg{typ == websocket.MessageBinary, string(b)}, nil
}

// readNonPing returns the next message that is not a PING ("2"), as the
// socket.io suite's waitForPackets does. It answers the pings, so that a
// slow (loaded, -race) run is not ended by the 200ms ping timeout.
func (w *ws) readNonPing() msg {
	w.t.Helper()
	for {
		m := w.read()
		if m.bin || m.data != "2" {
			return m
		}
		w.send("3")
	}
}

// waitClosed reads until the server ends the conn (a close frame or EOF),
// failing the test if it is still open at the deadline.
func (w *ws) waitClosed() {
	w.t.Helper()
	for {
		if _, err := w.tryRead(); err != nil {
			if w.ctx.Err() != nil {
				w.t.Fatal("connection not closed by the server")
			}
			return
		}
	}
}

// checkOpen checks an Engine.IO OPEN packet as both suites do.
func checkOpen(t *testing.T, e *env, data string, upgrades []string) {
	t.Helper()
	if !strings.HasPrefix(data, "0") {
		t.Fatalf("open packet %q", data)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(data[1:]), &v); err != nil {
		t.Fatalf("open packet %q: %v", data, err)
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}; !slices.Equal(keys, want) {
		t.Errorf("open keys %v, want %v", keys, want)
	}
	if _, ok := v["sid"].(string); !ok {
		t.Errorf("sid %v is not a string", v["sid"])
	}
	got := []string{}
	if us, ok := v["upgrades"].([]any); ok {
		for _, u := range us {
			s, _ := u.(string)
			got = append(got, s)
		}
	} else {
		t.Errorf("upgrades %v is not an array", v["upgrades"])
	}
	if !slices.Equal(got, upgrades) {
		t.Errorf("upgrades %v, want %v", got, upgrades)
	}
	for k, want := range map[string]float64{
		"pingInterval": float64(e.tm.pingInterval.Milliseconds()),
		"pingTimeout":  float64(e.tm.pingTimeout.Milliseconds()),
		"maxPayload":   maxPayload,
	} {
		if v[k] != want {
			t.Errorf("%s = %v, want %v", k, v[k], want)
		}
	}
}
