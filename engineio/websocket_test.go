package engineio

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestWebSocketOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{PingInterval: 300 * time.Millisecond, PingTimeout: 2 * time.Second}, nil)
	c := e.mustDialWS("EIO=4&transport=websocket")
	typ, open := wsRead(t, c)
	if typ != websocket.MessageText {
		t.Fatalf("open: want text frame, got %v", typ)
	}
	o := parseOpen(t, open)
	if len(o.Upgrades) != 0 || o.PingInterval != 300 || o.PingTimeout != 2000 || o.MaxPayload != 1e6 {
		t.Errorf("open: %+v", o)
	}
	if s := e.srv.Socket(o.SID); s == nil || s.Transport() != "websocket" {
		t.Fatalf("socket: %v", s)
	}

	t.Run("text", func(t *testing.T) {
		wsWrite(t, c, websocket.MessageText, "4hello")
		if typ, got := wsRead(t, c); typ != websocket.MessageText || got != "4hello" {
			t.Errorf("want text 4hello, got %v %q", typ, got)
		}
	})
	t.Run("binary", func(t *testing.T) {
		wsWrite(t, c, websocket.MessageBinary, "\x01\x02\x03\x04")
		if typ, got := wsRead(t, c); typ != websocket.MessageBinary || got != "\x01\x02\x03\x04" {
			t.Errorf("want binary 01020304, got %v %q", typ, got)
		}
	})
	t.Run("base64 in text frame", func(t *testing.T) {
		wsWrite(t, c, websocket.MessageText, "bAQIDBA==")
		if typ, got := wsRead(t, c); typ != websocket.MessageBinary || got != "\x01\x02\x03\x04" {
			t.Errorf("want binary 01020304, got %v %q", typ, got)
		}
	})
	t.Run("large", func(t *testing.T) {
		big := "4" + strings.Repeat("x", 70000)
		wsWrite(t, c, websocket.MessageText, big)
		if _, got := wsRead(t, c); got != big {
			t.Errorf("large message: got %d bytes", len(got))
		}
	})
	t.Run("heartbeat", func(t *testing.T) {
		for i := range 3 {
			if _, got := wsRead(t, c); got != "2" {
				t.Fatalf("round %d: want ping, got %q", i, got)
			}
			wsWrite(t, c, websocket.MessageText, "3")
		}
	})
	c.Close(websocket.StatusNormalClosure, "")
	if ev := recv(t, e.closes, "close"); ev.reason != ReasonTransportClose {
		t.Errorf("want transport close, got %q %v", ev.reason, ev.err)
	}
}

func TestWebSocketBatchesFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	c := e.mustDialWS("EIO=4&transport=websocket")
	o := parseOpen(t, func() string { _, s := wsRead(t, c); return s }())
	s := e.srv.Socket(o.SID)
	want := []string{"4a", "4b", "4c"}
	for _, w := range want {
		if err := s.Send(Message{Data: []byte(w[1:])}); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range want {
		if _, got := wsRead(t, c); got != w {
			t.Errorf("want %q, got %q", w, got)
		}
	}
}

// TestSendAlone: what is queued after a SendAlone message goes out in a
// later write, aloneGap after it (so no earlier than aloneGap after the
// SendAlone call), in order; over polling everything still comes in one
// response.
func TestSendAlone(t *testing.T) {
	t.Parallel()
	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, nil)
		c := e.mustDialWS("EIO=4&transport=websocket")
		o := parseOpen(t, func() string { _, s := wsRead(t, c); return s }())
		s := e.srv.Socket(o.SID)
		start := time.Now()
		if err := s.SendAlone(Message{Data: []byte("a")}); err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"b", "c"} {
			if err := s.Send(Message{Data: []byte(m)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range []string{"4a", "4b", "4c"} {
			if _, got := wsRead(t, c); got != w {
				t.Fatalf("want %q, got %q", w, got)
			}
			if w == "4b" {
				if d := time.Since(start); d < aloneGap {
					t.Errorf("4b came %v after SendAlone, want at least %v", d, aloneGap)
				}
			}
		}
	})
	t.Run("polling", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, nil)
		sid := e.handshake()
		s := e.srv.Socket(sid)
		if err := s.SendAlone(Message{Data: []byte("a")}); err != nil {
			t.Fatal(err)
		}
		if err := s.Send(Message{Data: []byte("b")}); err != nil {
			t.Fatal(err)
		}
		if code, body := e.poll(sid); code != 200 || body != "4a\x1e4b" {
			t.Errorf("poll: %d %q, want 200 \"4a\\x1e4b\"", code, body)
		}
	})
}

func TestWebSocketPingTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, fastHeartbeat(), nil)
	c := e.mustDialWS("EIO=4&transport=websocket")
	wsRead(t, c) // open
	if _, got := wsRead(t, c); got != "2" {
		t.Fatalf("want ping, got %q", got)
	}
	// No pong: the server closes.
	err := wsReadErr(t, c)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure && !errors.Is(err, context.Canceled) {
		t.Logf("read error: %v", err)
	}
	if ev := recv(t, e.closes, "close"); ev.reason != ReasonPingTimeout {
		t.Errorf("want ping timeout, got %q", ev.reason)
	}
}

func TestWebSocketBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{MaxPayload: 100}, nil)
	tests := []struct {
		name       string
		typ        websocket.MessageType
		data       string
		wantReason string
		wantErr    error
	}{
		{"unknown type", websocket.MessageText, "abc", ReasonParseError, ErrParse},
		{"empty text", websocket.MessageText, "", ReasonParseError, ErrParse},
		{"bad base64", websocket.MessageText, "b!!", ReasonParseError, ErrParse},
		{"client ping", websocket.MessageText, "2", ReasonTransportError, ErrTransport},
		{"too large", websocket.MessageText, "4" + strings.Repeat("x", 100), ReasonTransportError, ErrPayloadTooLarge},
		{"client close", websocket.MessageText, "1", ReasonTransportClose, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.mustDialWS("EIO=4&transport=websocket")
			wsRead(t, c)
			wsWrite(t, c, tt.typ, tt.data)
			wsReadErr(t, c)
			ev := recv(t, e.closes, "close")
			if ev.reason != tt.wantReason || (tt.wantErr != nil && !errors.Is(ev.err, tt.wantErr)) || (tt.wantErr == nil && ev.err != nil) {
				t.Errorf("want %q %v, got %q %v", tt.wantReason, tt.wantErr, ev.reason, ev.err)
			}
		})
	}
	t.Run("exactly max", func(t *testing.T) {
		c := e.mustDialWS("EIO=4&transport=websocket")
		wsRead(t, c)
		m := "4" + strings.Repeat("x", 99)
		wsWrite(t, c, websocket.MessageText, m)
		if _, got := wsRead(t, c); got != m {
			t.Errorf("echo of %d bytes: got %d", len(m), len(got))
		}
	})
	if st := e.srv.Stats(); st.PayloadTooLarge != 1 || st.ParseErrors != 3 {
		t.Errorf("Stats: PayloadTooLarge %d ParseErrors %d", st.PayloadTooLarge, st.ParseErrors)
	}
}

func TestUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	pending := e.pollAsync(sid)
	c := e.mustDialWS("EIO=4&transport=websocket&sid=" + sid)
	wsWrite(t, c, websocket.MessageText, "2probe")
	if _, got := wsRead(t, c); got != "3probe" {
		t.Fatalf("want 3probe, got %q", got)
	}
	if r := recv(t, pending, "pending poll"); r != [2]string{"200", "6"} {
		t.Errorf("pending poll: want 200 6, got %v", r)
	}
	// Sent before the upgrade completes: must arrive over the WebSocket.
	s := e.srv.Socket(sid)
	_ = s.Send(Message{Data: []byte("queued")})
	wsWrite(t, c, websocket.MessageText, "5")
	if _, got := wsRead(t, c); got != "4queued" {
		t.Errorf("want 4queued over websocket, got %q", got)
	}
	wsWrite(t, c, websocket.MessageText, "4hello")
	if _, got := wsRead(t, c); got != "4hello" {
		t.Errorf("want 4hello, got %q", got)
	}
	if s.Transport() != "websocket" {
		t.Errorf("Transport: want websocket, got %s", s.Transport())
	}
	if code, _ := e.poll(sid); code != 400 {
		t.Errorf("poll after upgrade: want 400, got %d", code)
	}
	// A second WebSocket for the sid is accepted, then closed at once.
	c2 := e.mustDialWS("EIO=4&transport=websocket&sid=" + sid)
	if err := wsReadErr(t, c2); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("second websocket: want a close, got %v", err)
	}
	wsWrite(t, c, websocket.MessageText, "4still")
	if _, got := wsRead(t, c); got != "4still" {
		t.Errorf("first websocket after the second: want 4still, got %q", got)
	}
	if st := e.srv.Stats(); st.Upgrades != 1 {
		t.Errorf("Stats.Upgrades: want 1, got %d", st.Upgrades)
	}
}

func TestUpgradeWithoutWaitingForProbe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	sid := e.handshake()
	c := e.mustDialWS("EIO=4&transport=websocket&sid=" + sid)
	wsWrite(t, c, websocket.MessageText, "2probe")
	wsWrite(t, c, websocket.MessageText, "5")
	wsWrite(t, c, websocket.MessageText, "4hello")
	if _, got := wsRead(t, c); got != "3probe" {
		t.Fatalf("want 3probe, got %q", got)
	}
	if _, got := wsRead(t, c); got != "4hello" {
		t.Errorf("want 4hello, got %q", got)
	}
	if code, _ := e.poll(sid); code != 400 {
		t.Errorf("poll after upgrade: want 400, got %d", code)
	}
}

func TestUpgradeAborted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{UpgradeTimeout: 100 * time.Millisecond}, nil)
	t.Run("bad packet", func(t *testing.T) {
		sid := e.handshake()
		c := e.mustDialWS("EIO=4&transport=websocket&sid=" + sid)
		wsWrite(t, c, websocket.MessageText, "4too early")
		wsReadErr(t, c)
		// The session goes on over polling.
		if code, _ := e.post(sid, "4still here"); code != 200 {
			t.Fatalf("post: %d", code)
		}
		if _, body := e.poll(sid); body != "4still here" {
			t.Errorf("poll: got %q", body)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		sid := e.handshake()
		c := e.mustDialWS("EIO=4&transport=websocket&sid=" + sid)
		wsWrite(t, c, websocket.MessageText, "2probe")
		wsRead(t, c)
		wsReadErr(t, c) // closed after UpgradeTimeout
		if code, _ := e.post(sid, "4x"); code != 200 {
			t.Fatalf("post: %d", code)
		}
		if _, body := e.poll(sid); body != "4x" {
			t.Errorf("poll: got %q", body)
		}
	})
}

func TestWebSocketStalledClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{WriteTimeout: 200 * time.Millisecond, MaxQueuedPackets: 64}, nil)
	stalled := e.mustDialWS("EIO=4&transport=websocket")
	_, open := wsRead(t, stalled)
	ss := e.srv.Socket(parseOpen(t, open).SID)
	other := e.mustDialWS("EIO=4&transport=websocket")
	wsRead(t, other)

	big := Message{Data: bytes.Repeat([]byte("x"), 1<<20)}
	closed := false
	for i := 0; i < 200 && !closed; i++ {
		err := ss.Send(big)
		switch {
		case errors.Is(err, ErrClosed):
			closed = true
		case errors.Is(err, ErrQueueFull):
			<-time.After(10 * time.Millisecond) // let the flusher hit its deadline
		case err != nil:
			t.Fatal(err)
		}
		if i%20 == 0 { // the other client is served meanwhile
			wsWrite(t, other, websocket.MessageText, "4ping")
			if _, got := wsRead(t, other); got != "4ping" {
				t.Fatalf("other: got %q", got)
			}
		}
	}
	select {
	case <-ss.Done():
	case <-time.After(testTimeout):
		t.Fatal("stalled client never closed")
	}
	ev := recv(t, e.closes, "close")
	if ev.reason != ReasonTransportError || !errors.Is(ev.err, ErrTransport) {
		t.Errorf("want transport error, got %q %v", ev.reason, ev.err)
	}
	if st := e.srv.Stats(); st.WriteTimeouts != 1 {
		t.Errorf("Stats.WriteTimeouts: want 1, got %d", st.WriteTimeouts)
	}
}

func TestServerShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	c := e.mustDialWS("EIO=4&transport=websocket")
	_, open := wsRead(t, c)
	s := e.srv.Socket(parseOpen(t, open).SID)
	sid := e.handshake()
	pending := e.pollAsync(sid)
	_ = s.Send(Message{Data: []byte("last words")})

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, got := wsRead(t, c); got != "4last words" {
		t.Errorf("want queued message before close, got %q", got)
	}
	if err := wsReadErr(t, c); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("want normal closure, got %v", err)
	}
	if r := recv(t, pending, "poll"); r != [2]string{"200", "1"} {
		t.Errorf("pending poll: want 200 1, got %v", r)
	}
	for range 2 {
		if ev := recv(t, e.closes, "close"); ev.reason != ReasonServerShutdown {
			t.Errorf("want server shutting down, got %q", ev.reason)
		}
	}
	if code, body := e.do("GET", "EIO=4&transport=polling", nil); code != 503 {
		t.Errorf("handshake after shutdown: want 503, got %d %s", code, body)
	}
	if e.srv.Count() != 0 {
		t.Errorf("Count: want 0, got %d", e.srv.Count())
	}
}

func TestServerCloseWithStalledClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{WriteTimeout: time.Minute}, nil)
	var conns []*websocket.Conn
	for range 5 {
		c := e.mustDialWS("EIO=4&transport=websocket")
		wsRead(t, c)
		conns = append(conns, c)
	}
	big := Message{Data: bytes.Repeat([]byte("x"), 1<<20)}
	e.mu.Lock()
	socks := append([]*Socket(nil), e.sockets...)
	e.mu.Unlock()
	for _, s := range socks {
		for range 16 {
			_ = s.Send(big)
		}
	}
	start := time.Now()
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v with stalled clients", d)
	}
	for range socks {
		recv(t, e.closes, "close")
	}
	_ = conns
}

// TestWebSocketManyClients runs many clients at once through park and
// wake-up cycles of the poller, closing some from each side.
func TestWebSocketManyClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	const clients, rounds = 40, 20
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			errs <- func() error {
				c, _, err := e.dialWS("EIO=4&transport=websocket")
				if err != nil {
					return err
				}
				defer c.CloseNow()
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				if _, _, err := c.Read(ctx); err != nil {
					return err
				}
				for r := range rounds {
					msg := []byte("4" + strings.Repeat("m", r*37))
					if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
						return err
					}
					_, got, err := c.Read(ctx)
					if err != nil {
						return err
					}
					if !bytes.Equal(got, msg) {
						return errors.New("echo differs")
					}
				}
				if i%2 == 0 {
					return c.Close(websocket.StatusNormalClosure, "")
				}
				return nil
			}()
		}()
	}
	for range clients {
		if err := recv(t, errs, "client"); err != nil {
			t.Error(err)
		}
	}
	for range clients {
		recv(t, e.closes, "close")
	}
	if n := e.srv.Count(); n != 0 {
		t.Errorf("Count: want 0, got %d", n)
	}
}

// TestServerCloseDuringHandshakes closes the server while clients keep
// arriving: every socket that was connected gets exactly one OnClose.
func TestServerCloseDuringHandshakes(t *testing.T) {
	t.Parallel()
	var connects, closes atomic.Int64
	e := newEnv(t, nil, func(s *Socket) {
		connects.Add(1)
		s.OnClose(func(string, error) { closes.Add(1) })
	})
	started := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				var err error
				if i%2 == 0 {
					var c *websocket.Conn
					c, _, err = e.dialWS("EIO=4&transport=websocket")
					if err == nil {
						c.CloseNow()
					}
				} else {
					var resp *http.Response
					resp, err = e.client().Get(e.url + "?EIO=4&transport=polling")
					if err == nil {
						resp.Body.Close()
						err = map[bool]error{true: errors.New("refused")}[resp.StatusCode != 200]
					}
				}
				if err != nil {
					return
				}
				select {
				case started <- struct{}{}:
				default:
				}
			}
		}()
	}
	for range 8 {
		recv(t, started, "handshakes")
	}
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if c, d := connects.Load(), closes.Load(); c == 0 || c != d {
		t.Errorf("connects %d, closes %d", c, d)
	}
	if e.srv.Count() != 0 {
		t.Errorf("Count: want 0, got %d", e.srv.Count())
	}
}

// TestWebSocketPingFrameAfterWriteDeadline: the server answers a
// client's WebSocket ping long after the engine's last write deadline.
func TestWebSocketPingFrameAfterWriteDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{WriteTimeout: 50 * time.Millisecond, PingInterval: 200 * time.Millisecond, PingTimeout: 5 * time.Second}, nil)
	c := e.mustDialWS("EIO=4&transport=websocket")
	wsRead(t, c)
	if _, got := wsRead(t, c); got != "2" { // the open frame's deadline is long past
		t.Fatalf("want ping, got %q", got)
	}
	wsWrite(t, c, websocket.MessageText, "3")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	readErr := make(chan error, 1)
	go func() { // reads process the pong
		_, _, err := c.Read(ctx)
		readErr <- err
	}()
	// Past the deadline of the server's last write (the ping above).
	<-time.After(150 * time.Millisecond)
	if err := c.Ping(ctx); err != nil {
		t.Errorf("ping: %v", err)
	}
	if err := recv(t, readErr, "read"); err != nil {
		t.Errorf("read: %v", err)
	}
	select {
	case ev := <-e.closes:
		t.Errorf("socket closed: %q %v", ev.reason, ev.err)
	default:
	}
}
