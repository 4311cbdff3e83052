package hub_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/socketio"
)

func TestGuardCheck(t *testing.T) {
	errNo := errors.New("not today")
	pfx := func(s string) []netip.Prefix {
		p, err := hub.ParsePrefixes(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		cfg    hub.ProtectConfig
		remote string
		ok     bool
	}{
		{"default admits", hub.ProtectConfig{}, "192.0.2.1:5000", true},
		{"allowed", hub.ProtectConfig{Allow: pfx("127.0.0.0/8")}, "127.0.0.1:5000", true},
		{"not allowed", hub.ProtectConfig{Allow: pfx("127.0.0.0/8")}, "192.0.2.1:5000", false},
		{"denied", hub.ProtectConfig{Deny: pfx("192.0.2.0/24")}, "192.0.2.7:5000", false},
		{"deny wins", hub.ProtectConfig{Allow: pfx("0.0.0.0/0"), Deny: pfx("192.0.2.7")}, "192.0.2.7:5000", false},
		{"mapped v4", hub.ProtectConfig{Deny: pfx("192.0.2.0/24")}, "[::ffff:192.0.2.7]:5000", false},
		{"v6 allowed", hub.ProtectConfig{Allow: pfx("::1/128, 127.0.0.0/8")}, "[::1]:5000", true},
		{"admit port", hub.ProtectConfig{Admit: func(door string, r netip.AddrPort) error {
			if door == "socket.io" && r.Port() < 1024 {
				return errNo
			}
			return nil
		}}, "127.0.0.1:80", false},
		{"admit other port", hub.ProtectConfig{Admit: func(string, netip.AddrPort) error { return nil }}, "127.0.0.1:8000", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := hub.NewGuard(&tc.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = g.Check("socket.io", netip.MustParseAddrPort(tc.remote))
			if got := err == nil; got != tc.ok {
				t.Fatalf("Check(%s) = %v, want ok=%v", tc.remote, err, tc.ok)
			}
			if err != nil && !errors.Is(err, hub.ErrRefused) {
				t.Errorf("error %v does not match ErrRefused", err)
			}
			if tc.name == "admit port" && !errors.Is(err, errNo) {
				t.Errorf("error %v does not wrap the callback's", err)
			}
		})
	}
	if _, err := hub.ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Error("ParsePrefixes accepted /33")
	}
}

func TestGuardHoldAndToken(t *testing.T) {
	var buf lockedBuffer
	g, err := hub.NewGuard(&hub.ProtectConfig{MaxConnsPerAddr: 2, Token: "t0k", LimitLoopback: true}, slog.New(slog.NewJSONHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort("127.0.0.1:1000")
	b := netip.MustParseAddrPort("127.0.0.1:1001")
	other := netip.MustParseAddrPort("127.0.0.2:1000")
	for _, ap := range []netip.AddrPort{a, b, other} {
		if err := g.Hold("irc", ap); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Hold("irc", a); !errors.Is(err, hub.ErrRefused) {
		t.Fatalf("third Hold from one IP: %v, want ErrRefused", err)
	}
	if err := g.Hold("zmq", a); err != nil {
		t.Fatalf("other door: %v", err)
	}
	g.Release("irc", b)
	loose, err := hub.NewGuard(&hub.ProtectConfig{MaxConnsPerAddr: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := loose.Hold("irc", a); err != nil {
			t.Fatalf("loopback bounded without LimitLoopback: %v", err)
		}
	}
	if err := loose.Hold("irc", netip.MustParseAddrPort("[2001:db8::1]:5")); err != nil {
		t.Fatal(err)
	}
	if err := loose.Hold("irc", netip.MustParseAddrPort("[2001:db8::1]:6")); !errors.Is(err, hub.ErrRefused) {
		t.Fatalf("second from a non-loopback address: %v", err)
	}
	if err := g.Hold("irc", a); err != nil {
		t.Fatalf("after Release: %v", err)
	}
	if err := g.CheckToken("irc", a, "t0k"); err != nil {
		t.Error(err)
	}
	if err := g.CheckToken("irc", a, "nope"); !errors.Is(err, hub.ErrAuth) {
		t.Errorf("wrong token: %v", err)
	}
	admit := g.EndpointAdmit("irc")
	if err := admit(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6667}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 4}); err != nil {
		t.Error(err)
	}
	if err := admit(&net.UnixAddr{Name: "/x", Net: "unix"}, &net.UnixAddr{Net: "unix"}); err != nil {
		t.Error(err)
	}
	out := buf.String()
	for _, want := range []string{`"msg":"refuse"`, `"msg":"auth failure"`, `"msg":"accept"`, `"audit":true`, `"door":"irc"`} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %s:\n%s", want, out)
		}
	}
}

// dialSIO opens a raw Socket.IO connection and sends CONNECT with auth;
// it returns the connection and the server's answer to CONNECT.
func dialSIO(ctx context.Context, base, auth string) (*websocket.Conn, string, error) {
	return dialSIOWith(ctx, base, auth, nil)
}

func dialSIOWith(ctx context.Context, base, auth string, opts *websocket.DialOptions) (*websocket.Conn, string, error) {
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", opts)
	if err != nil {
		return nil, "", err
	}
	if _, _, err := c.Read(ctx); err != nil {
		c.CloseNow()
		return nil, "", err
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("40"+auth)); err != nil {
		c.CloseNow()
		return nil, "", err
	}
	_, m, err := c.Read(ctx)
	if err != nil {
		c.CloseNow()
		return nil, "", err
	}
	return c, string(m), nil
}

// Admission refuses by remote network before any byte is read, and a
// refused browser or client never reaches the hub.
func TestAdmission(t *testing.T) {
	var buf lockedBuffer
	for _, tc := range []struct {
		name string
		cfg  hub.ProtectConfig
		ok   bool
	}{
		{"deny loopback", hub.ProtectConfig{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, false},
		{"allow elsewhere", hub.ProtectConfig{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, false},
		{"callback", hub.ProtectConfig{Admit: func(door string, r netip.AddrPort) error {
			if door != "http" && door != "socket.io" {
				return fmt.Errorf("door %q", door)
			}
			if !r.Addr().IsLoopback() || r.Port() == 0 {
				return fmt.Errorf("remote %v", r)
			}
			return errors.New("closed for maintenance")
		}}, false},
		{"allow loopback", hub.ProtectConfig{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, &hub.ServerConfig{Protect: &tc.cfg, Audit: slog.New(slog.NewJSONHandler(&buf, nil))})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, ack, err := dialSIO(ctx, ts.url, "")
			if c != nil {
				defer c.CloseNow()
			}
			if got := err == nil && strings.HasPrefix(ack, "40"); got != tc.ok {
				t.Fatalf("connect: %v %q, want ok=%v", err, ack, tc.ok)
			}
			if tc.ok {
				// socketio acks CONNECT before the connection handlers
				// run, so the hub may attach the client a moment later.
				waitFor(t, "the hub to attach the client", func() bool { return ts.srv.Hub().Stats().Conns == 1 })
			} else if st := ts.srv.Hub().Stats(); st.Conns != 0 {
				t.Errorf("hub conns = %d, want 0", st.Conns)
			}
		})
	}
	if !strings.Contains(buf.String(), `"msg":"refuse","audit":true,"door":"http"`) {
		t.Errorf("no refuse audit record:\n%s", buf.String())
	}
}

// Connections per address are bounded per door; a slot frees when its
// connection goes.
func TestMaxConnsPerAddr(t *testing.T) {
	ts := startServer(t, &hub.ServerConfig{Protect: &hub.ProtectConfig{MaxConnsPerAddr: 2, LimitLoopback: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var open []*websocket.Conn
	defer func() {
		for _, c := range open {
			c.CloseNow()
		}
	}()
	for i := range 2 {
		c, ack, err := dialSIO(ctx, ts.url, "")
		if err != nil || !strings.HasPrefix(ack, "40") {
			t.Fatalf("client %d: %v %q", i, err, ack)
		}
		open = append(open, c)
	}
	third, _, err := dialSIO(ctx, ts.url, "")
	if err == nil {
		// Admitted by the engine, then disconnected by the door.
		for {
			_, m, err := third.Read(ctx)
			if err != nil || strings.HasPrefix(string(m), "41") {
				break
			}
		}
		third.CloseNow()
	}
	waitFor(t, "the third connection refused", func() bool { return ts.srv.Hub().Stats().Conns == 2 })
	open[0].Close(websocket.StatusNormalClosure, "")
	open = open[1:]
	waitFor(t, "the first connection gone", func() bool { return ts.srv.Hub().Stats().Conns == 1 })
	c, ack, err := dialSIO(ctx, ts.url, "")
	if err != nil || !strings.HasPrefix(ack, "40") {
		t.Fatalf("after a slot freed: %v %q", err, ack)
	}
	open = append(open, c)
}

// With a token, Socket.IO clients must send it in their auth payload.
func TestToken(t *testing.T) {
	var buf lockedBuffer
	ts := startServer(t, &hub.ServerConfig{Protect: &hub.ProtectConfig{Token: "s3cret"}, Audit: slog.New(slog.NewTextHandler(&buf, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		auth, want string
	}{
		{"", "44"},
		{`{"token":"guess"}`, "44"},
		{`{"token":"s3cret"}`, "40"},
	} {
		c, ack, err := dialSIO(ctx, ts.url, tc.auth)
		if err != nil {
			t.Fatal(err)
		}
		c.CloseNow()
		if !strings.HasPrefix(ack, tc.want) {
			t.Errorf("auth %s: %q, want %s", tc.auth, ack, tc.want)
		}
	}
	if !strings.Contains(buf.String(), `msg="auth failure" audit=true door=socket.io`) {
		t.Errorf("no auth failure audit:\n%s", buf.String())
	}
}

// A message over the payload limit closes the sender's connection.
func TestPayloadLimit(t *testing.T) {
	ts := startServer(t, &hub.ServerConfig{SocketIO: &socketio.Config{Engine: &engineio.Config{MaxPayload: 4096}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := rawClient(t, ctx, ts.url, "big")
	defer c.CloseNow()
	_ = c.Write(ctx, websocket.MessageText, []byte(`42["say",{"room":"lobby","text":"`+strings.Repeat("x", 8000)+`"}]`))
	for {
		if _, _, err := c.Read(ctx); err != nil {
			break
		}
	}
	waitFor(t, "the sender dropped", func() bool { return ts.srv.Hub().Stats().Conns == 0 })
}

// On shutdown every client receives everything queued for it, then a
// "shutdown" event, then the close; nothing is lost.
func TestShutdownDrain(t *testing.T) {
	ts := startServer(t, &hub.ServerConfig{Hub: &hub.Config{Rate: 1e6, Burst: 1e6}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reader := rawClient(t, ctx, ts.url, "reader")
	defer reader.CloseNow()
	writer := rawClient(t, ctx, ts.url, "writer")
	defer writer.CloseNow()
	const n = 300
	for i := range n {
		say(t, ctx, writer, 10+i, fmt.Sprintf("m%d", i))
	}
	// Every say is acked: its event is in reader's queue. Shut down now,
	// before reader reads anything.
	ts.stop()
	got, shutdown := 0, false
	for {
		_, m, err := reader.Read(ctx)
		if err != nil {
			break
		}
		s := string(m)
		switch {
		case strings.HasPrefix(s, `42["said"`):
			if !strings.Contains(s, fmt.Sprintf(`"text":"m%d"`, got)) {
				t.Fatalf("said #%d out of order: %s", got, s)
			}
			got++
		case strings.HasPrefix(s, `42["shutdown",{"reason":"server shutting down"}]`):
			if got != n {
				t.Errorf("shutdown after %d of %d messages", got, n)
			}
			shutdown = true
		}
	}
	if got != n || !shutdown {
		t.Fatalf("received %d of %d messages, shutdown event %v", got, n, shutdown)
	}
}
