package engineio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

// env is one server under test on 127.0.0.1:0.
type env struct {
	t   testing.TB
	srv *Server
	ts  *httptest.Server
	url string // http://127.0.0.1:port/engine.io/

	mu      sync.Mutex
	sockets []*Socket
	closes  chan closeEvent
	msgs    chan Message
}

type closeEvent struct {
	sid    string
	reason string
	err    error
}

// newEnv starts a server; onConnect, when nil, installs an echo handler
// that also records messages and close events.
func newEnv(t testing.TB, cfg *Config, onConnect func(*Socket)) *env {
	t.Helper()
	e := &env{t: t, closes: make(chan closeEvent, 64), msgs: make(chan Message, 1024)}
	if onConnect == nil {
		onConnect = func(s *Socket) {
			e.mu.Lock()
			e.sockets = append(e.sockets, s)
			e.mu.Unlock()
			s.OnMessage(func(m Message) {
				select {
				case e.msgs <- m:
				default:
				}
				_ = s.Send(m)
			})
			s.OnClose(func(reason string, err error) {
				e.closes <- closeEvent{s.ID(), reason, err}
			})
		}
	}
	srv, err := NewServer(cfg, onConnect)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv)
	e.url = e.ts.URL + srv.cfg.Path
	t.Cleanup(func() {
		_ = srv.Close()
		e.ts.Close()
	})
	return e
}

func (e *env) client() *http.Client { return e.ts.Client() }

// do sends a request and returns status and body.
func (e *env) do(method, query string, body io.Reader) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+"?"+query, body)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	resp, err := e.client().Do(req.WithContext(ctx))
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, query, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseOpen(t testing.TB, body string) openPacket {
	t.Helper()
	first, _, _ := strings.Cut(body, "\x1e")
	if !strings.HasPrefix(first, "0") {
		t.Fatalf("want open packet, got %q", body)
	}
	var o openPacket
	if err := json.Unmarshal([]byte(first[1:]), &o); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	return o
}

// handshake opens a polling session and returns its sid.
func (e *env) handshake() string {
	e.t.Helper()
	code, body := e.do("GET", "EIO=4&transport=polling", nil)
	if code != 200 {
		e.t.Fatalf("handshake: %d %s", code, body)
	}
	return parseOpen(e.t, body).SID
}

func (e *env) poll(sid string) (int, string) {
	e.t.Helper()
	return e.do("GET", "EIO=4&transport=polling&sid="+sid, nil)
}

func (e *env) post(sid, body string) (int, string) {
	e.t.Helper()
	return e.do("POST", "EIO=4&transport=polling&sid="+sid, strings.NewReader(body))
}

// pollAsync starts a GET and returns a channel with its result; it returns
// once the server has the GET waiting.
func (e *env) pollAsync(sid string) <-chan [2]string {
	e.t.Helper()
	waiting := e.waitHook("poll-wait", sid)
	out := make(chan [2]string, 1)
	go func() {
		req, _ := http.NewRequest("GET", e.url+"?EIO=4&transport=polling&sid="+sid, nil)
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		resp, err := e.client().Do(req.WithContext(ctx))
		if err != nil {
			out <- [2]string{"error", err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- [2]string{resp.Status[:3], string(b)}
	}()
	select {
	case <-waiting:
	case r := <-out:
		e.t.Fatalf("poll returned before waiting: %v", r)
	case <-time.After(testTimeout):
		e.t.Fatal("poll never waited")
	}
	return out
}

func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// waitHook returns a channel that receives when the server reaches event
// for socket sid.
func (e *env) waitHook(event, sid string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	hook := func(ev string, s *Socket) {
		if ev == event && s.ID() == sid {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	e.srv.testHook.Store(&hook)
	return ch
}

// dialWS opens a WebSocket to the server with the given query.
func (e *env) dialWS(query string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.url, "http") + "?" + query
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: e.client()})
}

func (e *env) mustDialWS(query string) *websocket.Conn {
	e.t.Helper()
	c, _, err := e.dialWS(query)
	if err != nil {
		e.t.Fatalf("dial %s: %v", query, err)
	}
	c.SetReadLimit(-1)
	e.t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func wsRead(t testing.TB, c *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("ws read: %v", err)
	}
	return typ, string(b)
}

func wsWrite(t testing.TB, c *websocket.Conn, typ websocket.MessageType, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := c.Write(ctx, typ, []byte(s)); err != nil {
		t.Fatalf("ws write: %v", err)
	}
}

// wsReadErr reads until the connection fails and returns the error.
func wsReadErr(t testing.TB, c *websocket.Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	for range 1000 {
		if _, _, err := c.Read(ctx); err != nil {
			return err
		}
	}
	t.Fatal("connection never closed")
	return nil
}

// fastHeartbeat is a config with short heartbeats for tests.
func fastHeartbeat() *Config {
	return &Config{PingInterval: 100 * time.Millisecond, PingTimeout: 500 * time.Millisecond}
}
