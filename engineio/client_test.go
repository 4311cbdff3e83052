package engineio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func clientCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func dialTest(t *testing.T, url string, cfg *DialConfig) *ClientConn {
	t.Helper()
	c, err := Dial(clientCtx(t), url, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recvTest(t *testing.T, c *ClientConn) Message {
	t.Helper()
	m, err := c.Recv(clientCtx(t))
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return m
}

var clientTransports = []struct {
	name       string
	transports []string
	final      string
}{
	{"polling", []string{TransportPolling}, TransportPolling},
	{"websocket", []string{TransportWebSocket}, TransportWebSocket},
	{"upgrade", nil, TransportWebSocket},
}

func TestClientEchoPerTransport(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, tr := range clientTransports {
		t.Run(tr.name, func(t *testing.T) {
			c := dialTest(t, e.ts.URL, &DialConfig{Transports: tr.transports})
			if c.ID() == "" || c.PingInterval() <= 0 || c.PingTimeout() <= 0 {
				t.Fatalf("handshake: id %q interval %v timeout %v", c.ID(), c.PingInterval(), c.PingTimeout())
			}
			for i := range 200 {
				text := fmt.Sprintf("hello %d", i)
				if err := c.Send(Message{Data: []byte(text)}); err != nil {
					t.Fatal(err)
				}
				if err := c.Send(Message{Binary: true, Data: []byte{0, 1, byte(i)}}); err != nil {
					t.Fatal(err)
				}
				if m := recvTest(t, c); m.Binary || string(m.Data) != text {
					t.Fatalf("got %+v, want %q", m, text)
				}
				if m := recvTest(t, c); !m.Binary || string(m.Data) != string([]byte{0, 1, byte(i)}) {
					t.Fatalf("got binary %+v", m)
				}
				if c.Transport() == tr.final && i > 2 {
					break
				}
			}
			if c.Transport() != tr.final {
				t.Fatalf("transport %s, want %s", c.Transport(), tr.final)
			}
			sid := c.ID()
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Recv(clientCtx(t)); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
				t.Fatalf("recv after close: %v", err)
			}
			if err := c.Send(Message{Data: []byte("x")}); !errors.Is(err, ErrClosed) {
				t.Fatalf("send after close: %v", err)
			}
			// the server sees the session end
			for range 100 {
				select {
				case ev := <-e.closes:
					if ev.sid == sid {
						return
					}
				case <-time.After(testTimeout):
					t.Fatal("server did not see the close")
				}
			}
		})
	}
}

func TestClientHeartbeat(t *testing.T) {
	e := newEnv(t, &Config{PingInterval: 100 * time.Millisecond, PingTimeout: time.Second}, nil)
	for _, tr := range clientTransports {
		t.Run(tr.name, func(t *testing.T) {
			c := dialTest(t, e.ts.URL, &DialConfig{Transports: tr.transports})
			// Survive well past pingInterval+pingTimeout by answering pings.
			ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
			defer cancel()
			if _, err := c.Recv(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("recv: %v", err)
			}
			if c.Err() != nil || c.Stats().PacketsReceived < 4 {
				t.Fatalf("err %v, stats %+v", c.Err(), c.Stats())
			}
			if err := c.Send(Message{Data: []byte("still here")}); err != nil {
				t.Fatal(err)
			}
			if m := recvTest(t, c); string(m.Data) != "still here" {
				t.Fatalf("got %q", m.Data)
			}
		})
	}
}

func TestClientTLS(t *testing.T) {
	srv, err := NewServer(nil, func(s *Socket) { s.OnMessage(func(m Message) { s.Send(m) }) })
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	defer ts.Close()
	defer srv.Close()
	tlsCfg := ts.Client().Transport.(*http.Transport).TLSClientConfig
	for _, tr := range clientTransports {
		t.Run(tr.name, func(t *testing.T) {
			c := dialTest(t, ts.URL, &DialConfig{Transports: tr.transports, TLSConfig: tlsCfg})
			for range 100 {
				if err := c.Send(Message{Data: []byte("tls")}); err != nil {
					t.Fatal(err)
				}
				if m := recvTest(t, c); string(m.Data) != "tls" {
					t.Fatalf("got %q", m.Data)
				}
				if c.Transport() == tr.final {
					break
				}
			}
			if c.Transport() != tr.final {
				t.Fatalf("transport %s", c.Transport())
			}
		})
	}
	if _, err := Dial(clientCtx(t), ts.URL, nil); !errors.Is(err, ErrTransport) {
		t.Fatalf("untrusted certificate accepted: %v", err)
	}
}

func TestClientLocalAddrHeaderQuery(t *testing.T) {
	remotes := make(chan string, 4)
	srv, err := NewServer(nil, func(s *Socket) {
		r := s.Request()
		remotes <- s.RemoteAddr() + " " + r.Header.Get("X-Test") + " " + r.URL.Query().Get("q")
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	for _, tr := range clientTransports[:2] {
		t.Run(tr.name, func(t *testing.T) {
			dialTest(t, ts.URL, &DialConfig{
				Transports: tr.transports,
				LocalAddr:  &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)},
				Header:     http.Header{"X-Test": {"h"}},
				Query:      map[string][]string{"q": {"v"}},
			})
			got := <-remotes
			if !strings.HasPrefix(got, "127.0.0.2:") || !strings.HasSuffix(got, " h v") {
				t.Fatalf("server saw %q", got)
			}
		})
	}
}

func TestClientConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		url string
		cfg *DialConfig
	}{
		{"ftp://127.0.0.1:1", nil},
		{"http://127.0.0.1:1", &DialConfig{Transports: []string{"carrier-pigeon"}}},
		{"http://127.0.0.1:1", &DialConfig{ReadLimit: -1}},
	} {
		if _, err := Dial(clientCtx(t), tc.url, tc.cfg); err == nil {
			t.Errorf("%s %+v: no error", tc.url, tc.cfg)
		}
	}
}

// hostile is a misbehaving Engine.IO server: a correct polling handshake,
// then whatever mode says.
type hostile struct {
	mode       string
	handshakes atomic.Int32
	interval   int
}

func (h *hostile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("transport") == TransportWebSocket {
		h.serveWS(w, r)
		return
	}
	if q.Get("sid") == "" {
		h.handshakes.Add(1)
		switch h.mode {
		case "badHandshake":
			fmt.Fprint(w, `0{"sid":`)
			return
		case "status500":
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		iv := h.interval
		if iv == 0 {
			iv = 5000
		}
		fmt.Fprintf(w, `0{"sid":"s%d","upgrades":[],"pingInterval":%d,"pingTimeout":%d,"maxPayload":1000}`, h.handshakes.Load(), iv, iv)
		return
	}
	if r.Method == http.MethodPost {
		if h.mode == "stuckPost" {
			// Read the body first: net/http notices a dropped
			// connection (and cancels the context) only once it has.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		fmt.Fprint(w, "ok")
		return
	}
	switch h.mode {
	case "malformed":
		fmt.Fprint(w, "9garbage")
	case "oversize":
		w.Write([]byte("4" + strings.Repeat("x", 200<<10)))
	case "oversizeHint":
		w.Header().Set("Content-Length", fmt.Sprint(1<<30))
		w.WriteHeader(http.StatusOK)
	case "close":
		fmt.Fprint(w, "1")
	case "wrongDirection":
		fmt.Fprint(w, "5")
	case "sioGarbage":
		// a correct Socket.IO connect, then a broken event
		fmt.Fprint(w, "40{\"sid\":\"x\"}\x1e42[\"broken\"")
	case "sioAttachments":
		fmt.Fprint(w, "40{\"sid\":\"x\"}\x1e4999999-[\"e\"]")
	default: // silent, stuckPost: never answer
		<-r.Context().Done()
	}
}

func (h *hostile) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	h.handshakes.Add(1)
	c.Write(ctx, websocket.MessageText, []byte(`0{"sid":"w","upgrades":[],"pingInterval":5000,"pingTimeout":5000,"maxPayload":1000}`))
	switch h.mode {
	case "malformed":
		c.Write(ctx, websocket.MessageText, []byte("x"))
	case "oversize":
		c.Write(ctx, websocket.MessageText, []byte("4"+strings.Repeat("x", 200<<10)))
	case "empty":
		c.Write(ctx, websocket.MessageText, nil)
	}
	c.Read(ctx) // until the client goes
}

func TestClientHostileServer(t *testing.T) {
	for _, tc := range []struct {
		mode       string
		transports []string
		interval   int
		dialErr    error
		recvErr    error
	}{
		{"badHandshake", nil, 0, ErrParse, nil},
		{"status500", nil, 0, ErrTransport, nil},
		{"malformed", nil, 0, nil, ErrParse},
		{"oversize", nil, 0, nil, ErrPayloadTooLarge},
		{"oversizeHint", nil, 0, nil, ErrPayloadTooLarge},
		{"close", nil, 0, nil, ErrRemoteClosed},
		{"wrongDirection", nil, 0, nil, ErrParse},
		{"silent", nil, 50, nil, ErrPingTimeout},
		{"malformed", []string{TransportWebSocket}, 0, nil, ErrParse},
		{"oversize", []string{TransportWebSocket}, 0, nil, ErrPayloadTooLarge},
		{"empty", []string{TransportWebSocket}, 0, nil, ErrParse},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.mode, tc.transports), func(t *testing.T) {
			h := &hostile{mode: tc.mode, interval: tc.interval}
			ts := httptest.NewServer(h)
			defer closeHostile(ts) // handlers block until their client goes: drop clients first
			c, err := Dial(clientCtx(t), ts.URL, &DialConfig{Transports: tc.transports, ReadLimit: 64 << 10})
			if tc.dialErr != nil {
				if !errors.Is(err, tc.dialErr) {
					t.Fatalf("dial error %v, want %v", err, tc.dialErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Recv(clientCtx(t)); !errors.Is(err, tc.recvErr) {
				t.Fatalf("recv error %v, want %v", err, tc.recvErr)
			}
			select {
			case <-c.Done():
			default:
				t.Fatal("Done not closed after failure")
			}
		})
	}
}

func TestClientQueueFull(t *testing.T) {
	h := &hostile{mode: "stuckPost"}
	ts := httptest.NewServer(h)
	defer closeHostile(ts) // handlers block until their client goes: drop clients first
	c := dialTest(t, ts.URL, &DialConfig{Transports: []string{TransportPolling}, MaxQueuedPackets: 4})
	var err error
	for range 100 { // the first batch is taken by the stuck POST
		if err = c.Send(Message{Data: []byte("x")}); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("err = %v", err)
	}
	if err := c.SendBatch(make([]Message, 5)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("batch err = %v", err)
	}
}

// TestClientReadBound: a reader that does not keep up pauses the
// connection instead of buffering without bound, and loses nothing.
func TestClientReadBound(t *testing.T) {
	const n, size = 100, 10 << 10
	e := newEnv(t, nil, func(s *Socket) {
		s.OnMessage(func(Message) {
			for i := range n {
				s.Send(Message{Data: []byte(fmt.Sprintf("%03d%s", i, strings.Repeat("x", size)))})
			}
		})
	})
	// WebSocket only: a poll response is one payload, which must fit
	// ReadLimit as a whole.
	for _, tr := range clientTransports[1:2] {
		t.Run(tr.name, func(t *testing.T) {
			c := dialTest(t, e.ts.URL, &DialConfig{Transports: tr.transports, ReadLimit: 32 << 10})
			if err := c.Send(Message{Data: []byte("go")}); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				m := recvTest(t, c)
				if _, held := c.in.held(); held > 32<<10 {
					t.Fatalf("%d bytes held, limit %d", held, 32<<10)
				}
				if want := fmt.Sprintf("%03d", i); string(m.Data[:3]) != want {
					t.Fatalf("message %s, want %s", m.Data[:3], want)
				}
			}
		})
	}
}

// TestClientTryAllTransports: WebSocket refused by the server, the client
// falls back to polling; without the option the refusal is the error.
func TestClientTryAllTransports(t *testing.T) {
	e := newEnv(t, &Config{Transports: []string{TransportPolling}}, nil)
	cfg := &DialConfig{Transports: []string{TransportWebSocket, TransportPolling}}
	if _, err := Dial(clientCtx(t), e.ts.URL, cfg); !errors.Is(err, ErrTransport) {
		t.Fatalf("err = %v", err)
	}
	cfg.TryAllTransports = true
	c := dialTest(t, e.ts.URL, cfg)
	if err := c.Send(Message{Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if m := recvTest(t, c); string(m.Data) != "x" || c.Transport() != TransportPolling {
		t.Fatalf("got %q over %s", m.Data, c.Transport())
	}
}

// closeHostile stops a hostile test server whose handlers block until
// their client disconnects: it drops every client connection first, so
// Close never waits on a handler whose client is still open.
func closeHostile(ts *httptest.Server) {
	ts.CloseClientConnections()
	ts.Close()
}
