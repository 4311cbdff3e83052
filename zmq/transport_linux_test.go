//go:build linux

package zmq

import (
	"net"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/switchboard/switchboard/endpoint"
	"golang.org/x/sys/unix"
)

// sockopt reads an integer socket option of c.
func sockopt(t testing.TB, c net.Conn, level, opt int) int {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no raw socket", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// TestEndpointOptionsApplied reads socket options back from both ends of
// a connection, given in the endpoint's query or in Config.Endpoint.
func TestEndpointOptionsApplied(t *testing.T) {
	tos := func(t testing.TB, c net.Conn) int { return sockopt(t, c, unix.IPPROTO_IP, unix.IP_TOS) }
	nodelay := func(t testing.TB, c net.Conn) int { return sockopt(t, c, unix.IPPROTO_TCP, unix.TCP_NODELAY) }
	sndbuf := func(t testing.TB, c net.Conn) int { return sockopt(t, c, unix.SOL_SOCKET, unix.SO_SNDBUF) }
	rcvbuf := func(t testing.TB, c net.Conn) int { return sockopt(t, c, unix.SOL_SOCKET, unix.SO_RCVBUF) }
	type check struct {
		what string
		get  func(testing.TB, net.Conn) int
		ok   func(int) bool
	}
	is := func(n int) func(int) bool { return func(v int) bool { return v == n } }
	atLeast := func(n int) func(int) bool { return func(v int) bool { return v >= n } }
	sock := filepath.Join(t.TempDir(), "o.sock")
	tests := []struct {
		name             string
		bind, connect    string // connect "" = the bound endpoint
		cfgBind, cfgConn *endpoint.Config
		bound, dialled   []check
	}{
		{name: "tcp default: TCP_NODELAY on, as libzmq",
			bind:    "tcp://127.0.0.1:*",
			bound:   []check{{"nodelay", nodelay, is(1)}},
			dialled: []check{{"nodelay", nodelay, is(1)}}},
		{name: "nodelay=0 keeps Nagle",
			bind: "tcp://127.0.0.1:*?nodelay=0", connect: "?nodelay=0",
			bound:   []check{{"nodelay", nodelay, is(0)}},
			dialled: []check{{"nodelay", nodelay, is(0)}}},
		{name: "tos from the query",
			bind: "tcp://127.0.0.1:*?tos=0x10", connect: "?tos=0x20",
			bound:   []check{{"tos", tos, is(0x10)}, {"nodelay", nodelay, is(1)}},
			dialled: []check{{"tos", tos, is(0x20)}, {"nodelay", nodelay, is(1)}}},
		{name: "typed options, the query wins",
			bind: "tcp://127.0.0.1:*", connect: "?tos=0x28",
			cfgBind: &endpoint.Config{Options: endpoint.Options{TOS: 0x08, RecvBuffer: 1 << 16}},
			cfgConn: &endpoint.Config{Options: endpoint.Options{TOS: 0x04, SendBuffer: 1 << 16}},
			bound:   []check{{"tos", tos, is(0x08)}, {"rcvbuf", rcvbuf, atLeast(1 << 16)}},
			dialled: []check{{"tos", tos, is(0x28)}, {"sndbuf", sndbuf, atLeast(1 << 16)}}},
		{name: "ipc buffers",
			bind: "ipc://" + sock + "?rcvbuf=40000", connect: "?sndbuf=50000",
			bound:   []check{{"rcvbuf", rcvbuf, atLeast(40000)}},
			dialled: []check{{"sndbuf", sndbuf, atLeast(50000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newSock(t, Pair, &Config{Endpoint: tt.cfgBind})
			b := newSock(t, Pair, &Config{Endpoint: tt.cfgConn})
			if err := a.Bind(tt.bind); err != nil {
				t.Fatal(err)
			}
			if err := b.Connect(a.LastEndpoint() + tt.connect); err != nil {
				t.Fatal(err)
			}
			roundTrip(t, a, b)
			for _, side := range []struct {
				name   string
				c      net.Conn
				checks []check
			}{{"bound", onlyConn(t, a), tt.bound}, {"dialled", onlyConn(t, b), tt.dialled}} {
				// Plain sockets are read and written bare (writev for
				// large frames), not through endpoint.Conn.
				switch side.c.(type) {
				case *net.TCPConn, *net.UnixConn:
				default:
					t.Fatalf("%s: connection is %T", side.name, side.c)
				}
				for _, c := range side.checks {
					if got := c.get(t, side.c); !c.ok(got) {
						t.Errorf("%s: %s = %d", side.name, c.what, got)
					}
				}
			}
		})
	}
}
