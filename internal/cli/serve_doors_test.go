package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/zmq"
)

// TestServeDoors: serve with the ZeroMQ and UDP doors; a UDP user and
// ZeroMQ services meet in one room, and everything stops on cancel.
func TestServeDoors(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	out := &lineWriter{lines: make(chan string, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--http", "127.0.0.1:0",
			"--zmq-pub", "tcp://127.0.0.1:*", "--zmq-in", "tcp://127.0.0.1:*", "--zmq-rpc", "off",
			"--udp", "udp://127.0.0.1:0", "--mirror", "off"}, Stdio{Out: out, Err: io.Discard})
	}()
	addrs := map[string]string{}
	re := regexp.MustCompile(`^switchboard: (zmq-pub|zmq-in|udp commands) on (\S+)$`)
	for len(addrs) < 3 {
		select {
		case line := <-out.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				addrs[m[1]] = m[2]
			}
		case err := <-done:
			t.Fatalf("serve returned early: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("doors not announced; got %v", addrs)
		}
	}
	tctx, tcancel := context.WithTimeout(ctx, 15*time.Second)
	defer tcancel()
	ua, err := net.ResolveUDPAddr("udp", addrs["udp commands"])
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	buf := make([]byte, 4096)
	// cmd sends a datagram and returns the first reply starting with want.
	cmd := func(send, want string) string {
		t.Helper()
		if send != "" {
			uc.Write([]byte(send))
		}
		for {
			uc.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := uc.Read(buf)
			if err != nil {
				t.Fatalf("%q: no %q: %v", send, want, err)
			}
			if s := string(buf[:n]); strings.HasPrefix(s, want) {
				return s
			}
		}
	}
	cmd("NICK ann", "OK NICK")
	cmd("JOIN lobby", "OK JOIN")
	sub, _ := zmq.NewSocket(zmq.Sub, &zmq.Config{Linger: -1})
	defer sub.Close()
	sub.Subscribe([]byte("lobby"))
	sub.Connect(addrs["zmq-pub"])
	cmd("", "JOINED lobby zmq")
	push, _ := zmq.NewSocket(zmq.Push, &zmq.Config{Linger: -1})
	defer push.Close()
	push.Connect(addrs["zmq-in"])
	push.SendString(tctx, "lobby", "hello ann", "svc")
	if got := cmd("", "SAID"); !strings.HasPrefix(got, "SAID lobby svc ") || !strings.HasSuffix(got, " hello ann") {
		t.Fatalf("ann got %q", got)
	}
	cmd("SAY lobby hello services", "OK SAY")
	m, err := sub.RecvString(tctx)
	if err != nil || len(m) != 5 || m[1] != "ann" || m[2] != "hello services" {
		t.Fatalf("SUB got %q, %v", m, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on cancel")
	}
}

func TestServeDoorFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want error
	}{
		{"mirror without room", []string{"--mirror", "udp://239.1.1.1:7000"}, ErrUsage},
		{"netlink without room", []string{"--netlink", "netlink://kobject-uevent"}, ErrUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := Run(context.Background(), append([]string{"serve", "--http", "127.0.0.1:0", "--zmq-pub", "off", "--zmq-in", "off", "--zmq-rpc", "off", "--udp", "off"}, tc.args...), Stdio{Err: &stderr})
			if !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v; %s", err, tc.want, stderr.String())
			}
		})
	}
	var stderr bytes.Buffer
	err := Run(context.Background(), []string{"serve", "--http", "127.0.0.1:0", "--zmq-pub", "off", "--zmq-in", "off", "--zmq-rpc", "off", "--udp", "tcp://127.0.0.1:0"}, Stdio{Out: &bytes.Buffer{}, Err: &stderr})
	if err == nil || !strings.Contains(err.Error(), "dgram") {
		t.Fatalf("a stream endpoint for --udp: %v", err)
	}
}
