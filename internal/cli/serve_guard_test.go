package cli

import (
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/zmq"
)

// startGuardedServe runs serve with a UDP and a ZeroMQ in door on free
// ports and extra args; it returns the doors' addresses and a stop func.
func startGuardedServe(t *testing.T, extra ...string) (udp, zin string, stop func()) {
	t.Helper()
	out := &lineWriter{lines: make(chan string, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"serve", "--http", "127.0.0.1:0", "--zmq-pub", "off", "--zmq-rpc", "off",
		"--zmq-in", "tcp://127.0.0.1:*", "--udp", "udp://127.0.0.1:0"}, extra...)
	go func() { done <- Run(ctx, args, Stdio{Out: out, Err: io.Discard}) }()
	re := regexp.MustCompile(`^switchboard: (zmq-in|udp commands) on (\S+)$`)
	addrs := map[string]string{}
	for len(addrs) < 2 {
		select {
		case line := <-out.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				addrs[m[1]] = m[2]
			}
		case err := <-done:
			cancel()
			t.Fatalf("serve returned early: %v", err)
		case <-time.After(10 * time.Second):
			cancel()
			t.Fatalf("doors not announced; got %v", addrs)
		}
	}
	return addrs["udp commands"], addrs["zmq-in"], func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	}
}

// udpCmd sends a datagram and returns the reply (skipping events), or
// "" when none comes within d.
func udpCmd(t *testing.T, c *net.UDPConn, send string, d time.Duration) string {
	t.Helper()
	if _, err := c.Write([]byte(send)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(d))
	for {
		n, err := c.Read(buf)
		if err != nil {
			return ""
		}
		r := string(buf[:n])
		verb, _, _ := strings.Cut(r, " ")
		switch verb {
		case "PRESENCE", "JOINED", "LEFT", "SAID":
			continue // an event, not the reply
		}
		return r
	}
}

func dialUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServeDoorsToken(t *testing.T) {
	udp, zin, stop := startGuardedServe(t, "--token", "s3cret")
	defer stop()
	c := dialUDP(t, udp)
	if r := udpCmd(t, c, "NICK ann", 10*time.Second); !strings.HasPrefix(r, "ERR ") || !strings.Contains(r, "AUTH") {
		t.Fatalf("before AUTH: %q", r)
	}
	if r := udpCmd(t, c, "AUTH nope", 10*time.Second); !strings.HasPrefix(r, "ERR ") {
		t.Fatalf("wrong token: %q", r)
	}
	if r := udpCmd(t, c, "AUTH s3cret", 10*time.Second); r != "OK AUTH" {
		t.Fatalf("token: %q", r)
	}
	if r := udpCmd(t, c, "NICK ann", 10*time.Second); !strings.HasPrefix(r, "OK NICK") {
		t.Fatalf("nick: %q", r)
	}
	if r := udpCmd(t, c, "JOIN lobby", 10*time.Second); !strings.HasPrefix(r, "OK JOIN") {
		t.Fatalf("join: %q", r)
	}
	// A PUSH with the token as PLAIN password is heard in the room.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	push, err := zmq.NewSocket(zmq.Push, &zmq.Config{Linger: -1, Plain: &zmq.PlainConfig{Username: "svc", Password: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	if err := push.Connect(zin); err != nil {
		t.Fatal(err)
	}
	if err := push.SendString(ctx, "lobby", "with the token", "svc"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("PLAIN push not heard: %v", err)
		}
		if s := string(buf[:n]); strings.HasPrefix(s, "SAID lobby svc ") && strings.HasSuffix(s, " with the token") {
			break
		}
	}
}

func TestServeDoorsDeny(t *testing.T) {
	udp, _, stop := startGuardedServe(t, "--deny", "127.0.0.0/8")
	defer stop()
	c := dialUDP(t, udp)
	if r := udpCmd(t, c, "NICK ann", 10*time.Second); !strings.HasPrefix(r, "ERR refused") {
		t.Fatalf("denied sender: %q", r)
	}
	if r := udpCmd(t, c, "NICK ann", 200*time.Millisecond); r != "" {
		t.Fatalf("told twice: %q", r)
	}
}
