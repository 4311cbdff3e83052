package cli

import (
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/hub"
)

// hubOn serves a hub on addr ("127.0.0.1:0" for any port) until the
// returned stop is called; it returns the address.
func hubOn(t *testing.T, addr string) (string, func()) {
	t.Helper()
	srv, err := hub.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ { // the old listener's port may take a moment to free
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		tm := time.NewTimer(20 * time.Millisecond)
		<-tm.C
	}
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// expectLine waits for a line of out matching re and returns it.
func expectLine(t *testing.T, out *lineWriter, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l := <-out.lines:
			if rx.MatchString(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line matching %q", re)
		}
	}
}

func TestChat(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // after the hubs stop
	addr, stop := hubOn(t, "127.0.0.1:0")
	base := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	inR, inW := io.Pipe()
	out := &lineWriter{lines: make(chan string, 1024)}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"chat", "--nick", "alice", "--room", "lobby", base + "/"}, Stdio{In: inR, Out: out, Err: out})
	}()
	say := func(s string) {
		t.Helper()
		if _, err := io.WriteString(inW, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	expectLine(t, out, `^\* you are alice; online: alice$`)
	expectLine(t, out, `^\* in lobby with alice$`)

	bob := wsChat(t, ctx, base, "", "bob")
	defer bob.CloseNow()
	bobSaid := make(chan string, 16)
	go func() {
		defer close(bobSaid)
		for {
			_, m, err := bob.Read(ctx)
			if err != nil {
				return
			}
			if strings.HasPrefix(string(m), `42["said"`) {
				bobSaid <- string(m)
			}
		}
	}()
	expectLine(t, out, `^\* bob is online$`)
	expectLine(t, out, `^\* bob joined lobby$`)

	say("hello, bob")
	expectLine(t, out, `^… sending #1 \[lobby\] hello, bob$`)
	expectLine(t, out, `^✓ \d\d:\d\d:\d\d #1 \[lobby\] hello, bob$`)
	select {
	case m := <-bobSaid:
		if !strings.Contains(m, `"from":"alice","text":"hello, bob"`) {
			t.Errorf("bob got %s", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob did not get alice's line")
	}
	if err := bob.Write(ctx, websocket.MessageText, []byte(`423["say",{"room":"lobby","text":"hi alice"}]`)); err != nil {
		t.Fatal(err)
	}
	expectLine(t, out, `^\d\d:\d\d:\d\d \[lobby\] bob: hi alice$`)

	say("/join side")
	expectLine(t, out, `^\* in side with alice$`)
	say("/leave")
	expectLine(t, out, `^\* left side$`)
	say("/bogus")
	expectLine(t, out, `^! unknown command /bogus`)
	bob.Close(websocket.StatusNormalClosure, "")
	expectLine(t, out, `^\* bob left lobby$`)

	// The server restarts: alice is told why, reconnects, takes her name
	// and room again, and a line typed meanwhile goes out then.
	stop()
	expectLine(t, out, `^\* server: server shutting down$`)
	expectLine(t, out, `^\* disconnected`)
	say("while away")
	expectLine(t, out, `^… waiting for the connection #2 \[lobby\] while away$`)
	hubOn(t, addr)
	expectLine(t, out, `^\* you are alice; online: alice$`)
	expectLine(t, out, `^\* in lobby with alice$`)
	expectLine(t, out, `^✓ \d\d:\d\d:\d\d #2 \[lobby\] while away$`)

	say("last line")
	inW.Close()
	expectLine(t, out, `^✓ \d\d:\d\d:\d\d #3 \[lobby\] last line$`)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chat: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("chat did not end at end of input")
	}
	for range bobSaid {
	}
}

func TestChatRefused(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv, err := hub.NewServer(&hub.ServerConfig{Protect: &hub.ProtectConfig{Token: "right"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	for _, tc := range []struct {
		token string
		ok    bool
	}{{"wrong", false}, {"right", true}} {
		err := Run(ctx, []string{"chat", "--token", tc.token, "http://" + ln.Addr().String()}, Stdio{In: strings.NewReader("/quit\n")})
		if (err == nil) != tc.ok {
			t.Errorf("token %s: %v", tc.token, err)
		}
	}
	if err := Run(ctx, []string{"chat", "ftp://x"}, Stdio{}); err != ErrUsage {
		t.Errorf("bad URL: %v", err)
	}
}
