package engineio

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHandshakePolling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond}, nil)
	code, body := e.do("GET", "EIO=4&transport=polling", nil)
	if code != 200 {
		t.Fatalf("status: want 200, got %d", code)
	}
	o := parseOpen(t, body)
	if len(o.SID) != 20 {
		t.Errorf("sid: want 20 chars, got %q", o.SID)
	}
	if len(o.Upgrades) != 1 || o.Upgrades[0] != "websocket" {
		t.Errorf("upgrades: want [websocket], got %v", o.Upgrades)
	}
	if o.PingInterval != 300 || o.PingTimeout != 200 || o.MaxPayload != 1000000 {
		t.Errorf("open: got %+v", o)
	}
	if got := e.srv.Count(); got != 1 {
		t.Errorf("Count: want 1, got %d", got)
	}
	if st := e.srv.Stats(); st.Handshakes != 1 {
		t.Errorf("Stats.Handshakes: want 1, got %d", st.Handshakes)
	}
	s := e.srv.Socket(o.SID)
	if s == nil || s.Transport() != "polling" || s.Protocol() != 4 || s.RemoteAddr() == "" || s.LocalAddr() == "" {
		t.Fatalf("socket: %+v", s)
	}
}

func TestHandshakeUpgradesDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{DisableUpgrades: true}, nil)
	_, body := e.do("GET", "EIO=4&transport=polling", nil)
	if o := parseOpen(t, body); len(o.Upgrades) != 0 {
		t.Errorf("upgrades: want [], got %v", o.Upgrades)
	}
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	cfg := &Config{AllowRequest: func(r *http.Request) error {
		if r.Header.Get("X-Deny") != "" {
			return errors.New("go away")
		}
		return nil
	}}
	e := newEnv(t, cfg, nil)
	tests := []struct {
		name, method, query string
		header              string
		wantStatus          int
		wantBody            string
	}{
		{"no transport", "GET", "EIO=4", "", 400, `{"code":0,"message":"Transport unknown"}`},
		{"bad transport", "GET", "EIO=4&transport=abc", "", 400, `{"code":0,"message":"Transport unknown"}`},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", "", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"unknown sid post", "POST", "EIO=4&transport=polling&sid=nope", "", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"post handshake", "POST", "EIO=4&transport=polling", "", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"put handshake", "PUT", "EIO=4&transport=polling", "", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", "", 400, `{"code":3,"message":"Bad request"}`},
		{"forbidden", "GET", "EIO=4&transport=polling", "x", 403, `{"code":4,"message":"go away"}`},
		{"no EIO", "GET", "transport=polling", "", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"bad EIO", "GET", "EIO=abc&transport=polling", "", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO 3", "GET", "EIO=3&transport=polling", "", 400, `{"code":5,"message":"Unsupported protocol version"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.url+"?"+tt.query, nil)
			if tt.header != "" {
				req.Header.Set("X-Deny", tt.header)
			}
			resp, err := e.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || string(b) != tt.wantBody {
				t.Errorf("want %d %s, got %d %s", tt.wantStatus, tt.wantBody, resp.StatusCode, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type: want application/json, got %q", ct)
			}
		})
	}
	st := e.srv.Stats()
	if st.Refused != uint64(len(tests)) || st.RefusedByCode[0] != 2 || st.RefusedByCode[5] != 3 {
		t.Errorf("Stats: refused %d by code %v", st.Refused, st.RefusedByCode)
	}
}

func TestPathAndNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{Path: "/socket.io"}, nil)
	resp, err := e.client().Get(e.ts.URL + "/socket.io?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("path without slash: want 200, got %d", resp.StatusCode)
	}
	resp, err = e.client().Get(e.ts.URL + "/other/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("other path: want 404, got %d", resp.StatusCode)
	}
}

func TestPollingSendReceive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	tests := []struct{ name, body string }{
		{"one text packet", "4hello"},
		{"several text packets", "4test1\x1e4test2\x1e4test3"},
		{"text and binary", "4hello\x1ebAQIDBA=="},
		{"empty message", "4"},
		{"utf-8", "4€ and ☃"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sid := e.handshake()
			code, body := e.post(sid, tt.body)
			if code != 200 || body != "ok" {
				t.Fatalf("post: want 200 ok, got %d %q", code, body)
			}
			code, body = e.poll(sid)
			if code != 200 || body != tt.body {
				t.Fatalf("poll: want 200 %q, got %d %q", tt.body, code, body)
			}
		})
	}
}

func TestPollingBinaryMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	if code, _ := e.post(sid, "bAQIDBA=="); code != 200 {
		t.Fatal(code)
	}
	m := recv(t, e.msgs, "message")
	if !m.Binary || string(m.Data) != "\x01\x02\x03\x04" {
		t.Errorf("want binary 01020304, got %+v", m)
	}
}

func TestPollingBatchesQueuedPackets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	s := e.srv.Socket(sid)
	for _, m := range []Message{{Data: []byte("a")}, {Binary: true, Data: []byte{0xff}}, {Data: []byte("c")}} {
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if _, body := e.poll(sid); body != "4a\x1eb/w==\x1e4c" {
		t.Errorf("want one batched payload, got %q", body)
	}
	if st := s.Stats(); st.MessagesOut != 3 || st.BytesOut != 3 || st.Queued != 0 {
		t.Errorf("SocketStats: %+v", st)
	}
}

func TestPollingWaitsForData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	res := e.pollAsync(sid)
	if err := e.srv.Socket(sid).Send(Message{Data: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, res, "poll"); r != [2]string{"200", "4late"} {
		t.Errorf("want 200 4late, got %v", r)
	}
}

func TestMessagesSentInOnConnectFollowOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(s *Socket) { _ = s.Send(Message{Data: []byte("welcome")}) })
	_, body := e.do("GET", "EIO=4&transport=polling", nil)
	_, rest, _ := strings.Cut(body, "\x1e")
	if rest != "4welcome" {
		t.Errorf("want open then 4welcome, got %q", body)
	}
}

func TestPollingParseErrorClosesSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	for _, bad := range []string{"abc", "", "4ok\x1e", "bnot base64!", "9"} {
		sid := e.handshake()
		if code, _ := e.post(sid, bad); code != 400 {
			t.Errorf("post %q: want 400, got %d", bad, code)
		}
		if code, _ := e.poll(sid); code != 400 {
			t.Errorf("poll after %q: want 400, got %d", bad, code)
		}
		ev := recv(t, e.closes, "close")
		if ev.reason != ReasonParseError || !errors.Is(ev.err, ErrParse) {
			t.Errorf("%q: want parse error, got %q %v", bad, ev.reason, ev.err)
		}
	}
	if st := e.srv.Stats(); st.ParseErrors != 5 || st.ClosedByReason[ReasonParseError] != 5 {
		t.Errorf("Stats: %+v", st)
	}
}

func TestDuplicatePollClosesSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	first := e.pollAsync(sid)
	if code, body := e.poll(sid); code != 400 {
		t.Errorf("second poll: want 400, got %d %s", code, body)
	}
	if r := recv(t, first, "first poll"); r != [2]string{"200", "1"} {
		t.Errorf("first poll: want 200 1, got %v", r)
	}
	if code, _ := e.poll(sid); code != 400 {
		t.Errorf("poll after: want 400, got %d", code)
	}
	ev := recv(t, e.closes, "close")
	if ev.reason != ReasonTransportError || !errors.Is(ev.err, ErrTransport) {
		t.Errorf("want transport error, got %q %v", ev.reason, ev.err)
	}
}

func TestConcurrentPostClosesSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	pr, pw := io.Pipe()
	reading := e.waitHook("post-read", sid)
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.url+"?EIO=4&transport=polling&sid="+sid, pr)
		resp, err := e.client().Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if _, err := pw.Write([]byte("4first\x1e")); err != nil {
		t.Fatal(err)
	}
	recv(t, reading, "first POST")
	if code, _ := e.post(sid, "4second"); code != 400 {
		t.Errorf("second post: want 400, got %d", code)
	}
	pw.Close()
	recv(t, done, "first post")
	ev := recv(t, e.closes, "close")
	if ev.reason != ReasonTransportError {
		t.Errorf("want transport error, got %q", ev.reason)
	}
	if code, _ := e.poll(sid); code != 400 {
		t.Errorf("poll after: want 400, got %d", code)
	}
}

func TestPayloadTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{MaxPayload: 10}, nil)
	t.Run("content-length", func(t *testing.T) {
		sid := e.handshake()
		if code, _ := e.post(sid, "41234567890"); code != 413 {
			t.Errorf("11 bytes: want 413, got %d", code)
		}
		ev := recv(t, e.closes, "close")
		if !errors.Is(ev.err, ErrPayloadTooLarge) {
			t.Errorf("want ErrPayloadTooLarge, got %v", ev.err)
		}
	})
	t.Run("exactly max", func(t *testing.T) {
		sid := e.handshake()
		if code, _ := e.post(sid, "412345678"); code != 200 {
			t.Errorf("10 bytes: want 200, got %d", code)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		sid := e.handshake()
		// A reader without a length makes the client send chunks.
		body := io.MultiReader(strings.NewReader("4123456"), strings.NewReader("789abcdef"))
		if code, _ := e.do("POST", "EIO=4&transport=polling&sid="+sid, body); code != 413 {
			t.Errorf("chunked: want 413, got %d", code)
		}
		recv(t, e.closes, "close")
	})
	if st := e.srv.Stats(); st.PayloadTooLarge != 2 {
		t.Errorf("Stats.PayloadTooLarge: want 2, got %d", st.PayloadTooLarge)
	}
}

func TestPollingHeartbeat(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fastHeartbeat(), nil)
	sid := e.handshake()
	for i := range 3 {
		if code, body := e.poll(sid); code != 200 || body != "2" {
			t.Fatalf("round %d: want ping, got %d %q", i, code, body)
		}
		if code, body := e.post(sid, "3"); code != 200 {
			t.Fatalf("round %d: pong: %d %s", i, code, body)
		}
	}
	// Now stop answering.
	ev := recv(t, e.closes, "close")
	if ev.reason != ReasonPingTimeout || !errors.Is(ev.err, ErrPingTimeout) {
		t.Errorf("want ping timeout, got %q %v", ev.reason, ev.err)
	}
	if code, _ := e.poll(sid); code != 400 {
		t.Errorf("poll after timeout: want 400, got %d", code)
	}
}

func TestClientCloseEndsPendingPollWithNoop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	res := e.pollAsync(sid)
	if code, _ := e.post(sid, "1"); code != 200 {
		t.Errorf("post close: want 200, got %d", code)
	}
	if r := recv(t, res, "poll"); r != [2]string{"200", "6"} {
		t.Errorf("pending poll: want 200 6, got %v", r)
	}
	if ev := recv(t, e.closes, "close"); ev.reason != ReasonTransportClose || ev.err != nil {
		t.Errorf("want transport close, got %q %v", ev.reason, ev.err)
	}
	if code, _ := e.poll(sid); code != 400 {
		t.Errorf("poll after close: want 400, got %d", code)
	}
}

func TestServerCloseEndsPendingPollWithClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	s := e.srv.Socket(sid)
	res := e.pollAsync(sid)
	_ = s.Send(Message{Data: []byte("bye")})
	// The send may complete the poll first; poll again until the close.
	r := recv(t, res, "poll")
	if r[1] == "4bye" {
		res = e.pollAsync(sid)
		s.Close()
		r = recv(t, res, "poll")
		if r != [2]string{"200", "1"} {
			t.Errorf("want 200 1, got %v", r)
		}
	} else {
		t.Fatalf("want 4bye, got %v", r)
	}
	if ev := recv(t, e.closes, "close"); ev.reason != ReasonForcedClose {
		t.Errorf("want forced close, got %q", ev.reason)
	}
	if err := s.Send(Message{}); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after close: want ErrClosed (net.ErrClosed), got %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed")
	}
}

func TestQueueFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{MaxQueuedPackets: 2}, nil)
	sid := e.handshake()
	s := e.srv.Socket(sid)
	for i := range 2 {
		if err := s.Send(Message{Data: []byte("x")}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := s.Send(Message{Data: []byte("x")}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("want ErrQueueFull, got %v", err)
	}
	if st := e.srv.Stats(); st.QueueFull != 1 {
		t.Errorf("Stats.QueueFull: want 1, got %d", st.QueueFull)
	}
	if _, body := e.poll(sid); body != "4x\x1e4x" {
		t.Errorf("poll: got %q", body)
	}
	if err := s.Send(Message{Data: []byte("x")}); err != nil {
		t.Errorf("send after drain: %v", err)
	}
}

func TestStalledPollerDoesNotAffectOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{MaxQueuedPackets: 8, PingInterval: 300 * time.Millisecond, PingTimeout: 300 * time.Millisecond}, nil)
	stalled := e.handshake()
	other := e.handshake()
	ss := e.srv.Socket(stalled)
	full := 0
	for range 20 {
		if errors.Is(ss.Send(Message{Data: []byte("x")}), ErrQueueFull) {
			full++
		}
	}
	if full == 0 {
		t.Error("stalled poller's queue never filled")
	}
	if code, _ := e.post(other, "4hi"); code != 200 {
		t.Fatal(code)
	}
	if _, body := e.poll(other); !strings.HasPrefix(body, "4hi") {
		t.Errorf("other: want 4hi, got %q", body)
	}
	// The stalled poller is dropped by the heartbeat.
	for range 2 {
		ev := recv(t, e.closes, "close")
		if ev.sid == stalled {
			if ev.reason != ReasonPingTimeout {
				t.Errorf("stalled: want ping timeout, got %q", ev.reason)
			}
			return
		}
	}
	t.Error("stalled poller never closed")
}

func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{CORS: &CORS{Origins: []string{"https://ok.example"}, Credentials: true}}, nil)
	tests := []struct {
		name, method, origin string
		wantStatus           int
		wantOrigin           string
	}{
		{"preflight allowed", "OPTIONS", "https://ok.example", 204, "https://ok.example"},
		{"preflight refused", "OPTIONS", "https://evil.example", 204, ""},
		{"get allowed", "GET", "https://ok.example", 200, "https://ok.example"},
		{"get refused", "GET", "https://evil.example", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.url+"?EIO=4&transport=polling", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Headers", "x-token")
			resp, err := e.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status: want %d, got %d", tt.wantStatus, resp.StatusCode)
			}
			h := resp.Header
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.wantOrigin {
				t.Errorf("Allow-Origin: want %q, got %q", tt.wantOrigin, got)
			}
			if tt.wantOrigin != "" && h.Get("Access-Control-Allow-Credentials") != "true" {
				t.Error("Allow-Credentials missing")
			}
			if tt.name == "preflight allowed" {
				if h.Get("Access-Control-Allow-Headers") != "x-token" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
					t.Errorf("preflight headers: %v", h)
				}
			}
		})
	}
}

func TestCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{Cookie: &http.Cookie{HttpOnly: true, SameSite: http.SameSiteLaxMode}}, nil)
	resp, err := e.client().Get(e.url + "?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sid := parseOpen(t, string(b)).SID
	cs := resp.Cookies()
	if len(cs) != 1 || cs[0].Name != "io" || cs[0].Value != sid || cs[0].Path != "/" || !cs[0].HttpOnly {
		t.Errorf("cookie: want io=%s; Path=/; HttpOnly, got %v", sid, resp.Header["Set-Cookie"])
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []*Config{
		{AllowEIO3: true},
		{Path: "x"},
		{PingInterval: -1},
		{MaxPayload: -1},
		{MaxQueuedPackets: -1},
		{Transports: []string{"carrier-pigeon"}},
	} {
		if _, err := NewServer(cfg, nil); err == nil {
			t.Errorf("%+v: want error", cfg)
		}
	}
}

func TestPollingOnlyRefusesWebSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{Transports: []string{"polling"}}, nil)
	_, body := e.do("GET", "EIO=4&transport=polling", nil)
	if o := parseOpen(t, body); len(o.Upgrades) != 0 {
		t.Errorf("upgrades: want [], got %v", o.Upgrades)
	}
	if _, resp, err := e.dialWS("EIO=4&transport=websocket"); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Errorf("websocket: want 400, got %v", err)
	}
}

func TestSocketRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	req, _ := http.NewRequest("GET", e.url+"?EIO=4&transport=polling&token=abc", nil)
	req.Header.Set("X-Client", "test")
	resp, err := e.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := e.srv.Socket(parseOpen(t, string(b)).SID).Request()
	if r.URL.Query().Get("token") != "abc" || r.Header.Get("X-Client") != "test" || r.RemoteAddr == "" || r.Host == "" {
		t.Errorf("Request: %+v", r)
	}
}

func TestServerCloseWithoutPendingPollLingers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	s := e.srv.Socket(sid)
	_ = s.Send(Message{Data: []byte("41")})
	s.Close()
	if e.srv.Count() != 0 || e.srv.Socket(sid) != nil {
		t.Errorf("closed socket still counted: %d", e.srv.Count())
	}
	if code, body := e.poll(sid); code != 200 || body != "441\x1e1" {
		t.Errorf("last poll: want 200 441\\x1e1, got %d %q", code, body)
	}
	if code, _ := e.poll(sid); code != 400 {
		t.Errorf("poll after: want 400, got %d", code)
	}
}

func TestCloseInOnConnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(s *Socket) {
		_ = s.Send(Message{Data: []byte("bye")})
		s.Close()
	})
	_, body := e.do("GET", "EIO=4&transport=polling", nil)
	if _, rest, _ := strings.Cut(body, "\x1e"); rest != "4bye\x1e1" {
		t.Errorf("polling: want open, 4bye, close; got %q", body)
	}
	c := e.mustDialWS("EIO=4&transport=websocket")
	wsRead(t, c)
	if _, got := wsRead(t, c); got != "4bye" {
		t.Errorf("websocket: want 4bye, got %q", got)
	}
	wsReadErr(t, c)
	if e.srv.Count() != 0 {
		t.Errorf("Count: want 0, got %d", e.srv.Count())
	}
}

// TestPollingLongWaitOnKeptAliveConnection: deadlines set for one
// response must not cut a later long poll on the same connection.
func TestPollingLongWaitOnKeptAliveConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{WriteTimeout: 50 * time.Millisecond}, nil)
	sid := e.handshake()
	if code, _ := e.post(sid, "4a"); code != 200 {
		t.Fatal(code)
	}
	if _, body := e.poll(sid); body != "4a" {
		t.Fatalf("poll: %q", body)
	}
	res := e.pollAsync(sid)
	s := e.srv.Socket(sid)
	time.AfterFunc(300*time.Millisecond, func() { _ = s.Send(Message{Data: []byte("late")}) })
	if r := recv(t, res, "long poll"); r != [2]string{"200", "4late"} {
		t.Errorf("long poll: want 200 4late, got %v", r)
	}
}

// TestStalledPostBody: a client that stops sending its POST body is cut
// after WriteTimeout; the session closes and OnClose runs.
func TestStalledPostBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{WriteTimeout: 200 * time.Millisecond}, nil)
	sid := e.handshake()
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest("POST", e.url+"?EIO=4&transport=polling&sid="+sid, pr)
		req.ContentLength = 100
		if resp, err := e.client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	_, _ = pw.Write([]byte("4partial"))
	ev := recv(t, e.closes, "close")
	if ev.reason != ReasonTransportError {
		t.Errorf("want transport error, got %q %v", ev.reason, ev.err)
	}
	pw.Close()
	recv(t, done, "post")
}

func TestMaxSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{MaxSessions: 2}, nil)
	e.handshake()
	sid := e.handshake()
	if code, body := e.do("GET", "EIO=4&transport=polling", nil); code != 503 || !strings.Contains(body, `"code":3`) {
		t.Errorf("third polling session: want 503 code 3, got %d %s", code, body)
	}
	if _, resp, err := e.dialWS("EIO=4&transport=websocket"); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Errorf("third websocket session: want 503, got %v", err)
	}
	e.srv.Socket(sid).Close()
	if code, _ := e.do("GET", "EIO=4&transport=polling", nil); code != 200 {
		t.Errorf("after a close: want 200, got %d", code)
	}
}

// TestCancelledPollClosesSession: a client that abandons its pending GET
// has gone away; the session closes (as the reference server does).
func TestCancelledPollClosesSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	waiting := e.waitHook("poll-wait", sid)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"?EIO=4&transport=polling&sid="+sid, nil)
		if resp, err := e.client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	recv(t, waiting, "poll waiting")
	cancel()
	<-done
	ev := recv(t, e.closes, "close")
	if ev.reason != ReasonTransportError || !errors.Is(ev.err, ErrTransport) {
		t.Errorf("want transport error, got %q %v", ev.reason, ev.err)
	}
	if code, _ := e.poll(sid); code != 400 {
		t.Errorf("poll after: want 400, got %d", code)
	}
}

// The client's POST "1" may overtake its own GET: that GET still gets
// noop, and the one after it 400.
func TestClientCloseBeforePollGetsNoop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	if code, _ := e.post(sid, "1"); code != 200 {
		t.Fatalf("post close: want 200, got %d", code)
	}
	if code, body := e.poll(sid); code != 200 || body != "6" {
		t.Errorf("poll after close: want 200 6, got %d %q", code, body)
	}
	if code, _ := e.poll(sid); code != 400 {
		t.Errorf("second poll after close: want 400, got %d", code)
	}
	if ev := recv(t, e.closes, "close"); ev.reason != ReasonTransportClose {
		t.Errorf("close reason %q, want %q", ev.reason, ReasonTransportClose)
	}
}

// A request that comes after the pong deadline finds the session closed,
// even if the heartbeat timer has not run yet.
func TestPollingPongDeadlineCheckedOnRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		awaitingPong bool
		due          time.Duration // relative to now
	}{
		{"pong overdue", true, -time.Millisecond},
		{"ping never sent", false, -time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, &Config{PingInterval: time.Hour, PingTimeout: time.Minute}, nil)
			sid := e.handshake()
			s := e.srv.Socket(sid)
			s.mu.Lock()
			s.awaitingPong = c.awaitingPong
			s.due = e.srv.clock() + c.due
			s.mu.Unlock()
			if code, _ := e.poll(sid); code != 400 {
				t.Errorf("poll after the deadline: want 400, got %d", code)
			}
			if ev := recv(t, e.closes, "close"); ev.reason != ReasonPingTimeout || !errors.Is(ev.err, ErrPingTimeout) {
				t.Errorf("want ping timeout, got %q %v", ev.reason, ev.err)
			}
		})
	}
}
