package zmq_test

// Close and subscription behaviour seen from a raw peer that plays
// libzmq's side byte for byte (the golden files), so each test checks the
// exact wire without a peer process.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard/switchboard/zmq"
)

// rawListener listens on tcp or unix for a Go socket to connect to, and
// returns the endpoint in zmq's syntax.
func rawListener(t *testing.T, network string) (net.Listener, string) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if network == "unix" {
		return ln, "ipc://" + addr
	}
	return ln, "tcp://" + ln.Addr().String()
}

// rawAccept accepts one connection with a deadline.
func rawAccept(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		r.c.SetDeadline(time.Now().Add(10 * time.Second))
		return r.c
	case <-time.After(10 * time.Second):
		ln.Close()
		t.Fatal("the Go socket did not connect")
		return nil
	}
}

// subscribeFrame is the SUBSCRIBE command libzmq sends to a ZMTP 3.1 peer.
func subscribeFrame(topic string) []byte {
	body := "\x09SUBSCRIBE" + topic
	return append([]byte{0x04, byte(len(body))}, body...)
}

// TestCloseHalfCloses checks how Close ends a connection whose queue it
// has written: the peer reads every message, then EOF (a FIN, not a reset
// and not a hang-up while it is still reading), and Close waits for the
// peer to close its side before it returns.
func TestCloseHalfCloses(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			ln, ep := rawListener(t, network)
			g, err := zmq.NewSocket(zmq.Push, &zmq.Config{Linger: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Connect(ep); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			const n = 100
			for i := 0; i < n; i++ {
				goSend(t, ctx, g, zmq.NewMsgString("hello")) // queued while connecting
			}
			closed := make(chan struct{})
			go func() {
				g.Close()
				close(closed)
			}()
			c := rawAccept(t, ln)
			handshake(t, c, "greeting-null.bin", "ready-pull.bin")
			want := golden(t, "msg-short.bin")
			for i := 0; i < n; i++ {
				if got := rawFrame(t, c); !bytes.Equal(got, want) {
					t.Fatalf("message %d:\n- want: % x\n-  got: % x", i, want, got)
				}
			}
			var b [1]byte
			if k, err := c.Read(b[:]); k != 0 || err != io.EOF {
				t.Fatalf("after the last message: read %d bytes, %v; want EOF", k, err)
			}
			select {
			case <-closed:
				t.Fatal("Close returned before the peer closed its side (Linger is a minute)")
			default:
			}
			c.Close()
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("Close still waiting after the peer closed")
			}
		})
	}
}

// TestCloseFullRecvQueue checks that a socket whose receive queue is full
// does not linger on that connection: Close stops taking messages, so its
// reader reaches the peer's EOF. It also checks that a connection that
// carried no messages is not lingered on.
func TestCloseFullRecvQueue(t *testing.T) {
	tests := []struct {
		name  string
		typ   [2]zmq.Type // the socket closed, its peer
		reply bool        // the closed socket sent a message
	}{
		{"PAIR sent and receives", [2]zmq.Type{zmq.Pair, zmq.Pair}, true},
		{"PULL receives only", [2]zmq.Type{zmq.Pull, zmq.Push}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			a := newGo(t, tt.typ[0], &zmq.Config{RecvHWM: 1, Linger: time.Minute})
			if err := a.Bind("tcp://127.0.0.1:*"); err != nil {
				t.Fatal(err)
			}
			b := newGo(t, tt.typ[1], &zmq.Config{Linger: -1})
			if err := b.Connect(a.LastEndpoint()); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 200; i++ {
				goSend(t, ctx, b, zmq.NewMsgString("x"))
			}
			goRecv(t, ctx, a) // connected, and the queue refills at once
			if tt.reply {
				goSend(t, ctx, a, zmq.NewMsgString("y"))
				goRecv(t, ctx, b) // written: Close waits for b's EOF
			}
			closed := make(chan struct{})
			go func() {
				a.Close()
				close(closed)
			}()
			select {
			case <-closed:
			case <-ctx.Done():
				t.Fatal("Close held by a connection whose reader waits for room in the receive queue")
			}
			if _, err := a.Recv(ctx); !errors.Is(err, zmq.ErrClosed) {
				t.Fatalf("Recv after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestSubSubscribesOnce checks that each subscription reaches a new peer
// exactly once: one made while connecting, then again after a reconnect.
func TestSubSubscribesOnce(t *testing.T) {
	ln, ep := rawListener(t, "tcp")
	g := newGo(t, zmq.Sub, &zmq.Config{ReconnectIvl: 10 * time.Millisecond})
	if err := g.Connect(ep); err != nil {
		t.Fatal(err)
	}
	if err := g.Subscribe([]byte("A")); err != nil { // before the handshake
		t.Fatal(err)
	}
	c := rawAccept(t, ln)
	handshake(t, c, "greeting-null.bin", "ready-pub.bin")
	if got, want := rawFrame(t, c), subscribeFrame("A"); !bytes.Equal(got, want) {
		t.Fatalf("first frame:\n- want: % x\n-  got: % x", want, got)
	}
	if err := g.Subscribe([]byte("B")); err != nil {
		t.Fatal(err)
	}
	// The next frame is B's: A went out once.
	if got, want := rawFrame(t, c), subscribeFrame("B"); !bytes.Equal(got, want) {
		t.Fatalf("second frame:\n- want: % x\n-  got: % x", want, got)
	}
	c.Close()

	c = rawAccept(t, ln) // the reconnection gets the whole set, once
	handshake(t, c, "greeting-null.bin", "ready-pub.bin")
	got := map[string]int{}
	for i := 0; i < 2; i++ {
		got[string(rawFrame(t, c))]++
	}
	if got[string(subscribeFrame("A"))] != 1 || got[string(subscribeFrame("B"))] != 1 {
		t.Fatalf("after reconnecting: %v, want A and B once each", got)
	}
	if err := g.Subscribe([]byte("C")); err != nil {
		t.Fatal(err)
	}
	if got, want := rawFrame(t, c), subscribeFrame("C"); !bytes.Equal(got, want) {
		t.Fatalf("after reconnecting, next frame:\n- want: % x\n-  got: % x", want, got)
	}
}

// TestCloseBeforePeerListens checks that Linger covers a peer that is not
// there yet: Close, called while the dialer still retries, keeps
// reconnecting until the queue is delivered, and the peer gets every
// message.
func TestCloseBeforePeerListens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep := "ipc://" + filepath.Join(t.TempDir(), "late")
	ev := newEvents()
	push, err := zmq.NewSocket(zmq.Push, &zmq.Config{Linger: time.Minute, Monitor: ev.add,
		ReconnectIvl: 5 * time.Millisecond, ReconnectIvlMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := push.Connect(ep); err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := 0; i < n; i++ {
		goSend(t, ctx, push, zmq.NewMsgString("hello"))
	}
	// retries returns a predicate that matches the k-th failed dial.
	retries := func(k int) func(zmq.Event) bool {
		seen := 0
		return func(e zmq.Event) bool {
			if e.Type == zmq.EventConnectRetried {
				seen++
			}
			return seen == k
		}
	}
	ev.wait(t, ctx, retries(1)) // nobody listens yet
	closed := make(chan struct{})
	go func() {
		push.Close()
		close(closed)
	}()
	// Subscribe on a PUSH is ErrNotSupported, or ErrClosed once Close
	// has begun: wait for that, then for one more failed dial.
	for k := 2; ; k++ {
		closing := errors.Is(push.Subscribe(nil), zmq.ErrClosed)
		ev.wait(t, ctx, retries(k))
		if closing {
			break
		}
	}
	pull := newGo(t, zmq.Pull, nil)
	if err := pull.Bind(ep); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		wantMsg(t, "PULL received", zmq.NewMsgString("hello"), goRecv(t, ctx, pull))
	}
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close did not return after delivering its queue")
	}
}
