package zmq_test

// CURVE interop with libzmq 4.3 through pyzmq: our CURVE server with a
// pyzmq client holding zmq.curve_keypair() keys, and a pyzmq CURVE server
// (ZAP through zmq.auth's ThreadAuthenticator, any client allowed) with
// our client; multipart and 1 MiB messages both ways over PAIR.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/zmq"
)

// curvePeer is a pyzmq PAIR that prints "READY <endpoint> <public key>",
// then echoes every message until it gets "bye".
const curvePeer = `
import sys, zmq
role, arg = sys.argv[1], sys.argv[2]
if not zmq.has("curve"):
    print("NOCURVE", flush=True); sys.exit(3)
ctx = zmq.Context()
pub, sec = zmq.curve_keypair()
s = ctx.socket(zmq.PAIR)
s.linger = 2000
s.rcvtimeo = 15000
s.curve_publickey, s.curve_secretkey = pub, sec
auth = None
if role == "client":
    s.curve_serverkey = arg.encode()
    s.connect(sys.argv[3])
    ep = sys.argv[3]
else:
    import zmq.auth
    from zmq.auth.thread import ThreadAuthenticator
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
    s.curve_server = True
    port = s.bind_to_random_port("tcp://127.0.0.1")
    ep = "tcp://127.0.0.1:%d" % port
print("READY", ep, pub.decode(), flush=True)
s.send_multipart([b"hello from libzmq", b"", b"second part"])
n = 0
while True:
    m = s.recv_multipart()
    if m == [b"bye"]:
        break
    s.send_multipart(m)
    n += 1
print("DONE", n, flush=True)
s.close()
if auth:
    auth.stop()
ctx.term()
`

type curvePy struct {
	cmd      *exec.Cmd
	out      *bufio.Scanner
	ep       string
	pub      string
	waitOnce sync.Once
	waitErr  error
}

// wait reaps the peer once.
func (p *curvePy) wait() error {
	p.waitOnce.Do(func() { p.waitErr = p.cmd.Wait() })
	return p.waitErr
}

func startCurvePeer(t *testing.T, args ...string) *curvePy {
	t.Helper()
	py := testutil.Python(t, "zmq")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, py, append([]string{"-c", curvePeer}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &curvePy{cmd: cmd, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() {
		cancel()
		p.wait()
		if t.Failed() {
			t.Logf("pyzmq stderr:\n%s", stderr.String())
		}
	})
	if !p.out.Scan() {
		p.wait()
		t.Fatalf("pyzmq peer did not start: %s", stderr.String())
	}
	f := strings.Fields(p.out.Text())
	if len(f) == 1 && f[0] == "NOCURVE" {
		p.wait()
		t.Fatal("interop peer missing: this libzmq has no CURVE (zmq.has('curve') is false)")
	}
	if len(f) != 3 || f[0] != "READY" {
		p.wait()
		t.Fatalf("pyzmq peer said %q", p.out.Text())
	}
	p.ep, p.pub = f[1], f[2]
	return p
}

// finish waits for the peer's DONE line and its exit.
func (p *curvePy) finish(t *testing.T, want int) {
	t.Helper()
	if !p.out.Scan() || p.out.Text() != fmt.Sprintf("DONE %d", want) {
		p.wait()
		t.Fatalf("pyzmq peer ended with %q, want DONE %d", p.out.Text(), want)
	}
	if err := p.wait(); err != nil {
		t.Fatalf("pyzmq peer: %v", err)
	}
}

// exchange receives the peer's greeting, then sends messages (multipart
// and 1 MiB) and checks each echo.
func exchange(t *testing.T, ctx context.Context, s *zmq.Socket) int {
	t.Helper()
	m, err := s.Recv(ctx)
	if err != nil {
		t.Fatalf("greeting from libzmq: %v", err)
	}
	if want := (zmq.Msg{[]byte("hello from libzmq"), {}, []byte("second part")}); fmt.Sprint(m) != fmt.Sprint(want) {
		t.Fatalf("greeting: %q", m)
	}
	big := bytes.Repeat([]byte("curve-1MiB-test!"), 1<<16)
	msgs := []zmq.Msg{
		{[]byte("one")},
		{[]byte("multi"), {}, []byte("part"), []byte("message")},
		{big},
		{[]byte("head"), big},
	}
	for i := 0; i < 50; i++ {
		msgs = append(msgs, zmq.Msg{[]byte(fmt.Sprintf("small %d", i))})
	}
	for _, m := range msgs {
		if err := s.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range msgs {
		got, err := s.Recv(ctx)
		if err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		if len(got) != len(want) {
			t.Fatalf("echo %d: %d frames, want %d", i, len(got), len(want))
		}
		for j := range want {
			if !bytes.Equal(got[j], want[j]) {
				t.Fatalf("echo %d frame %d differs (%d bytes, want %d)", i, j, len(got[j]), len(want[j]))
			}
		}
	}
	if err := s.Send(ctx, zmq.Msg{[]byte("bye")}); err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

func TestCurveInteropLibzmq(t *testing.T) {
	t.Run("our server, libzmq client", func(t *testing.T) {
		testutil.Python(t, "zmq")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		pub, sec, err := zmq.NewCurveKeypair()
		if err != nil {
			t.Fatal(err)
		}
		seen := make(chan [32]byte, 4)
		ev := make(chan zmq.Event, 16)
		s, err := zmq.NewSocket(zmq.Pair, &zmq.Config{
			Curve: &zmq.CurveConfig{Server: true, SecretKey: sec,
				Authorize: func(k [32]byte) error { seen <- k; return nil }},
			Monitor: func(e zmq.Event) {
				select {
				case ev <- e:
				default:
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
			t.Fatal(err)
		}
		z, _ := zmq.Z85Encode(pub[:])
		p := startCurvePeer(t, "client", z, s.LastEndpoint())
		n := exchange(t, ctx, s)
		p.finish(t, n)
		select {
		case k := <-seen:
			if want, _ := zmq.CurveKey(p.pub); k != want {
				t.Fatalf("Authorize saw another key than libzmq's %s", p.pub)
			}
		default:
			t.Fatal("Authorize was not called")
		}
	})
	t.Run("libzmq server, our client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p := startCurvePeer(t, "server", "-")
		sk, err := zmq.CurveKey(p.pub)
		if err != nil {
			t.Fatal(err)
		}
		_, sec, _ := zmq.NewCurveKeypair()
		s, err := zmq.NewSocket(zmq.Pair, &zmq.Config{Curve: &zmq.CurveConfig{SecretKey: sec, ServerKey: sk}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Connect(p.ep); err != nil {
			t.Fatal(err)
		}
		n := exchange(t, ctx, s)
		p.finish(t, n)
	})
	t.Run("libzmq server, our client with a wrong server key", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		p := startCurvePeer(t, "server", "-")
		wrong, sec, _ := zmq.NewCurveKeypair()
		ev := make(chan zmq.Event, 16)
		s, err := zmq.NewSocket(zmq.Pair, &zmq.Config{
			Curve: &zmq.CurveConfig{SecretKey: sec, ServerKey: wrong}, Linger: -1,
			Monitor: func(e zmq.Event) {
				select {
				case ev <- e:
				default:
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Connect(p.ep); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case e := <-ev:
				if e.Type != zmq.EventHandshakeFailed {
					continue
				}
				if !errors.Is(e.Err, zmq.ErrCurve) {
					t.Fatalf("handshake failed with %v, want ErrCurve", e.Err)
				}
				t.Logf("our client: %v", e.Err)
				// Let the peer go: it is still waiting for a message.
				p.cmd.Process.Kill()
				p.wait()
				return
			case <-ctx.Done():
				t.Fatal("no handshake failure event")
			}
		}
	})
}
