package zmq

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/endpoint"
)

// peerConns returns the sockets under s's established tcp/ipc/tls pipes.
func peerConns(s *Socket) []net.Conn {
	s.mu.Lock()
	pipes := append([]*pipe(nil), s.pipes...)
	s.mu.Unlock()
	var out []net.Conn
	for _, p := range pipes {
		p.mu.Lock()
		if p.conn != nil {
			out = append(out, p.conn.nc)
		}
		p.mu.Unlock()
	}
	return out
}

// onlyConn returns s's one established connection.
func onlyConn(t testing.TB, s *Socket) net.Conn {
	t.Helper()
	cs := peerConns(s)
	if len(cs) != 1 {
		t.Fatalf("%d connections, want 1", len(cs))
	}
	return cs[0]
}

// roundTrip sends one message each way over a PAIR couple, so both ends
// are attached when it returns.
func roundTrip(t testing.TB, a, b *Socket) {
	t.Helper()
	ctx := testCtx(t)
	mustSend(t, ctx, b, "ping")
	mustRecv(t, ctx, a, "ping")
	mustSend(t, ctx, a, "pong")
	mustRecv(t, ctx, b, "pong")
}

func TestEndpointOptionErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "e.sock")
	tests := []struct {
		name   string
		ep     string
		bind   bool
		cfg    *endpoint.Config
		option string // the option the *endpoint.OptionError names
		want   error  // what the error also matches
	}{
		{"unknown on bind", "tcp://127.0.0.1:*?bogus=1", true, nil, "bogus", endpoint.ErrUnknownOption},
		{"unknown on connect", "tcp://127.0.0.1:5555?bogus=1", false, nil, "bogus", endpoint.ErrUnknownOption},
		{"unknown on ipc", "ipc://" + sock + "?speed=9", true, nil, "speed", endpoint.ErrUnknownOption},
		{"nodelay on ipc", "ipc://" + sock + "?nodelay=1", false, nil, "nodelay", endpoint.ErrNotApplicable},
		{"bad value", "tcp://127.0.0.1:*?tos=300", true, nil, "tos", nil},
		{"backlog on connect", "tcp://127.0.0.1:5555?backlog=8", false, nil, "backlog", endpoint.ErrListenOnly},
		{"source on bind", "tcp://127.0.0.1:*?source=127.0.0.1:0", true, nil, "source", endpoint.ErrDialOnly},
		{"typed backlog on connect", "tcp://127.0.0.1:5555", false,
			&endpoint.Config{Options: endpoint.Options{Backlog: 8}}, "backlog", endpoint.ErrListenOnly},
		{"typed keepalive on ipc", "ipc://" + sock, true,
			&endpoint.Config{Options: endpoint.Options{KeepAlive: time.Minute}}, "keepalive", endpoint.ErrNotApplicable},
		{"source name", "tcp://localhost:0;127.0.0.1:5555", false, nil, "source", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSock(t, Pair, &Config{Endpoint: tt.cfg})
			var err error
			if tt.bind {
				err = s.Bind(tt.ep)
			} else {
				err = s.Connect(tt.ep)
			}
			if !errors.Is(err, ErrEndpoint) {
				t.Fatalf("err = %v, want ErrEndpoint", err)
			}
			var oe *endpoint.OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want an *endpoint.OptionError", err)
			}
			if oe.Option != tt.option {
				t.Fatalf("option = %q, want %q", oe.Option, tt.option)
			}
			if !strings.Contains(err.Error(), tt.option) {
				t.Fatalf("error %q does not name %q", err, tt.option)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if st := s.Stats(); len(st.Bound)+len(st.Connected) != 0 {
				t.Fatalf("a failed endpoint stayed: %+v", st)
			}
		})
	}
}

func TestEndpointSyntax(t *testing.T) {
	tests := []struct {
		ep   string
		bind bool
		ok   bool
	}{
		{"tcp://127.0.0.1:*?nodelay=0", true, true},
		{"tcp://127.0.0.1:*?tos=0x10&sndbuf=65536&rcvbuf=65536", true, true},
		{"tcp://127.0.0.1:5555?keepalive=30s&keepintvl=5s&keepcnt=3", false, true},
		{"tcp://127.0.0.1:0;127.0.0.1:5555", false, true},
		{"tcp://127.0.0.1;127.0.0.1:5555", false, true},
		{"tcp://*:*;127.0.0.1:5555", false, true},
		{"tcp://127.0.0.1:0;127.0.0.1:*", true, false},
		{"tcp://127.0.0.1:0;127.0.0.1:5555", true, false},
		{"tcp://127.0.0.1:x", true, false},
		{"tls://127.0.0.1:*?selfsigned=1", true, true},
		{"ipc://@sb-syntax?sndbuf=65536", false, true},
		{"ipc://", true, false},
		{"unix:///tmp/x", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.ep, func(t *testing.T) {
			s := newSock(t, Pair, &Config{ReconnectIvl: time.Hour})
			var err error
			if tt.bind {
				err = s.Bind(tt.ep)
			} else {
				err = s.Connect(tt.ep)
			}
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok && !errors.Is(err, ErrEndpoint) {
				t.Fatalf("want ErrEndpoint, got %v", err)
			}
		})
	}
}

// TestEndpointMonitorAddresses checks that monitor events and Stats carry
// the endpoints and the connection's two addresses, seen from both ends.
func TestEndpointMonitorAddresses(t *testing.T) {
	eps := map[string]string{
		"tcp":         "tcp://127.0.0.1:*",
		"tcp options": "tcp://127.0.0.1:*?nodelay=0&sndbuf=65536",
		"ipc":         "ipc://" + filepath.Join(t.TempDir(), "m.sock"),
		"ipc@":        fmt.Sprintf("ipc://@sb-monitor-%d", time.Now().UnixNano()),
		"tls":         "tls://127.0.0.1:*?selfsigned=1",
	}
	for name, ep := range eps {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			evA, evB := newEvents(), newEvents()
			a := newSock(t, Pair, &Config{Monitor: evA.add})
			b := newSock(t, Pair, &Config{Monitor: evB.add})
			if err := a.Bind(ep); err != nil {
				t.Fatal(err)
			}
			bound := a.LastEndpoint()
			scheme, _, _ := strings.Cut(ep, "://")
			if !strings.HasPrefix(bound, scheme+"://") || strings.Contains(bound, "?") || strings.Contains(bound, "*") {
				t.Fatalf("LastEndpoint = %q", bound)
			}
			target := bound
			if scheme == "tls" {
				target += "?selfsigned=1"
			}
			if err := b.Connect(target); err != nil {
				t.Fatal(err)
			}
			roundTrip(t, a, b)
			listening := evA.wait(t, ctx, func(e Event) bool { return e.Type == EventListening })
			accepted := evA.wait(t, ctx, func(e Event) bool { return e.Type == EventAccepted })
			connected := evB.wait(t, ctx, func(e Event) bool { return e.Type == EventConnected })
			okA := evA.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeSucceeded })
			okB := evB.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeSucceeded })
			if listening.Endpoint != bound || accepted.Endpoint != bound || okA.Endpoint != bound {
				t.Fatalf("bound %q; events say %q, %q, %q", bound, listening.Endpoint, accepted.Endpoint, okA.Endpoint)
			}
			if connected.Endpoint != target || okB.Endpoint != target {
				t.Fatalf("connected to %q; events say %q, %q", target, connected.Endpoint, okB.Endpoint)
			}
			if accepted.Local == "" || connected.Local == "" {
				t.Fatalf("empty addresses: %+v %+v", accepted, connected)
			}
			if scheme != "ipc" {
				// Unix sockets' dialling side has no name; TCP has both.
				if accepted.Remote != connected.Local || accepted.Local != connected.Remote {
					t.Fatalf("accepted %s<-%s, connected %s->%s", accepted.Local, accepted.Remote, connected.Local, connected.Remote)
				}
			} else if accepted.Local != connected.Remote {
				t.Fatalf("accepted on %s, connected to %s", accepted.Local, connected.Remote)
			}
			if okA.Local != accepted.Local || okA.Remote != accepted.Remote || okB.Local != connected.Local || okB.Remote != connected.Remote {
				t.Fatalf("handshake events disagree: %+v %+v", okA, okB)
			}
			sa, sb := a.Stats(), b.Stats()
			if len(sa.Conns) != 1 || len(sb.Conns) != 1 {
				t.Fatalf("stats: %+v / %+v", sa, sb)
			}
			if sa.Conns[0].Transport != scheme || sb.Conns[0].Transport != scheme {
				t.Fatalf("transports %q, %q, want %q", sa.Conns[0].Transport, sb.Conns[0].Transport, scheme)
			}
			if sa.Conns[0].Remote != accepted.Remote || sb.Conns[0].Local != connected.Local {
				t.Fatalf("stats addresses: %+v / %+v", sa.Conns[0], sb.Conns[0])
			}
		})
	}
}

// TestEndpointSourceAddress connects from 127.0.0.2 with libzmq's
// "src;dst" form and checks both ends see it.
func TestEndpointSourceAddress(t *testing.T) {
	for _, src := range []string{"127.0.0.2:0", "127.0.0.2", "127.0.0.2:*"} {
		t.Run(src, func(t *testing.T) {
			ctx := testCtx(t)
			evA, evB := newEvents(), newEvents()
			a := newSock(t, Pair, &Config{Monitor: evA.add})
			b := newSock(t, Pair, &Config{Monitor: evB.add})
			if err := a.Bind("tcp://127.0.0.1:*"); err != nil {
				t.Fatal(err)
			}
			ep := "tcp://" + src + ";" + strings.TrimPrefix(a.LastEndpoint(), "tcp://")
			if err := b.Connect(ep); err != nil {
				t.Fatal(err)
			}
			roundTrip(t, a, b)
			connected := evB.wait(t, ctx, func(e Event) bool { return e.Type == EventConnected })
			accepted := evA.wait(t, ctx, func(e Event) bool { return e.Type == EventAccepted })
			if connected.Endpoint != ep {
				t.Fatalf("event endpoint %q, want %q", connected.Endpoint, ep)
			}
			if !strings.HasPrefix(connected.Local, "127.0.0.2:") || !strings.HasPrefix(accepted.Remote, "127.0.0.2:") {
				t.Fatalf("dialled from %s, accepted from %s; want 127.0.0.2", connected.Local, accepted.Remote)
			}
			if err := b.Disconnect(ep); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEndpointWildcardHost binds every interface and reaches it over
// IPv4 loopback, as before the switch to the endpoint package.
func TestEndpointWildcardHost(t *testing.T) {
	a := newSock(t, Pair, nil)
	if err := a.Bind("tcp://*:*"); err != nil {
		t.Fatal(err)
	}
	bound := a.LastEndpoint()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(bound, "tcp://"))
	if err != nil || port == "0" {
		t.Fatalf("LastEndpoint = %q", bound)
	}
	b := newSock(t, Pair, nil)
	if err := b.Connect("tcp://127.0.0.1:" + port); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, a, b)
}

// TestEndpointUnbindAsGiven unbinds by the endpoint as given, options
// included, and by the resolved one.
func TestEndpointUnbindAsGiven(t *testing.T) {
	ipc := "ipc://" + filepath.Join(t.TempDir(), "u.sock") + "?sndbuf=65536"
	for _, ep := range []string{"tcp://127.0.0.1:*?nodelay=0", ipc} {
		s := newSock(t, Pair, nil)
		if err := s.Bind(ep); err != nil {
			t.Fatal(err)
		}
		given := ep
		if strings.Contains(ep, "*") {
			if err := s.Unbind(ep); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Unbind(%q) = %v, want ErrNotFound", ep, err)
			}
			given = s.LastEndpoint()
		}
		if err := s.Unbind(given); err != nil {
			t.Fatalf("Unbind(%q): %v", given, err)
		}
		if n := len(s.Stats().Bound); n != 0 {
			t.Fatalf("%d endpoints still bound", n)
		}
	}
}

// TestEndpointTLS runs PUSH/PULL over tls://, the extra transport the
// endpoint package brings (a self-signed certificate through the query),
// with 1 MiB frames, and checks an untrusting client never connects.
func TestEndpointTLS(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, Pull, nil)
	if err := pull.Bind("tls://127.0.0.1:*?selfsigned=1"); err != nil {
		t.Fatal(err)
	}
	push := newSock(t, Push, nil)
	if err := push.Connect(pull.LastEndpoint() + "?selfsigned=1"); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	for i := 0; i < 3; i++ {
		if err := push.Send(ctx, Msg{[]byte("x"), big}); err != nil {
			t.Fatal(err)
		}
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 2 || string(m[0]) != "x" || string(m[1]) != string(big) {
			t.Fatalf("message %d garbled (%d frames)", i, len(m))
		}
	}
	if _, ok := onlyConn(t, pull).(*endpoint.Conn); !ok {
		t.Fatalf("tls connection is %T, want *endpoint.Conn", onlyConn(t, pull))
	}
	// A client that does not trust the self-signed server never connects.
	ev := newEvents()
	bad := newSock(t, Push, &Config{Monitor: ev.add, ReconnectIvl: time.Hour})
	if err := bad.Connect(pull.LastEndpoint()); err != nil {
		t.Fatal(err)
	}
	e := ev.wait(t, ctx, func(e Event) bool { return e.Type == EventConnectRetried })
	if e.Err == nil {
		t.Fatal("untrusted server: no error")
	}
}

// TestEndpointIPCStaleFile binds over a socket file nobody listens on, but
// not over one a live socket holds.
func TestEndpointIPCStaleFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stale.sock")
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close() // leaves the file behind, as a crashed process would
	a := newSock(t, Pair, nil)
	if err := a.Bind("ipc://" + path); err != nil {
		t.Fatalf("bind over a stale file: %v", err)
	}
	b := newSock(t, Pair, nil)
	if err := b.Bind("ipc://" + path); err == nil {
		t.Fatal("a second Bind took over a live path")
	}
	c := newSock(t, Pair, nil)
	if err := c.Connect("ipc://" + path); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, a, c)
}

// TestEndpointAdmit refuses connections through Config.Endpoint.Admit:
// they are counted and reported as EventRefused with the Admit error.
func TestEndpointAdmit(t *testing.T) {
	ctx := testCtx(t)
	errNo := errors.New("not from 127.0.0.3")
	admit := func(local, remote net.Addr) error {
		if remote.(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 3)) {
			return nil
		}
		return errNo
	}
	ev := newEvents()
	a := newSock(t, Pair, &Config{Monitor: ev.add, Endpoint: &endpoint.Config{Admit: admit}})
	if err := a.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	dst := strings.TrimPrefix(a.LastEndpoint(), "tcp://")
	refused := newSock(t, Pair, &Config{ReconnectIvl: time.Hour})
	if err := refused.Connect("tcp://127.0.0.2;" + dst); err != nil {
		t.Fatal(err)
	}
	e := ev.wait(t, ctx, func(e Event) bool { return e.Type == EventRefused })
	if !errors.Is(e.Err, errNo) || e.Endpoint != a.LastEndpoint() || !strings.HasPrefix(e.Remote, "127.0.0.2:") {
		t.Fatalf("refused event %+v", e)
	}
	if n := a.Stats().Refused; n != 1 {
		t.Fatalf("Refused = %d, want 1", n)
	}
	ok := newSock(t, Pair, nil)
	if err := ok.Connect("tcp://127.0.0.3;" + dst); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, a, ok)
}

// FuzzParseEndpoint checks that any endpoint Bind or Connect accepts maps
// to an address the endpoint package reads back, without wildcards.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"tcp://127.0.0.1:*", "tcp://*:5555", "tcp://[::1]:5555?tos=16",
		"tcp://127.0.0.2:0;127.0.0.1:5555", "tcp://127.0.0.2;[::1]:1?nodelay=0", "ipc:///tmp/x.sock?sndbuf=4096",
		"ipc://@abs", "inproc://x", "tls://127.0.0.1:*?selfsigned=1", "tcp://a;b;c", "tcp://*:*;*:*"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, ep string, bind bool) {
		if len(ep) > 1024 {
			return
		}
		tg, err := parseEndpoint(ep, bind, nil)
		if err != nil {
			if !errors.Is(err, ErrEndpoint) {
				t.Fatalf("%q: error %v is not ErrEndpoint", ep, err)
			}
			return
		}
		if tg.scheme == "inproc" {
			return
		}
		e, err := endpoint.Parse(tg.spec)
		if err != nil {
			t.Fatalf("%q -> %q: %v", ep, tg.spec, err)
		}
		if host, _, _ := net.SplitHostPort(e.Address); host == "*" {
			t.Fatalf("%q -> %q keeps a wildcard", ep, tg.spec)
		}
		if e.Options.Source != "" && bind {
			t.Fatalf("%q: a bind with a source", ep)
		}
	})
}
