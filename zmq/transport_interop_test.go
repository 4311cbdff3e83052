package zmq

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/testutil"
)

// transportPeer is a libzmq peer (pyzmq) for the endpoint tests: "rep"
// binds, prints its endpoint and answers one request with the request's
// Peer-Address; "req" connects to argv[2], sends and prints the reply;
// "push" connects to argv[2] and sends one message.
const transportPeer = `
import sys, zmq
ctx = zmq.Context()
mode = sys.argv[1]
if mode == "rep":
    s = ctx.socket(zmq.REP)
    s.RCVTIMEO = 10000
    s.bind("tcp://127.0.0.1:*")
    print(s.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    m = s.recv(copy=False)
    s.send_string(m.get("Peer-Address"))
elif mode == "req":
    s = ctx.socket(zmq.REQ)
    s.RCVTIMEO = 10000
    s.connect(sys.argv[2])
    s.send(b"hi")
    print(s.recv().decode(), flush=True)
elif mode == "push":
    s = ctx.socket(zmq.PUSH)
    s.SNDTIMEO = 10000
    s.connect(sys.argv[2])
    s.send(b"over ipc")
s.close(linger=5000)
ctx.term()
`

// runPeer starts the peer and returns its stdout lines; the process is
// waited for in Cleanup.
func runPeer(t *testing.T, ctx context.Context, args ...string) <-chan string {
	t.Helper()
	py := testutil.Python(t, "zmq")
	cmd := exec.CommandContext(ctx, py, append([]string{"-c", transportPeer}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		<-done
		if err := cmd.Wait(); err != nil {
			t.Errorf("libzmq peer %v: %v\n%s", args, err, stderr.String())
		}
	})
	return lines
}

func line(t *testing.T, ctx context.Context, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("libzmq peer ended early")
		}
		return l
	case <-ctx.Done():
		t.Fatal("libzmq peer silent")
	}
	return ""
}

// TestEndpointInterop runs endpoints with options and libzmq's source
// form against libzmq: each side sees the other's source address.
func TestEndpointInterop(t *testing.T) {
	testutil.Interop(t)
	t.Run("go REQ from 127.0.0.2 to libzmq REP", func(t *testing.T) {
		ctx := testCtx(t)
		lines := runPeer(t, ctx, "rep")
		ep := line(t, ctx, lines)
		req := newSock(t, Req, nil)
		if err := req.Connect("tcp://127.0.0.2:0;" + strings.TrimPrefix(ep, "tcp://") + "?tos=0x10&keepalive=30s"); err != nil {
			t.Fatal(err)
		}
		mustSend(t, ctx, req, "hi")
		mustRecv(t, ctx, req, "127.0.0.2")
	})
	t.Run("libzmq REQ from 127.0.0.3 to go REP with options", func(t *testing.T) {
		ctx := testCtx(t)
		ev := newEvents()
		rep := newSock(t, Rep, &Config{Monitor: ev.add})
		if err := rep.Bind("tcp://127.0.0.1:*?nodelay=0&tos=0x10&backlog=16"); err != nil {
			t.Fatal(err)
		}
		lines := runPeer(t, ctx, "req", "tcp://127.0.0.3:0;"+strings.TrimPrefix(rep.LastEndpoint(), "tcp://"))
		mustRecv(t, ctx, rep, "hi")
		e := ev.wait(t, ctx, func(e Event) bool { return e.Type == EventAccepted })
		if !strings.HasPrefix(e.Remote, "127.0.0.3:") || e.Endpoint != rep.LastEndpoint() {
			t.Fatalf("accepted event %+v", e)
		}
		mustSend(t, ctx, rep, "ok")
		if got := line(t, ctx, lines); got != "ok" {
			t.Fatalf("libzmq got %q", got)
		}
	})
	t.Run("libzmq PUSH to go PULL on ipc with options", func(t *testing.T) {
		ctx := testCtx(t)
		path := filepath.Join(t.TempDir(), "i.sock")
		pull := newSock(t, Pull, nil)
		if err := pull.Bind("ipc://" + path + "?rcvbuf=65536&backlog=16"); err != nil {
			t.Fatal(err)
		}
		if got := pull.LastEndpoint(); got != "ipc://"+path {
			t.Fatalf("LastEndpoint = %q", got)
		}
		runPeer(t, ctx, "push", pull.LastEndpoint())
		mustRecv(t, ctx, pull, "over ipc")
	})
}
