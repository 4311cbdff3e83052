package hub_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/monitor"
)

// A Guard decides who may connect: deny lists win over allow lists, then
// the embedder's callback sees the door and the remote address and port.
func ExampleGuard() {
	allow, _ := hub.ParsePrefixes("127.0.0.0/8, 10.0.0.0/8")
	deny, _ := hub.ParsePrefixes("10.66.0.0/16")
	g, err := hub.NewGuard(&hub.ProtectConfig{
		Allow: allow,
		Deny:  deny,
		Admit: func(door string, remote netip.AddrPort) error {
			if door == "irc" && remote.Port() < 1024 {
				return errors.New("no privileged source ports on irc")
			}
			return nil
		},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range []struct{ door, remote string }{
		{"socket.io", "127.0.0.1:50000"},
		{"socket.io", "10.66.1.2:50000"},
		{"socket.io", "192.0.2.1:50000"},
		{"irc", "10.0.0.5:113"},
	} {
		err := g.Check(c.door, netip.MustParseAddrPort(c.remote))
		fmt.Printf("%s %s: %v\n", c.door, c.remote, err)
	}
	// Output:
	// socket.io 127.0.0.1:50000: <nil>
	// socket.io 10.66.1.2:50000: hub: connection refused: 10.66.1.2 is in denied 10.66.0.0/16
	// socket.io 192.0.2.1:50000: hub: connection refused: 192.0.2.1 is not in an allowed network
	// irc 10.0.0.5:113: hub: connection refused: no privileged source ports on irc
}

// A Server with admission, a client token, an admin token for /metrics,
// /api/conns and the /stats page's data, and audit records; the control
// socket lets "switchboard stat" see its connections.
func ExampleServer_Conns() {
	srv, err := hub.NewServer(&hub.ServerConfig{
		Protect: &hub.ProtectConfig{
			Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			Token: "chat-secret", // socket.io-client: io(url, {auth: {token}})
		},
		AdminToken: "admin-secret", // Authorization: Bearer admin-secret
		Audit:      slog.Default(), // records carry audit=true
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctl, err := monitor.Serve(ctx, monitor.ServerConfig{Process: srv.Process(), Source: srv})
	if err == nil {
		defer ctl.Close()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		srv.Close()
		return
	}
	_ = srv.Serve(ctx, ln) // until ctx is done; clients get a "shutdown" event
}
