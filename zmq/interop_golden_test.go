package zmq_test

// Golden-bytes tests: a raw TCP peer replays what libzmq 4.3.4 put on the
// wire (zmq/internal/zmtp/testdata, captured by zmq/interop/capture_golden.py)
// to our sockets, and compares what our sockets send with libzmq's bytes.
// They need no peer process, so they always run.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/zmq"
)

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("internal", "zmtp", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawFrame reads one ZMTP frame and returns its wire bytes.
func rawFrame(t *testing.T, c net.Conn) []byte {
	t.Helper()
	hdr := make([]byte, 2, 9)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatalf("reading frame header: %v", err)
	}
	size := uint64(hdr[1])
	if hdr[0]&0x02 != 0 {
		hdr = hdr[:9]
		if _, err := io.ReadFull(c, hdr[2:]); err != nil {
			t.Fatalf("reading long frame header: %v", err)
		}
		size = binary.BigEndian.Uint64(hdr[1:])
	}
	if size > 1<<20 {
		t.Fatalf("frame of %d bytes: too large for a golden test", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("reading frame body: %v", err)
	}
	return append(hdr, body...)
}

// rawPeer binds a Go socket of typ and dials it with a raw TCP connection.
func rawPeer(t *testing.T, typ zmq.Type, cfg *zmq.Config) (*zmq.Socket, net.Conn) {
	t.Helper()
	g := newGo(t, typ, cfg)
	if err := g.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(g.LastEndpoint(), "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return g, c
}

// handshake plays libzmq's side of a handshake, byte for byte from the
// golden files, and returns our greeting and READY.
func handshake(t *testing.T, c net.Conn, greetingFile, readyFile string) (greeting, ready []byte) {
	t.Helper()
	if _, err := c.Write(golden(t, greetingFile)); err != nil {
		t.Fatal(err)
	}
	greeting = make([]byte, 64)
	if _, err := io.ReadFull(c, greeting); err != nil {
		t.Fatalf("reading our greeting: %v", err)
	}
	if _, err := c.Write(golden(t, readyFile)); err != nil {
		t.Fatal(err)
	}
	return greeting, rawFrame(t, c)
}

// TestGoldenHandshake compares our greeting and READY for each socket type
// with libzmq's. The greeting must match except for signature bytes 1-8
// (padding, which libzmq fills with 0x00...0x01); READY must be libzmq's,
// byte for byte (an empty Identity on REQ, DEALER and ROUTER included).
func TestGoldenHandshake(t *testing.T) {
	types := []struct {
		typ  zmq.Type
		peer string // the libzmq type whose READY we replay
	}{
		{zmq.Pair, "pair"}, {zmq.Pub, "sub"}, {zmq.Sub, "pub"}, {zmq.Req, "rep"}, {zmq.Rep, "req"},
		{zmq.Dealer, "router"}, {zmq.Router, "dealer"}, {zmq.Pull, "push"}, {zmq.Push, "pull"},
		{zmq.XPub, "xsub"}, {zmq.XSub, "xpub"},
	}
	want := golden(t, "greeting-null.bin")
	for _, tt := range types {
		name := strings.ToLower(tt.typ.String())
		t.Run(name, func(t *testing.T) {
			_, c := rawPeer(t, tt.typ, nil)
			g, ready := handshake(t, c, "greeting-null.bin", "ready-"+tt.peer+".bin")
			if g[0] != want[0] || g[9] != want[9] || !bytes.Equal(g[10:], want[10:]) {
				t.Fatalf("greeting differs from libzmq's beyond the padding:\n- want: % x\n-  got: % x", want, g)
			}
			wantReady := golden(t, "ready-"+name+".bin")
			if !bytes.Equal(ready, wantReady) {
				t.Fatalf("READY differs from libzmq's:\n- want: % x (%q)\n-  got: % x (%q)",
					wantReady, readyProps(t, wantReady), ready, readyProps(t, ready))
			}
		})
	}
}

// readyProps decodes a READY command frame's properties.
func readyProps(t *testing.T, frame []byte) map[string]string {
	t.Helper()
	body := frame[2:]
	if frame[0]&0x02 != 0 {
		body = frame[9:]
	}
	if frame[0]&0x04 == 0 || len(body) < 6 || string(body[:6]) != "\x05READY" {
		t.Fatalf("not a READY command: % x", frame)
	}
	props := map[string]string{}
	for p := body[6:]; len(p) > 0; {
		n := int(p[0])
		if len(p) < 1+n+4 {
			t.Fatalf("truncated property in % x", frame)
		}
		name := string(p[1 : 1+n])
		vl := int(binary.BigEndian.Uint32(p[1+n:]))
		p = p[1+n+4:]
		if len(p) < vl {
			t.Fatalf("truncated property value in % x", frame)
		}
		props[name] = string(p[:vl])
		p = p[vl:]
	}
	return props
}

// TestGoldenFramesFromLibzmq feeds libzmq's PUSH frames to our PULL.
func TestGoldenFramesFromLibzmq(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, c := rawPeer(t, zmq.Pull, nil)
	handshake(t, c, "greeting-null.bin", "ready-push.bin")
	seq := make([]byte, 256)
	for i := range seq {
		seq[i] = byte(i)
	}
	tests := []struct {
		file string
		want zmq.Msg
	}{
		{"msg-short.bin", zmq.NewMsgString("hello")},
		{"msg-empty.bin", zmq.Msg{{}}},
		{"msg-255.bin", zmq.Msg{seq[:255]}},
		{"msg-256.bin", zmq.Msg{seq}},
		{"msg-multipart.bin", zmq.NewMsgString("part1", "", "part3")},
	}
	for _, tt := range tests {
		if _, err := c.Write(golden(t, tt.file)); err != nil {
			t.Fatal(err)
		}
		wantMsg(t, tt.file, tt.want, goRecv(t, ctx, g))
	}
}

// TestGoldenFramesToLibzmq checks that our PUSH encodes frames exactly as
// libzmq does.
func TestGoldenFramesToLibzmq(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, c := rawPeer(t, zmq.Push, nil)
	handshake(t, c, "greeting-null.bin", "ready-pull.bin")
	seq := make([]byte, 256)
	for i := range seq {
		seq[i] = byte(i)
	}
	tests := []struct {
		file string
		msg  zmq.Msg
	}{
		{"msg-short.bin", zmq.NewMsgString("hello")},
		{"msg-empty.bin", zmq.Msg{{}}},
		{"msg-255.bin", zmq.Msg{seq[:255]}},
		{"msg-256.bin", zmq.Msg{seq}},
		{"msg-multipart.bin", zmq.NewMsgString("part1", "", "part3")},
	}
	for _, tt := range tests {
		goSend(t, ctx, g, tt.msg)
		want := golden(t, tt.file)
		var got []byte
		for len(got) < len(want) {
			got = append(got, rawFrame(t, c)...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s:\n- want: % x\n-  got: % x", tt.file, want, got)
		}
	}
}

// TestGoldenSubscriptions replays libzmq SUB's subscriptions in both wire
// forms (3.1 commands, 3.0 \x01-prefixed frames) to our PUB.
func TestGoldenSubscriptions(t *testing.T) {
	for _, v := range []string{"31", "30"} {
		t.Run("zmtp"+v, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			g, c := rawPeer(t, zmq.Pub, nil)
			greet := "greeting-null.bin"
			if v == "30" {
				greet = "greeting-null-30-peer.bin"
			}
			handshake(t, c, greet, "ready-sub.bin")
			if _, err := c.Write(golden(t, "subscribe-"+v+".bin")); err != nil {
				t.Fatal(err)
			}
			// The subscription is applied asynchronously: publish until
			// the first topic message arrives.
			want := []byte("\x00\x07topic-1")
			got := make(chan []byte, 1)
			go func() {
				buf := make([]byte, len(want))
				if _, err := io.ReadFull(c, buf); err == nil {
					got <- buf
				}
				close(got)
			}()
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				goSend(t, ctx, g, zmq.NewMsgString("other"))
				goSend(t, ctx, g, zmq.NewMsgString("topic-1"))
				select {
				case b := <-got:
					if !bytes.Equal(b, want) {
						t.Fatalf("after SUBSCRIBE:\n- want: % x\n-  got: % x", want, b)
					}
					return
				case <-tick.C:
				case <-ctx.Done():
					t.Fatal("no publication after libzmq's SUBSCRIBE")
				}
			}
		})
	}
}

// TestGoldenHeartbeat sends libzmq's PING to our socket and expects a PONG
// with the same bytes libzmq answers (context echoed), then sends the
// PING libzmq itself sends (empty context).
func TestGoldenHeartbeat(t *testing.T) {
	_, c := rawPeer(t, zmq.Dealer, nil)
	handshake(t, c, "greeting-null.bin", "ready-router.bin")
	if _, err := c.Write(golden(t, "ping-ours.bin")); err != nil {
		t.Fatal(err)
	}
	if got, want := rawFrame(t, c), golden(t, "pong.bin"); !bytes.Equal(got, want) {
		t.Fatalf("PONG:\n- want: % x\n-  got: % x", want, got)
	}
	if _, err := c.Write(golden(t, "ping.bin")); err != nil {
		t.Fatal(err)
	}
	got := rawFrame(t, c)
	if want := []byte("\x04\x05\x04PONG"); !bytes.Equal(got, want) {
		t.Fatalf("PONG to an empty-context PING:\n- want: % x\n-  got: % x", want, got)
	}
}

// TestGoldenReadyIdentity checks that our ROUTER routes by the Identity
// libzmq's DEALER sends in READY.
func TestGoldenReadyIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, c := rawPeer(t, zmq.Router, nil)
	handshake(t, c, "greeting-null.bin", "ready-dealer-identity.bin")
	if _, err := c.Write(golden(t, "msg-short.bin")); err != nil {
		t.Fatal(err)
	}
	wantMsg(t, "ROUTER received", zmq.NewMsgString("dealer-1", "hello"), goRecv(t, ctx, g))
	goSend(t, ctx, g, zmq.NewMsgString("dealer-1", "hello"))
	if got, want := rawFrame(t, c), golden(t, "msg-short.bin"); !bytes.Equal(got, want) {
		t.Fatalf("reply to dealer-1:\n- want: % x\n-  got: % x", want, got)
	}
}

// TestGoldenMalformedError feeds libzmq 4.3.4's malformed ERROR command
// (its answer to a bad PLAIN password) in place of READY: the handshake
// must fail cleanly, reported by the monitor, with no panic.
func TestGoldenMalformedError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev := newEvents()
	_, c := rawPeer(t, zmq.Pull, &zmq.Config{Monitor: ev.add})
	if _, err := c.Write(golden(t, "greeting-null.bin")); err != nil {
		t.Fatal(err)
	}
	g := make([]byte, 64)
	if _, err := io.ReadFull(c, g); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(golden(t, "error-plain-denied.bin")); err != nil {
		t.Fatal(err)
	}
	e := ev.wait(t, ctx, isType(zmq.EventHandshakeFailed))
	if e.Err == nil {
		t.Fatal("handshake failed without a reason")
	}
	t.Log(fmt.Sprint("reason: ", e.Err))
}
