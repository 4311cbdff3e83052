package cli

import (
	"bufio"
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestServeIRC: serve with the IRC door on a free port and a relay of
// the room "lobby" to a minimal upstream server; an nc-style client says
// a line in #lobby and the relay carries it upstream; on cancel the
// client is told why.
func TestServeIRC(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer upLn.Close()
	out := &lineWriter{lines: make(chan string, 16)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--http", "127.0.0.1:0", "--irc", "tcp://127.0.0.1:0",
			"--relay", "lobby=irc://" + upLn.Addr().String() + "/#up?nick=sbrelay&rate=50&burst=5"}, Stdio{Out: out, Err: io.Discard})
	}()
	re := regexp.MustCompile(`^switchboard: irc on (\S+)$`)
	var addr string
	for addr == "" {
		select {
		case line := <-out.lines:
			if m := re.FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
		case err := <-done:
			t.Fatalf("serve returned early: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("irc door not announced")
		}
	}

	// The upstream side: accept the relay, welcome it, read its lines.
	upLn.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	up, err := upLn.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	up.SetDeadline(time.Now().Add(15 * time.Second))
	ubr := bufio.NewReader(up)
	expectLine := func(br *bufio.Reader, want string) {
		t.Helper()
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %q: %v", want, err)
			}
			if strings.Contains(l, want) {
				return
			}
		}
	}
	expectLine(ubr, "USER ")
	io.WriteString(up, ":up.test 001 sbrelay :Welcome\r\n")
	expectLine(ubr, "JOIN #up")

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "NICK ann\nUSER ann 0 * :Ann\nJOIN #lobby\nPRIVMSG #lobby :hi upstream\n")
	expectLine(br, " 366 ann #lobby ")
	expectLine(ubr, "PRIVMSG #up :<ann> hi upstream")
	io.WriteString(up, ":bob!b@up.test PRIVMSG #up :hi downstream\r\n")
	expectLine(br, ":bob.up!bob.up@switchboard PRIVMSG #lobby :hi downstream")

	cancel()
	expectLine(br, "ERROR :Closing Link: 127.0.0.1 (server shutting down)")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServeIRCBusyDefault: the default IRC port taken does not stop
// serve; an explicit one does.
func TestServeIRCBusyDefault(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Run(context.Background(), []string{"serve", "--http", "127.0.0.1:0", "--irc", "tcp://" + ln.Addr().String()}, Stdio{Out: io.Discard, Err: io.Discard})
	if err == nil {
		t.Fatal("serve started with its explicit IRC address taken")
	}
	if err := Run(context.Background(), []string{"serve", "--relay", "lobby=http://x"}, Stdio{Out: io.Discard, Err: io.Discard}); err == nil {
		t.Fatal("bad --relay accepted")
	}
}
