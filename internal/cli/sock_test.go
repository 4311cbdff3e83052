package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/zmq"
)

// notifyBuffer is a goroutine-safe buffer whose waitFor blocks until the
// text written so far contains a string.
type notifyBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newNotifyBuffer() *notifyBuffer { return &notifyBuffer{changed: make(chan struct{})} }

func (b *notifyBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

func (b *notifyBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *notifyBuffer) waitFor(t *testing.T, ctx context.Context, s string) {
	t.Helper()
	for {
		b.mu.Lock()
		has, ch := strings.Contains(b.buf.String(), s), b.changed
		b.mu.Unlock()
		if has {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("waiting for %q: %v; have %q", s, ctx.Err(), b.String())
		}
	}
}

// runCLI runs cli.Run in a goroutine and returns a channel for its error.
func runCLI(ctx context.Context, args []string, in string, out, errw *notifyBuffer) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, args, Stdio{In: strings.NewReader(in), Out: out, Err: errw})
	}()
	return done
}

func waitErr(t *testing.T, ctx context.Context, name string, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	case <-ctx.Done():
		t.Fatalf("%s did not finish: %v", name, ctx.Err())
	}
}

func TestSockUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no type", []string{"sock"}},
		{"unknown type", []string{"sock", "stream", "--bind", "tcp://127.0.0.1:*"}},
		{"no endpoint", []string{"sock", "push"}},
		{"bad flag", []string{"sock", "push", "--nope"}},
		{"extra argument", []string{"sock", "push", "--bind", "tcp://127.0.0.1:*", "x"}},
		{"echo on req", []string{"sock", "req", "--echo", "--connect", "tcp://127.0.0.1:1"}},
		{"negative count", []string{"sock", "pull", "--count", "-1", "--bind", "tcp://127.0.0.1:*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errw bytes.Buffer
			err := Run(context.Background(), tt.args, Stdio{Err: &errw})
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("Run(%q):\n- want: %v\n-  got: %v", tt.args, ErrUsage, err)
			}
			if !strings.Contains(errw.String(), "usage: switchboard sock") && !strings.Contains(errw.String(), "switchboard sock:") {
				t.Fatalf("no usage printed: %q", errw.String())
			}
		})
	}
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"sock", "-h"}, Stdio{Out: &out, Err: &out}); err != nil {
		t.Fatalf("sock -h: %v", err)
	}
}

func TestSockSubscribeOnWrongType(t *testing.T) {
	ep := "ipc://" + filepath.Join(t.TempDir(), "s")
	err := Run(context.Background(), []string{"sock", "push", "--bind", ep, "--subscribe", "x"}, Stdio{})
	if err == nil || errors.Is(err, ErrUsage) {
		t.Fatalf("want a plain error for --subscribe on push, got %v", err)
	}
}

func TestFrameFormat(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		delim string
		want  zmq.Msg
		print string
	}{
		{"one frame", "hello world", "", zmq.Msg{[]byte("hello world")}, "hello world"},
		{"frames", "a|b||c", "|", zmq.Msg{[]byte("a"), []byte("b"), {}, []byte("c")}, "a|b||c"},
		{"other delim", "a::b", "::", zmq.Msg{[]byte("a"), []byte("b")}, "a::b"},
		{"hex frame", "0x00800000ff,hi", ",", zmq.Msg{{0, 0x80, 0, 0, 0xff}, []byte("hi")}, "0x00800000ff,hi"},
		{"not hex", "0xzz", "", zmq.Msg{[]byte("0xzz")}, "0xzz"},
		{"empty line", "", "", zmq.Msg{{}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodeLine(tt.line, tt.delim)
			if len(got) != len(tt.want) {
				t.Fatalf("encodeLine(%q):\n- want: %q\n-  got: %q", tt.line, tt.want, got)
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.want[i]) {
					t.Fatalf("encodeLine(%q):\n- want: %q\n-  got: %q", tt.line, tt.want, got)
				}
			}
			if p := formatMsg(got, tt.delim); p != tt.print {
				t.Fatalf("formatMsg:\n- want: %q\n-  got: %q", tt.print, p)
			}
		})
	}
	if got := formatMsg(zmq.Msg{[]byte("a"), []byte("b")}, ""); got != "a|b" {
		t.Fatalf("default delimiter:\n- want: %q\n-  got: %q", "a|b", got)
	}
}

func TestSockPushPull(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := "ipc://" + filepath.Join(t.TempDir(), "pp")
	pullOut, pullErr := newNotifyBuffer(), newNotifyBuffer()
	pull := runCLI(ctx, []string{"sock", "pull", "--bind", ep, "--count", "3", "--delim", "|"}, "", pullOut, pullErr)
	pullErr.waitFor(t, ctx, "bound "+ep)
	push := runCLI(ctx, []string{"sock", "push", "--connect", ep, "--delim", "|"}, "one\ntwo|frames\n\n", newNotifyBuffer(), newNotifyBuffer())
	waitErr(t, ctx, "push", push)
	waitErr(t, ctx, "pull", pull)
	if want, got := "one\ntwo|frames\n\n", pullOut.String(); got != want {
		t.Fatalf("pull printed:\n- want: %q\n-  got: %q", want, got)
	}
}

func TestSockReqRepEcho(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := "ipc://" + filepath.Join(t.TempDir(), "rr")
	repOut, repErr := newNotifyBuffer(), newNotifyBuffer()
	rep := runCLI(ctx, []string{"sock", "REP", "--bind", ep, "--echo", "--count", "2"}, "", repOut, repErr)
	repErr.waitFor(t, ctx, "bound ")
	reqOut := newNotifyBuffer()
	req := runCLI(ctx, []string{"sock", "req", "--connect", ep, "--delim", ","}, "ping,1\npong\n", reqOut, newNotifyBuffer())
	waitErr(t, ctx, "req", req)
	waitErr(t, ctx, "rep", rep)
	if want, got := "ping,1\npong\n", reqOut.String(); got != want {
		t.Fatalf("req printed:\n- want: %q\n-  got: %q", want, got)
	}
	if want, got := "ping|1\npong\n", repOut.String(); got != want {
		t.Fatalf("rep printed:\n- want: %q\n-  got: %q", want, got)
	}
}

func TestSockRepAnswersFromStdin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := "ipc://" + filepath.Join(t.TempDir(), "rs")
	repErr := newNotifyBuffer()
	rep := runCLI(ctx, []string{"sock", "rep", "--bind", ep, "--count", "1"}, "the answer\n", newNotifyBuffer(), repErr)
	repErr.waitFor(t, ctx, "bound ")
	reqOut := newNotifyBuffer()
	req := runCLI(ctx, []string{"sock", "req", "--connect", ep, "--count", "1"}, "question\n", reqOut, newNotifyBuffer())
	waitErr(t, ctx, "req", req)
	waitErr(t, ctx, "rep", rep)
	if want, got := "the answer\n", reqOut.String(); got != want {
		t.Fatalf("req printed:\n- want: %q\n-  got: %q", want, got)
	}
}

// TestSockRouterDealer checks that a ROUTER prints the routing id in hex and
// routes a reply typed back with it.
func TestSockRouterDealer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := "ipc://" + filepath.Join(t.TempDir(), "rd")
	routerOut, routerErr := newNotifyBuffer(), newNotifyBuffer()
	// The router answers whatever it is told on stdin; we feed it through a
	// pipe once we know the dealer's routing id.
	pr, pw := io.Pipe()
	routerDone := make(chan error, 1)
	go func() {
		routerDone <- Run(ctx, []string{"sock", "router", "--bind", ep, "--count", "2", "--delim", "|"}, Stdio{In: pr, Out: routerOut, Err: routerErr})
	}()
	routerErr.waitFor(t, ctx, "bound ")
	d, err := zmq.NewSocket(zmq.Dealer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Connect(ep); err != nil {
		t.Fatal(err)
	}
	if err := d.SendString(ctx, "hi"); err != nil {
		t.Fatal(err)
	}
	routerOut.waitFor(t, ctx, "|hi\n")
	line := strings.TrimSuffix(routerOut.String(), "\n")
	id, _, _ := strings.Cut(line, "|")
	if !strings.HasPrefix(id, "0x") {
		t.Fatalf("routing id not printed in hex: %q", line)
	}
	if _, err := pw.Write([]byte(id + "|back\n")); err != nil {
		t.Fatal(err)
	}
	got, err := d.RecvString(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "back" {
		t.Fatalf("dealer got:\n- want: %q\n-  got: %q", []string{"back"}, got)
	}
	if err := d.SendString(ctx, "bye"); err != nil {
		t.Fatal(err)
	}
	waitErr(t, ctx, "router", routerDone)
	pw.Close()
}

func TestSockPubSub(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := "ipc://" + filepath.Join(t.TempDir(), "ps")
	subOut, subErr := newNotifyBuffer(), newNotifyBuffer()
	sub := runCLI(ctx, []string{"sock", "sub", "--bind", ep, "--subscribe", "news", "--count", "1"}, "", subOut, subErr)
	subErr.waitFor(t, ctx, "bound ")
	// PUB drops until the subscription arrives: keep publishing until the
	// subscriber has printed one message.
	pub, err := zmq.NewSocket(zmq.Pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Connect(ep); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case err := <-sub:
			if err != nil {
				t.Fatal(err)
			}
			if got := subOut.String(); got != "news today\n" {
				t.Fatalf("sub printed:\n- want: %q\n-  got: %q", "news today\n", got)
			}
			return
		case <-tick.C:
			if err := pub.SendString(ctx, "sports"); err != nil {
				t.Fatal(err)
			}
			if err := pub.SendString(ctx, "news today"); err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatalf("sub printed nothing: %v", ctx.Err())
		}
	}
}

// TestSockInteropLibzmq drives `switchboard sock` from libzmq (pyzmq): a
// libzmq REQ against `sock rep --echo`, and a libzmq PUSH into `sock pull`.
func TestSockInteropLibzmq(t *testing.T) {
	py := testutil.Python(t, "zmq")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()

	t.Run("libzmq-REQ-to-sock-rep", func(t *testing.T) {
		ep := "ipc://" + filepath.Join(dir, "rep")
		repOut, repErr := newNotifyBuffer(), newNotifyBuffer()
		rep := runCLI(ctx, []string{"sock", "rep", "--bind", ep, "--echo", "--count", "2", "--delim", "|"}, "", repOut, repErr)
		repErr.waitFor(t, ctx, "bound ")
		script := `
import sys, zmq
s = zmq.Context().socket(zmq.REQ)
s.linger = 0
s.rcvtimeo = 5000
s.connect(sys.argv[1])
for m in ([b"one"], [b"two", b"frames"]):
    s.send_multipart(m)
    print("|".join(f.decode() for f in s.recv_multipart()))
`
		out, err := exec.CommandContext(ctx, py, "-c", script, ep).CombinedOutput()
		if err != nil {
			t.Fatalf("libzmq REQ: %v\n%s", err, out)
		}
		waitErr(t, ctx, "rep", rep)
		if want := "one\ntwo|frames\n"; string(out) != want || repOut.String() != want {
			t.Fatalf("echo through sock rep:\n- want: %q\n-  got: %q (rep printed %q)", want, out, repOut.String())
		}
	})

	t.Run("libzmq-PUSH-to-sock-pull", func(t *testing.T) {
		ep := "ipc://" + filepath.Join(dir, "pull")
		pullOut, pullErr := newNotifyBuffer(), newNotifyBuffer()
		pull := runCLI(ctx, []string{"sock", "pull", "--bind", ep, "--count", "3"}, "", pullOut, pullErr)
		pullErr.waitFor(t, ctx, "bound ")
		script := `
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.connect(sys.argv[1])
s.send(b"a")
s.send_multipart([b"b", b"c"])
s.send(b"\x00\x80")
s.close(5000)
ctx.term()
`
		if out, err := exec.CommandContext(ctx, py, "-c", script, ep).CombinedOutput(); err != nil {
			t.Fatalf("libzmq PUSH: %v\n%s", err, out)
		}
		waitErr(t, ctx, "pull", pull)
		if want := "a\nb|c\n0x0080\n"; pullOut.String() != want {
			t.Fatalf("sock pull printed:\n- want: %q\n-  got: %q", want, pullOut.String())
		}
	})
}
