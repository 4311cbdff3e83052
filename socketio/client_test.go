package socketio

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engineio"
)

// clPeer is a server pair the client scenarios run against: plain and
// recovery (connection state recovery on) serve the same handlers as
// interop/node/client/server.js; restart stops the plain server and
// starts it again on the same port (stop, then start, separately).
type clPeer struct {
	plain, recovery string
	stop, start     func()
}

// goHandlers installs on srv the handlers of interop/node/client/server.js.
func goHandlers(srv *Server) {
	var mu sync.Mutex
	var log []any
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("echo", func(args []any, ack AckFunc) {
			if ack != nil {
				ack(args...)
			}
		})
		s.On("bin", func(args []any, ack AckFunc) {
			m, _ := args[0].(map[string]any)
			blob, _ := m["blob"].([]byte)
			list, _ := m["list"].([]any)
			ok := len(list) == 1 && bytes.Equal(list[0].([]byte), []byte("ab"))
			rev := slices.Clone(blob)
			slices.Reverse(rev)
			ack(map[string]any{"blob": rev, "ok": ok})
		})
		s.On("pleaseAsk", func(args []any, _ AckFunc) {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				res, err := s.EmitWithAck(ctx, "ask", args[0], []byte{1, 2, 3})
				if err != nil || len(res) != 2 {
					s.Emit("askResult", map[string]any{"error": "no answer"})
					return
				}
				b, _ := res[1].([]byte)
				s.Emit("askResult", map[string]any{"n": res[0], "blobHex": hex.EncodeToString(b)})
			}()
		})
		s.On("record", func(args []any, _ AckFunc) {
			mu.Lock()
			log = append(log, args[0])
			mu.Unlock()
		})
		s.On("getLog", func(_ []any, ack AckFunc) {
			mu.Lock()
			l := log
			log = nil
			mu.Unlock()
			if l == nil {
				l = []any{}
			}
			ack(l)
		})
		s.On("whoami", func(_ []any, ack AckFunc) {
			hs := s.Handshake()
			var extra, hdr any
			if v := hs.Query.Get("extra"); v != "" {
				extra = v
			}
			if v := hs.Header.Get("X-Extra"); v != "" {
				hdr = v
			}
			ack(s.Namespace().Name(), s.conn.ec.ID(), s.Transport(), hs.Auth, extra, hdr)
		})
		s.On("kick", func([]any, AckFunc) { s.Disconnect(false) })
		s.On("join", func(args []any, ack AckFunc) {
			s.Join(args[0].(string))
			s.Namespace().To(args[0].(string)).Emit("welcome", 0)
			ack(s.ID())
		})
		s.On("dropMe", func(args []any, _ AckFunc) {
			room, n := args[0].(string), int(args[1].(float64))
			ns := s.Namespace()
			s.conn.ec.Close()
			go func() {
				t := time.NewTimer(50 * time.Millisecond)
				<-t.C
				for i := 1; i <= n; i++ {
					ns.To(room).Emit("missed", i)
				}
			}()
		})
		s.On("ticks", func(args []any, _ AckFunc) {
			for i := range int(args[0].(float64)) {
				s.Emit("tick", i)
			}
		})
	})
	srv.Of("/chat").OnConnection(func(s *Socket) {
		s.On("whoami", func(_ []any, ack AckFunc) {
			ack(s.Namespace().Name(), s.conn.ec.ID(), s.Transport(), s.Handshake().Auth)
		})
	})
	srv.Of("/private").Use(func(s *Socket) error {
		if s.Handshake().Auth["token"] == "good" {
			return nil
		}
		return &ConnectError{Message: "not authorized", Data: map[string]any{"code": 401}}
	})
	srv.Of("/private").OnConnection(func(s *Socket) {
		s.On("whoami", func(_ []any, ack AckFunc) { ack(s.Namespace().Name()) })
	})
}

// goServerOn serves a Go server with goHandlers on addr ("127.0.0.1:0" for
// any port); stop closes it and waits.
func goServerOn(t *testing.T, addr string, recovery bool) (url string, stop func()) {
	t.Helper()
	cfg := &Config{Engine: &engineio.Config{PingInterval: time.Second, PingTimeout: time.Second}}
	if recovery {
		cfg.ConnectionStateRecovery = &RecoveryConfig{MaxDisconnectionDuration: 30 * time.Second, SkipMiddlewares: true}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	goHandlers(srv)
	var ln net.Listener
	for range 50 { // the port may still be held briefly after a restart
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	done := make(chan struct{})
	go func() { defer close(done); hs.Serve(ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			srv.Close()
			hs.Close()
			<-done
		})
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

func goPeer(t *testing.T) *clPeer {
	p := &clPeer{}
	var stopPlain func()
	p.plain, stopPlain = goServerOn(t, "127.0.0.1:0", false)
	p.recovery, _ = goServerOn(t, "127.0.0.1:0", true)
	addr := p.plain[len("http://"):]
	p.stop = func() { stopPlain() }
	p.start = func() { _, stopPlain = goServerOn(t, addr, false) }
	return p
}

// clTransports are the transport choices every scenario runs with.
var clTransports = []struct {
	name       string
	transports []string
	final      string
}{
	{"polling", []string{"polling"}, "polling"},
	{"websocket", []string{"websocket"}, "websocket"},
	{"upgrade", nil, "websocket"},
}

// clConfig returns a fast-reconnecting client config for transports.
func clConfig(transports []string) *ClientConfig {
	return &ClientConfig{
		Engine:              &engineio.DialConfig{Transports: transports},
		ReconnectDelay:      50 * time.Millisecond,
		ReconnectDelayMax:   200 * time.Millisecond,
		RandomizationFactor: -1,
		Timeout:             5 * time.Second,
	}
}

func clCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func clConnect(t *testing.T, url string, cfg *ClientConfig, scfg *SocketConfig) *ClientSocket {
	t.Helper()
	s, err := Connect(clCtx(t), url, cfg, scfg)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func clAck(t *testing.T, s *ClientSocket, event string, args ...any) []any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := s.EmitWithAck(ctx, event, args...)
	if err != nil {
		t.Fatalf("%s: %v", event, err)
	}
	return res
}

func clWait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timeout waiting for %s", what)
		var zero T
		return zero
	}
}

// clScenarios runs every client scenario against p for each transport.
func clScenarios(t *testing.T, p *clPeer) {
	for _, tr := range clTransports {
		t.Run(tr.name, func(t *testing.T) {
			t.Run("basic", func(t *testing.T) { clBasic(t, p, tr.transports, tr.final) })
			t.Run("connectError", func(t *testing.T) { clConnectError(t, p, tr.transports) })
			t.Run("ackTimeout", func(t *testing.T) { clAckTimeout(t, p, tr.transports) })
			t.Run("serverDisconnect", func(t *testing.T) { clServerDisconnect(t, p, tr.transports) })
			t.Run("recovery", func(t *testing.T) { clRecovery(t, p, tr.transports) })
			t.Run("ticks", func(t *testing.T) { clTicks(t, p, tr.transports) })
		})
	}
	// The restart scenario stops the plain server: run it last, once per
	// transport, sequentially.
	for _, tr := range clTransports {
		t.Run(tr.name+"/restart", func(t *testing.T) { clRestart(t, p, tr.transports) })
	}
}

func clBasic(t *testing.T, p *clPeer, transports []string, final string) {
	cfg := clConfig(transports)
	cfg.Engine.Query = url.Values{"extra": {"q1"}}
	cfg.Engine.Header = http.Header{"X-Extra": {"h1"}}
	s := clConnect(t, p.plain, cfg, &SocketConfig{Auth: map[string]any{"token": "abc"}})

	res := clAck(t, s, "echo", 1, "two", map[string]any{"three": []any{3}})
	if want := []any{1.0, "two", map[string]any{"three": []any{3.0}}}; !reflect.DeepEqual(res, want) {
		t.Fatalf("echo = %#v, want %#v", res, want)
	}
	res = clAck(t, s, "bin", map[string]any{"blob": []byte{1, 2, 3}, "list": []any{[]byte("ab")}})
	m, _ := res[0].(map[string]any)
	if b, _ := m["blob"].([]byte); !bytes.Equal(b, []byte{3, 2, 1}) || m["ok"] != true {
		t.Fatalf("bin = %#v", res)
	}

	// server -> client event with ack and binary; catch-all listener.
	asked := make(chan string, 1)
	s.On("ask", func(args []any, ack AckFunc) {
		b, _ := args[1].([]byte)
		rev := slices.Clone(b)
		slices.Reverse(rev)
		ack(args[0].(float64)*2, rev)
		asked <- hex.EncodeToString(b)
	})
	results := make(chan []any, 1)
	s.On("askResult", func(args []any, _ AckFunc) { results <- args })
	anys := make(chan string, 8)
	s.OnAny(func(event string, _ []any) {
		select {
		case anys <- event:
		default:
		}
	})
	if err := s.Emit("pleaseAsk", 21); err != nil {
		t.Fatal(err)
	}
	if got := clWait(t, asked, "ask"); got != "010203" {
		t.Fatalf("ask blob %s", got)
	}
	r := clWait(t, results, "askResult")
	if want := map[string]any{"n": 42.0, "blobHex": "030201"}; !reflect.DeepEqual(r[0], want) {
		t.Fatalf("askResult = %#v", r)
	}
	if e := clWait(t, anys, "any"); e != "ask" {
		t.Fatalf("OnAny saw %q first", e)
	}

	// A second namespace shares the engine connection.
	chat := s.Manager().Socket("/chat", &SocketConfig{AuthFunc: func() map[string]any { return map[string]any{"n": 2} }})
	if err := chat.Connect(clCtx(t)); err != nil {
		t.Fatal(err)
	}
	root := clAck(t, s, "whoami")
	cw := clAck(t, chat, "whoami")
	if root[0] != "/" || cw[0] != "/chat" || root[1] != cw[1] {
		t.Fatalf("not multiplexed: %v %v", root, cw)
	}
	if !reflect.DeepEqual(root[3], map[string]any{"token": "abc"}) || !reflect.DeepEqual(cw[3], map[string]any{"n": 2.0}) {
		t.Fatalf("auth: %v %v", root[3], cw[3])
	}
	if root[4] != "q1" || root[5] != "h1" {
		t.Fatalf("query/header: %v %v", root[4], root[5])
	}
	// the transport reaches the expected one (the upgrade is asynchronous)
	for range 200 {
		if root[2] == final {
			break
		}
		root = clAck(t, s, "whoami")
	}
	if root[2] != final || s.Manager().Transport() != final {
		t.Fatalf("transport %v / %s, want %s", root[2], s.Manager().Transport(), final)
	}
	// Volatile emits go out while connected; outgoing listeners see emits.
	clAck(t, s, "getLog")
	outs := make(chan string, 4)
	s.OnAnyOutgoing(func(event string, _ []any) {
		select {
		case outs <- event:
		default:
		}
	})
	if err := s.EmitVolatile("record", "v"); err != nil {
		t.Fatal(err)
	}
	if got := clAck(t, s, "getLog"); !reflect.DeepEqual(got[0], []any{"v"}) {
		t.Fatalf("volatile: log %v", got)
	}
	if e := clWait(t, outs, "outgoing"); e != "record" {
		t.Fatalf("OnAnyOutgoing saw %q", e)
	}
	if err := chat.Close(); err != nil {
		t.Fatal(err)
	}
	if chat.Connected() || !s.Connected() {
		t.Fatal("closing /chat changed the wrong socket")
	}
	// A closed namespace socket can be asked for again. (A round trip
	// first: the Node server drops a connection whose CONNECT for a
	// namespace arrives before it has processed the DISCONNECT.)
	clAck(t, s, "whoami")
	chat2 := s.Manager().Socket("/chat", nil)
	if chat2 == chat {
		t.Fatal("closed socket returned again")
	}
	if err := chat2.Connect(clCtx(t)); err != nil {
		t.Fatal(err)
	}
	if cw2 := clAck(t, chat2, "whoami"); cw2[1] != root[1] {
		t.Fatalf("not on the same connection: %v vs %v, stats %+v", cw2, root, s.Manager().Stats())
	}
}

func clConnectError(t *testing.T, p *clPeer, transports []string) {
	m, err := NewManager(p.plain, clConfig(transports))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bad := m.Socket("/private", &SocketConfig{Auth: map[string]any{"token": "bad"}})
	errs := make(chan error, 1)
	bad.OnConnectError(func(err error) { errs <- err })
	err = bad.Connect(clCtx(t))
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Message != "not authorized" || !reflect.DeepEqual(ce.Data, map[string]any{"code": 401.0}) {
		t.Fatalf("connect error = %#v", err)
	}
	if e := clWait(t, errs, "OnConnectError"); !errors.As(e, &ce) {
		t.Fatalf("OnConnectError got %v", e)
	}
	good := m.Socket("/", nil)
	if err := good.Connect(clCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func clAckTimeout(t *testing.T, p *clPeer, transports []string) {
	s := clConnect(t, p.plain, clConfig(transports), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.EmitWithAck(ctx, "record", "no-ack")
	if !errors.Is(err, ErrAckTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	clAck(t, s, "getLog")
	if err := s.Emit("disconnect"); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("reserved: %v", err)
	}
}

func clServerDisconnect(t *testing.T, p *clPeer, transports []string) {
	s := clConnect(t, p.plain, clConfig(transports), nil)
	reasons := make(chan string, 1)
	s.OnDisconnect(func(r string) { reasons <- r })
	if err := s.Emit("kick"); err != nil {
		t.Fatal(err)
	}
	if r := clWait(t, reasons, "disconnect"); r != ReasonIOServerDisconnect {
		t.Fatalf("reason %q", r)
	}
	if s.Connected() {
		t.Fatal("still connected")
	}
	// Not reconnected by itself, but Connect again works.
	if err := s.Connect(clCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func clRecovery(t *testing.T, p *clPeer, transports []string) {
	cfg := clConfig(transports)
	cfg.ReconnectDelay = 400 * time.Millisecond
	s := clConnect(t, p.recovery, cfg, nil)
	if s.Recovered() {
		t.Fatal("recovered on first connect")
	}
	missed := make(chan []any, 8)
	s.On("missed", func(args []any, _ AckFunc) { missed <- args })
	connects := make(chan struct{}, 2)
	s.OnConnect(func() { connects <- struct{}{} })
	res := clAck(t, s, "join", "r")
	id := res[0]
	if id != s.ID() {
		t.Fatalf("id %v vs %v", id, s.ID())
	}
	if err := s.Emit("dropMe", "r", 3); err != nil {
		t.Fatal(err)
	}
	clWait(t, connects, "reconnect")
	for i := 1; i <= 3; i++ {
		args := clWait(t, missed, "missed")
		if args[0] != float64(i) || len(args) != 2 {
			t.Fatalf("missed %d: %v", i, args)
		}
		if _, ok := args[1].(string); !ok {
			t.Fatalf("no offset in %v", args)
		}
	}
	if !s.Recovered() || s.ID() != id {
		t.Fatalf("recovered=%v id %s vs %v", s.Recovered(), s.ID(), id)
	}
}

func clTicks(t *testing.T, p *clPeer, transports []string) {
	s := clConnect(t, p.plain, clConfig(transports), nil)
	const n = 500
	got := make(chan float64, n)
	s.On("tick", func(args []any, _ AckFunc) { got <- args[0].(float64) })
	if err := s.Emit("ticks", n); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if v := clWait(t, got, "tick"); v != float64(i) {
			t.Fatalf("tick %d: got %v", i, v)
		}
	}
}

func clRestart(t *testing.T, p *clPeer, transports []string) {
	s := clConnect(t, p.plain, clConfig(transports), nil)
	downs := make(chan string, 4)
	ups := make(chan struct{}, 4)
	s.OnDisconnect(func(r string) { downs <- r })
	s.OnConnect(func() { ups <- struct{}{} })
	clAck(t, s, "getLog") // empty the log
	for i := 1; i <= 3; i++ {
		if err := s.Emit("record", i); err != nil {
			t.Fatal(err)
		}
	}
	if got := clAck(t, s, "getLog"); !reflect.DeepEqual(got[0], []any{1.0, 2.0, 3.0}) {
		t.Fatalf("log before restart %v", got)
	}
	p.stop()
	clWait(t, downs, "disconnect")
	for i := 4; i <= 10; i++ {
		if err := s.Emit("record", i); err != nil {
			t.Fatal(err)
		}
	}
	// An emit with ack made while disconnected waits for the connection.
	acked := make(chan []any, 1)
	err := s.EmitWithAckFunc(func(res []any, err error) {
		if err != nil {
			res = []any{err.Error()}
		}
		acked <- res
	}, "echo", "queued")
	if err != nil {
		t.Fatal(err)
	}
	if s.Buffered() != 8 {
		t.Fatalf("buffered %d", s.Buffered())
	}
	p.start()
	clWait(t, ups, "reconnect")
	if res := clWait(t, acked, "queued ack"); !reflect.DeepEqual(res, []any{"queued"}) {
		t.Fatalf("queued ack: %v", res)
	}
	got := clAck(t, s, "getLog")
	if want := []any{4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0}; !reflect.DeepEqual(got[0], want) {
		t.Fatalf("log after restart %v, want %v", got[0], want)
	}
	if s.Manager().Stats().Reconnects < 1 {
		t.Fatal("no reconnect counted")
	}
}

func TestClientGoServer(t *testing.T) {
	clScenarios(t, goPeer(t))
}

func TestClientBufferFullAndVolatile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	cfg := clConfig(nil)
	cfg.MaxBuffered = 3
	m, err := NewManager(dead, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := m.Socket("/", nil)
	for i := range 3 {
		if err := s.Emit("x", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Emit("x", 4); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("err = %v", err)
	}
	if err := s.EmitVolatile("x", 5); err != nil || s.Buffered() != 3 {
		t.Fatalf("volatile: %v, buffered %d", err, s.Buffered())
	}
}

func TestClientSeveralURLsAndGiveUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	live, _ := goServerOn(t, "127.0.0.1:0", false)
	cfg := clConfig(nil)
	cfg.URLs = []string{live}
	m, err := NewManager(dead, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Socket("/", nil).Connect(clCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.FailedAttempts < 1 {
		t.Fatalf("the dead address was not tried first: %+v", st)
	}

	// A socket waiting in Connect hears of each failed attempt.
	cfg = clConfig(nil)
	cfg.ReconnectAttempts = 3
	m1, err := NewManager(dead, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	errs := make(chan error, 8)
	s1 := m1.Socket("/", nil)
	s1.OnConnectError(func(err error) {
		select {
		case errs <- err:
		default:
		}
	})
	go s1.Connect(clCtx(t))
	if e := clWait(t, errs, "an attempt's error"); e == nil {
		t.Fatal("nil error")
	}

	cfg = clConfig(nil)
	cfg.ReconnectAttempts = 2
	m2, err := NewManager(dead, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := m2.Socket("/", nil).Connect(clCtx(t)); !errors.Is(err, ErrReconnectFailed) {
		t.Fatalf("err = %v", err)
	}
	// A socket asked for after the Manager gave up fails at once.
	if err := m2.Socket("/late", nil).Connect(clCtx(t)); !errors.Is(err, ErrReconnectFailed) {
		t.Fatalf("late socket: %v", err)
	}
	m2.Close()
	if err := m2.Socket("/", nil).Emit("x"); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("emit after close: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 100 * time.Millisecond}, {1, 200 * time.Millisecond}, {3, 800 * time.Millisecond}, {10, time.Second}, {100, time.Second}} {
		if got := Backoff(tc.n, 100*time.Millisecond, time.Second, 0); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	for range 100 {
		if d := Backoff(1, 100*time.Millisecond, time.Second, 0.5); d < 100*time.Millisecond || d > 300*time.Millisecond {
			t.Fatalf("jittered delay %v out of range", d)
		}
	}
}

func TestClientConfigInvalid(t *testing.T) {
	for _, cfg := range []*ClientConfig{{MaxBuffered: -1}, {RandomizationFactor: 2}, {ReconnectAttempts: -1}} {
		if _, err := NewManager("http://127.0.0.1:1", cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// TestClientConfigKeepsFields sets every field of ClientConfig and checks
// that withDefaults keeps it, so that a new field cannot be dropped.
func TestClientConfigKeepsFields(t *testing.T) {
	var cfg ClientConfig
	v := reflect.ValueOf(&cfg).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("/x/")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(3)
		case reflect.Float64:
			f.SetFloat(0.25)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"http://127.0.0.1:1"}))
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		default:
			t.Fatalf("field %s: kind %s not covered", v.Type().Field(i).Name, f.Kind())
		}
	}
	d, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	dv := reflect.ValueOf(d)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if name == "Engine" || name == "Logger" {
			continue // copied (Engine) or used as is
		}
		if !reflect.DeepEqual(dv.Field(i).Interface(), v.Field(i).Interface()) {
			t.Errorf("%s: %v became %v", name, v.Field(i), dv.Field(i))
		}
	}
	if d.Engine == cfg.Engine || d.Engine.Path != "/x/" || cfg.Engine.Path != "" {
		t.Error("Engine not copied, or the caller's modified")
	}
}
