//go:build linux

package endpoint

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/nettest"
	"golang.org/x/sys/unix"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pair listens on spec, dials the listener's endpoint (with dialQuery
// appended) and returns both ends.
func pair(t testing.TB, spec, dialQuery string, cfg *Config) (l *Listener, server, client *Conn) {
	t.Helper()
	ctx := testCtx(t)
	l, err := Listen(ctx, spec, cfg)
	if err != nil {
		t.Fatalf("Listen(%s): %v", spec, err)
	}
	t.Cleanup(func() { l.Close() })
	ep := l.Endpoint()
	ep.Options = Options{}
	ds := ep.String()
	if dialQuery != "" {
		ds += "?" + dialQuery
	}
	type res struct {
		c   *Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := l.AcceptConn(); ch <- res{c, err} }()
	client, err = Dial(ctx, ds, cfg)
	if err != nil {
		l.Close()
		<-ch
		t.Fatalf("Dial(%s): %v", ds, err)
	}
	t.Cleanup(func() { client.Close() })
	r := <-ch
	if r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return l, r.c, client
}

func echoCheck(t *testing.T, a, b net.Conn) {
	t.Helper()
	msg := []byte("hello, switchboard")
	errc := make(chan error, 1)
	go func() { _, err := a.Write(msg); errc <- err }()
	got := make([]byte, len(msg))
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(b, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %q", got)
	}
}

func TestStreamTransports(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "srv")
	tests := []struct {
		name, spec, dialQuery string
		proto                 string
	}{
		{"tcp4", "tcp://127.0.0.1:0", "", TCP},
		{"tcp-default-loopback", "tcp://:0", "", TCP},
		{"tcp6", "tcp://[::1]:0", "", TCP},
		{"unix", "unix://" + filepath.Join(dir, "s.sock"), "", Unix},
		{"abstract", "unix://@switchboard-test-" + strconv.Itoa(os.Getpid()), "", Unix},
		{"ipc", "ipc://" + filepath.Join(dir, "z.ipc"), "", Unix},
		{"inproc", "inproc://test", "", Unix},
		{"tls-selfsigned", "tls://127.0.0.1:0?selfsigned=1", "selfsigned=1", WrapTLS},
		{"tls-files", "tls://127.0.0.1:0?cert=" + cert + "&key=" + key, "ca=" + cert + "&servername=localhost", WrapTLS},
		{"tls-unix", "tls+unix://" + filepath.Join(dir, "t.sock") + "?selfsigned=1", "selfsigned=1", WrapTLS},
		{"ws", "ws://127.0.0.1:0/chat", "", WrapWS},
		{"wss", "wss://127.0.0.1:0/chat?selfsigned=1", "selfsigned=1", WrapWSS},
		{"ws-unix", "ws+unix://" + filepath.Join(dir, "w.sock") + "?path=/x", "", WrapWS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, c := pair(t, tt.spec, tt.dialQuery, nil)
			echoCheck(t, c, s)
			echoCheck(t, s, c)
			if c.Proto() != tt.proto || s.Proto() != tt.proto {
				t.Errorf("proto: client %s server %s, want %s", c.Proto(), s.Proto(), tt.proto)
			}
			if s.AcceptedBy() == "" || c.AcceptedBy() != "" {
				t.Errorf("AcceptedBy: server %q client %q", s.AcceptedBy(), c.AcceptedBy())
			}
			local, remote := c.Local(), c.Remote()
			// Close both ends at once: a WebSocket close waits for the
			// peer's close frame.
			done := make(chan struct{})
			go func() { s.Close(); close(done) }()
			c.Close()
			<-done
			if c.Local() != local || c.Remote() != remote || remote == "" {
				t.Errorf("addresses after close: %q %q", c.Local(), c.Remote())
			}
			st := c.Stats()
			if st.MsgsOut != 1 || st.BytesOut != 18 || st.MsgsIn == 0 || st.BytesIn != 18 {
				t.Errorf("client stats %+v", st)
			}
			if strings.HasPrefix(tt.spec, "tcp") || tt.proto == WrapTLS && strings.HasPrefix(tt.spec, "tls://") {
				ti, err := c.TCPInfo()
				if err != nil || ti.SegsOut == 0 || ti.BytesReceived == 0 {
					t.Errorf("TCPInfo after close: %+v %v", ti, err)
				}
			}
		})
	}
}

func TestAcceptedByWildcard(t *testing.T) {
	ctx := testCtx(t)
	l, err := Listen(ctx, "tcp://0.0.0.0:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Local())
	ch := make(chan *Conn, 1)
	go func() { c, _ := l.AcceptConn(); ch <- c }()
	c, err := Dial(ctx, "tcp://127.0.0.1:"+port, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-ch
	defer s.Close()
	if !strings.HasPrefix(s.AcceptedBy(), "0.0.0.0:") || !strings.HasPrefix(s.Local(), "127.0.0.1:") {
		t.Fatalf("AcceptedBy %q Local %q", s.AcceptedBy(), s.Local())
	}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	scert, skey := writeCert(t, dir, "srv")
	ccert, ckey := writeCert(t, dir, "cli")
	spec := "tls://127.0.0.1:0?cert=" + scert + "&key=" + skey + "&ca=" + ccert
	_, s, c := pair(t, spec, "ca="+scert+"&cert="+ccert+"&key="+ckey, nil)
	echoCheck(t, c, s)

	// Without a client certificate the server refuses.
	ctx := testCtx(t)
	l, err := Listen(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		sc, err := l.AcceptConn()
		if err != nil {
			done <- err
			return
		}
		defer sc.Close()
		sc.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = sc.Read(make([]byte, 1))
		done <- err
	}()
	ep := l.Endpoint()
	ep.Options = Options{}
	cc, err := Dial(ctx, ep.String()+"?ca="+scert, nil)
	if err == nil {
		cc.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = cc.Read(make([]byte, 1))
		cc.Close()
	}
	if err == nil {
		t.Fatal("client without certificate was accepted")
	}
	if serr := <-done; serr == nil {
		t.Fatal("server read succeeded without client certificate")
	}
}

func writeCert(t testing.TB, dir, name string) (cert, key string) {
	t.Helper()
	c, k, err := SelfSigned(time.Now(), "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cert, c, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, k, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestNetConn(t *testing.T) {
	for _, spec := range []string{"tcp://127.0.0.1:0", "unix://@switchboard-nettest-" + strconv.Itoa(os.Getpid())} {
		// Not TLS: crypto/tls makes a timed-out Write permanent, which
		// nettest's timeout tests reject by design. Not ws: a timed-out
		// WebSocket read closes the connection (coder/websocket).

		t.Run(strings.SplitN(spec, ":", 2)[0], func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				l, err := Listen(ctx, spec, nil)
				if err != nil {
					return nil, nil, nil, err
				}
				defer l.Close()
				ch := make(chan net.Conn, 1)
				go func() { c, _ := l.Accept(); ch <- c }()
				ep := l.Endpoint()
				q := ""
				if ep.Wrap == WrapTLS {
					q = "?selfsigned=1"
				}
				ep.Options = Options{}
				c1, err = Dial(ctx, ep.String()+q, nil)
				if err != nil {
					l.Close()
					<-ch
					return nil, nil, nil, err
				}
				c2 = <-ch
				if c2 == nil {
					c1.Close()
					return nil, nil, nil, errors.New("accept failed")
				}
				return c1, c2, func() { c1.Close(); c2.Close() }, nil
			})
		})
	}
}

func TestUDP(t *testing.T) {
	ctx := testCtx(t)
	pc, err := ListenPacket(ctx, "udp://127.0.0.1:0?timestamp=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := Dial(ctx, "udp://"+pc.Local(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := time.Now()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, from, ts, err := pc.ReadMsg(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("ReadMsg: %q %v", buf[:n], err)
	}
	if ts.IsZero() || ts.Before(before.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("timestamp %v (sent at %v)", ts, before)
	}
	if _, err := pc.WriteTo([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err = c.Read(buf)
	if err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("Read: %q %v", buf[:n], err)
	}
	if st := pc.Stats(); st.MsgsIn != 1 || st.MsgsOut != 1 || st.BytesIn != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestUnixgram(t *testing.T) {
	ctx := testCtx(t)
	path := filepath.Join(t.TempDir(), "d.sock")
	pc, err := ListenPacket(ctx, "unixgram://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := Dial(ctx, "unixgram://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("dgram")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "dgram" {
		t.Fatalf("%q %v", buf[:n], err)
	}
}

func TestWrongKind(t *testing.T) {
	ctx := testCtx(t)
	if _, err := Listen(ctx, "udp://127.0.0.1:0", nil); !errors.Is(err, ErrWrongKind) {
		t.Errorf("Listen udp: %v", err)
	}
	if _, err := ListenPacket(ctx, "tcp://127.0.0.1:0", nil); !errors.Is(err, ErrWrongKind) {
		t.Errorf("ListenPacket tcp: %v", err)
	}
	if _, err := Listen(ctx, "tcp://127.0.0.1:0?source=127.0.0.1:0", nil); !errors.Is(err, ErrDialOnly) {
		t.Errorf("source on listen: %v", err)
	}
	if _, err := Dial(ctx, "tcp://127.0.0.1:1?backlog=5", nil); !errors.Is(err, ErrListenOnly) {
		t.Errorf("backlog on dial: %v", err)
	}
	// Typed config options are checked too.
	cfg := &Config{Options: Options{Timestamp: true}}
	var oe *OptionError
	if _, err := Listen(ctx, "tcp://127.0.0.1:0", cfg); !errors.As(err, &oe) || oe.Option != "timestamp" || oe.Proto != "tcp" {
		t.Errorf("typed timestamp on tcp: %v", err)
	}
	cfg = &Config{Options: Options{TOS: 300}}
	if _, err := Listen(ctx, "tcp://127.0.0.1:0", cfg); !errors.As(err, &oe) || oe.Option != "tos" {
		t.Errorf("typed tos=300: %v", err)
	}
	// The query overrides the typed config.
	cfg = &Config{Options: Options{TOS: 0x10, NoDelay: true}}
	l, err := Listen(ctx, "tcp://127.0.0.1:0?tos=0x20", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := getInt(t, l, unix.IPPROTO_IP, unix.IP_TOS); got != 0x20 {
		t.Errorf("IP_TOS = %#x, want the query's 0x20", got)
	}
	l.Close()
	if _, err := Listen(ctx, "tls://127.0.0.1:0", nil); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("tls without cert: %v", err)
	}
}

// TestVsockDialError: this machine has either no vsock transport at all
// or no local loopback transport (CID 1); either way the dial fails with
// ErrNoVsock and says why, within the ctx.
func TestVsockDialError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	c, err := Dial(ctx, "vsock://1:"+strconv.Itoa(40000+os.Getpid()%20000), nil)
	if err == nil {
		c.Close()
		t.Skip("local vsock works here (vsock_loopback loaded)")
	}
	if !errors.Is(err, ErrNoVsock) && !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("want ErrNoVsock (or a refusal from a loopback transport), got %v", err)
	}
	t.Logf("vsock dial: %v", err)
}

func TestFDNumber(t *testing.T) {
	ctx := testCtx(t)
	// Make a listening socket, hand its descriptor over as fd://N.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 8); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(ctx, "fd://"+strconv.Itoa(fd)+"?nodelay=1", nil)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	defer l.Close()
	ch := make(chan *Conn, 1)
	go func() { c, _ := l.AcceptConn(); ch <- c }()
	c, err := Dial(ctx, "tcp://"+l.Local(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-ch
	if s == nil {
		t.Fatal("accept failed")
	}
	defer s.Close()
	echoCheck(t, c, s)
	if s.Proto() != TCP {
		t.Errorf("proto %s", s.Proto())
	}
	// A datagram descriptor: Listen says ErrWrongKind and leaves it for
	// ListenPacket.
	ufd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(ufd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(ctx, "fd://"+strconv.Itoa(ufd), nil); !errors.Is(err, ErrWrongKind) {
		t.Fatalf("Listen on a datagram fd: %v", err)
	}
	pc, err := ListenPacket(ctx, "fd://"+strconv.Itoa(ufd)+"?timestamp=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if pc.Proto() != UDP {
		t.Errorf("inherited datagram proto %s", pc.Proto())
	}
	// A descriptor that is not open is a clear error.
	if _, err := Listen(ctx, "fd://1000", nil); err == nil || !strings.Contains(err.Error(), "not open") {
		t.Errorf("fd://1000: %v", err)
	}
}

// getInt reads an integer socket option.
func getInt(t *testing.T, sc syscall.Conn, level, opt int) int {
	t.Helper()
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) })
	if gerr != nil {
		t.Fatalf("getsockopt(%d,%d): %v", level, opt, gerr)
	}
	return v
}

func TestSocketOptionsReadBack(t *testing.T) {
	type check struct {
		name       string
		level, opt int
		want       int
		atLeast    bool
	}
	tests := []struct {
		name   string
		spec   string // listen spec
		dialQ  string // dial query, for side "dial"/"accepted"
		side   string // "listen", "dial", "accepted", "packet"
		checks []check
	}{
		{"tcp-defaults", "tcp://127.0.0.1:0", "", "dial", []check{
			{"TCP_NODELAY off", unix.IPPROTO_TCP, unix.TCP_NODELAY, 0, false},
			{"SO_KEEPALIVE off", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0, false},
			{"plain TCP, not MPTCP", unix.SOL_SOCKET, unix.SO_PROTOCOL, unix.IPPROTO_TCP, false},
		}},
		{"tcp-listen-default-plain", "tcp://127.0.0.1:0", "", "listen", []check{
			{"plain TCP", unix.SOL_SOCKET, unix.SO_PROTOCOL, unix.IPPROTO_TCP, false},
		}},
		{"dial-nodelay-keepalive", "tcp://127.0.0.1:0", "nodelay=1&keepalive=30s&keepintvl=5s&keepcnt=3", "dial", []check{
			{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1, false},
			{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1, false},
			{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 30, false},
			{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 5, false},
			{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 3, false},
		}},
		{"accepted-nodelay-keepalive", "tcp://127.0.0.1:0?nodelay=1&keepalive=40&keepintvl=7&keepcnt=4", "", "accepted", []check{
			{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1, false},
			{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 40, false},
			{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 7, false},
			{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 4, false},
		}},
		{"listen-ip-options", "tcp://127.0.0.1:0?tos=0x10&ttl=9&reuseport=1&freebind=1&mark=7&sndbuf=65536&rcvbuf=131072&deferaccept=5s", "", "listen", []check{
			{"IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, 0x10, false},
			{"IP_TTL", unix.IPPROTO_IP, unix.IP_TTL, 9, false},
			{"SO_REUSEPORT", unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, false},
			{"IP_FREEBIND", unix.IPPROTO_IP, unix.IP_FREEBIND, 1, false},
			{"SO_MARK", unix.SOL_SOCKET, unix.SO_MARK, 7, false},
			{"SO_SNDBUF (doubled by the kernel)", unix.SOL_SOCKET, unix.SO_SNDBUF, 65536, true},
			{"SO_RCVBUF (doubled by the kernel)", unix.SOL_SOCKET, unix.SO_RCVBUF, 131072, true},
			{"TCP_DEFER_ACCEPT (rounded up to retransmits)", unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 5, true},
		}},
		{"dial-ip-options", "tcp://127.0.0.1:0", "tos=0x20&ttl=17&mark=9", "dial", []check{
			{"IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, 0x20, false},
			{"IP_TTL", unix.IPPROTO_IP, unix.IP_TTL, 17, false},
			{"SO_MARK", unix.SOL_SOCKET, unix.SO_MARK, 9, false},
		}},
		{"ipv6-tclass-hops-v6only", "tcp://[::1]:0?tos=0x28&ttl=33&v6only=1", "", "listen", []check{
			{"IPV6_TCLASS", unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 0x28, false},
			{"IPV6_UNICAST_HOPS", unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 33, false},
			{"IPV6_V6ONLY", unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1, false},
		}},
		{"ipv6-v6only-off", "tcp://[::]:0?v6only=0", "", "listen", []check{
			{"IPV6_V6ONLY", unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0, false},
		}},
		{"ipv6-wildcard-dual-stack-by-default", "tcp://[::]:0", "", "listen", []check{
			{"IPV6_V6ONLY", unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0, false},
		}},
		{"ipv6-wildcard-v6only", "tcp://[::]:0?v6only=1", "", "listen", []check{
			{"IPV6_V6ONLY", unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1, false},
		}},
		{"udp-options", "udp://127.0.0.1:0?timestamp=1&tos=0x10&reuseport=1", "", "packet", []check{
			{"SO_TIMESTAMPNS", unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1, false},
			{"IP_TOS", unix.IPPROTO_IP, unix.IP_TOS, 0x10, false},
			{"SO_REUSEPORT", unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, false},
			{"IP_MTU_DISCOVER=DO", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO, false},
		}},
		{"udp-multicast-send", "udp://127.0.0.1:0", "mcastloop=0&mcastttl=3&iface=lo", "udpdial", []check{
			{"IP_MULTICAST_LOOP", unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0, false},
			{"IP_MULTICAST_TTL", unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, 3, false},
		}},
		{"unix-buffers", "unix://@switchboard-opt-" + strconv.Itoa(os.Getpid()) + "?sndbuf=32768&backlog=7", "", "listen", []check{
			{"SO_SNDBUF", unix.SOL_SOCKET, unix.SO_SNDBUF, 32768, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			var sc syscall.Conn
			switch tt.side {
			case "listen":
				l, err := Listen(ctx, tt.spec, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				sc = l
			case "dial":
				_, _, c := pair(t, tt.spec, tt.dialQ, nil)
				sc = c
			case "accepted":
				_, s, _ := pair(t, tt.spec, tt.dialQ, nil)
				sc = s
			case "packet":
				pc, err := ListenPacket(ctx, tt.spec, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				sc = pc
			case "udpdial":
				c, err := Dial(ctx, "udp://239.9.9.9:9?"+tt.dialQ, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				sc = c
			}
			for _, ck := range tt.checks {
				got := getInt(t, sc, ck.level, ck.opt)
				if got != ck.want && !(ck.atLeast && got >= ck.want) {
					t.Errorf("%s = %d, want %d", ck.name, got, ck.want)
				}
			}
		})
	}
}

func TestBacklogReadBack(t *testing.T) {
	ctx := testCtx(t)
	l, err := Listen(ctx, "tcp://127.0.0.1:0?backlog=17", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rc, _ := l.SyscallConn()
	ti, err := tcpInfo(rc)
	if err != nil || ti.Backlog != 17 || ti.State != "LISTEN" {
		t.Fatalf("listen TCP_INFO: %+v %v", ti, err)
	}
}

func TestBindToDeviceReadBack(t *testing.T) {
	ctx := testCtx(t)
	l, err := Listen(ctx, "tcp://127.0.0.1:0?bindtodevice=lo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := getDevice(t, l); got != "lo" {
		t.Fatalf("SO_BINDTODEVICE = %q", got)
	}
	// An empty name removes a binding: here on an inherited socket.
	rc, _ := l.SyscallConn()
	var dupfd int
	rc.Control(func(fd uintptr) { dupfd, _ = unix.Dup(int(fd)) })
	l2, err := Listen(ctx, "fd://"+strconv.Itoa(dupfd)+"?bindtodevice=", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if got := getDevice(t, l2); got != "" {
		t.Fatalf("SO_BINDTODEVICE after unbinding = %q", got)
	}
}

func getDevice(t *testing.T, sc syscall.Conn) string {
	t.Helper()
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var s string
	var gerr error
	rc.Control(func(fd uintptr) { s, gerr = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return s
}

func TestMPTCPOption(t *testing.T) {
	ctx := testCtx(t)
	l, err := Listen(ctx, "tcp://127.0.0.1:0?mptcp=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := getInt(t, l, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if got != unix.IPPROTO_MPTCP {
		t.Skipf("kernel has no MPTCP (protocol %d; Go fell back to TCP)", got)
	}
}

func TestCloseUnblocks(t *testing.T) {
	ctx := testCtx(t)
	l, err := Listen(ctx, "vsock://:"+strconv.Itoa(40000+os.Getpid()%20000), nil)
	if err != nil {
		t.Skipf("vsock listen: %v", err)
	}
	errc := make(chan error, 1)
	go func() { _, err := l.Accept(); errc <- err }()
	pc, err := ListenPacket(ctx, "netlink://kobject-uevent", nil)
	if err != nil {
		t.Fatal(err)
	}
	perrc := make(chan error, 1)
	go func() { _, _, err := pc.ReadFrom(make([]byte, 8192)); perrc <- err }()
	l.Close()
	pc.Close()
	for _, ch := range []chan error{errc, perrc} {
		select {
		case err := <-ch:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("after Close: %v, want net.ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not unblock")
		}
	}
}

func TestMulticastLoopback(t *testing.T) {
	ctx := testCtx(t)
	for _, group := range []string{"239.8.8.8", "[ff02::114]"} {
		t.Run(group, func(t *testing.T) {
			pc, err := ListenPacket(ctx, "udp://"+group+":0?iface=lo", nil)
			if err != nil {
				t.Skipf("multicast on lo: %v", err)
			}
			defer pc.Close()
			_, port, _ := net.SplitHostPort(pc.Local())
			c, err := Dial(ctx, "udp://"+group+":"+port+"?iface=lo&mcastloop=1", nil)
			if errors.Is(err, unix.ENETUNREACH) {
				t.Skipf("no multicast route for %s on lo here: %v", group, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("to the group")); err != nil {
				t.Skipf("send to %s on lo: %v", group, err)
			}
			got, ok := recvWithin(pc, 2*time.Second)
			if !ok {
				t.Skipf("lo does not deliver multicast to %s here", group)
			}
			if got != "to the group" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestAdmitAndMaxConns(t *testing.T) {
	ctx := testCtx(t)
	cfg := &Config{MaxConns: 1, Admit: func(local, remote net.Addr) error {
		if remote.(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 2)) {
			return errors.New("127.0.0.2 refused")
		}
		return nil
	}}
	l, err := Listen(ctx, "tcp://127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan *Conn, 4)
	go func() {
		for {
			c, err := l.AcceptConn()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func(from string) net.Conn {
		t.Helper()
		c, err := Dial(ctx, "tcp://"+l.Local()+"?source="+from+":0", nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	eofWithin := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return errors.Is(err, io.EOF)
	}
	refusedIP := dial("127.0.0.2")
	defer refusedIP.Close()
	if !eofWithin(refusedIP) {
		t.Fatal("127.0.0.2 was not refused")
	}
	ok := dial("127.0.0.1")
	defer ok.Close()
	first := <-accepted
	second := dial("127.0.0.1")
	defer second.Close()
	if !eofWithin(second) {
		t.Fatal("connection above MaxConns was not refused")
	}
	if l.Refused() != 2 {
		t.Fatalf("Refused() = %d, want 2", l.Refused())
	}
	first.Close() // frees the slot
	third := dial("127.0.0.1")
	defer third.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("no slot after a close")
	}
	l.Close()
	for c := range accepted {
		c.Close()
	}
}

func TestWSConnOutlivesListener(t *testing.T) {
	l, s, c := pair(t, "ws://127.0.0.1:0/x", "", nil)
	l.Close()
	echoCheck(t, c, s)
	echoCheck(t, s, c)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	c.Close()
	<-done
}
