package zmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
)

// TestDirectRecv: over tcp and ipc, REQ and REP read replies and requests
// from the goroutine that calls Recv (direct.go), every message arrives
// whole and counted in Stats, and inproc never receives directly.
func TestDirectRecv(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:*", "ipc://" + filepath.Join(t.TempDir(), "d.sock"), "inproc://direct"} {
		t.Run(ep[:3], func(t *testing.T) {
			ctx := testCtx(t)
			rep, req := pairUp(t, Rep, Req, ep, nil, nil)
			const n = 300
			var bytesIn uint64
			for i := range n {
				body := bytes.Repeat([]byte{byte(i)}, i*7%2000)
				bytesIn += uint64(len(body)) + 3 // and the "end" frame
				if err := req.Send(ctx, Msg{body, []byte("end")}); err != nil {
					t.Fatal(err)
				}
				m, err := rep.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(m) != 2 || !bytes.Equal(m[0], body) || string(m[1]) != "end" {
					t.Fatalf("request %d: got %d frames", i, len(m))
				}
				if err := rep.Send(ctx, m); err != nil {
					t.Fatal(err)
				}
				r, err := req.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(r) != 2 || !bytes.Equal(r[0], body) {
					t.Fatalf("reply %d: got %d frames", i, len(r))
				}
			}
			if ep[:3] == "inp" {
				if rep.directIn.Load()+req.directIn.Load() != 0 {
					t.Fatal("inproc received directly")
				}
				return
			}
			// The first Recv of each side asks for the read side; most of
			// the others read directly.
			if got := rep.directIn.Load(); got < n/2 {
				t.Errorf("REP read %d of %d requests directly", got, n)
			}
			if got := req.directIn.Load(); got < n/2 {
				t.Errorf("REQ read %d of %d replies directly", got, n)
			}
			st := rep.Stats()
			if len(st.Conns) != 1 || st.Conns[0].MsgsIn != n || st.Conns[0].BytesIn != bytesIn {
				t.Errorf("REP stats: %+v, want %d messages, %d bytes in", st.Conns, n, bytesIn)
			}
		})
	}
}

// waitDirectRecv waits until a Recv of s waits on a connection itself.
func waitDirectRecv(t *testing.T, s *Socket) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c := s.directConn(); c != nil {
			c.d.mu.Lock()
			waiting := c.d.busy && c.d.idle
			c.d.mu.Unlock()
			if waiting {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("no Recv waits on the connection itself")
}

// recvAsync receives a message from s in a goroutine and reports the
// error, or a mismatch with want (frames as strings) when given.
func recvAsync(ctx context.Context, s *Socket, want ...string) <-chan error {
	done := make(chan error, 1)
	go func() {
		m, err := s.RecvString(ctx)
		if err == nil && want != nil && fmt.Sprint(m) != fmt.Sprint(want) {
			err = fmt.Errorf("got %q, want %q", m, want)
		}
		done <- err
	}()
	return done
}

// warmDirect makes a round trip, after which both sides hold their
// connection's read side (lent for lendLinger).
func warmDirect(t *testing.T, ctx context.Context, rep, req *Socket) {
	t.Helper()
	for range 3 {
		mustSend(t, ctx, req, "warm")
		mustRecv(t, ctx, rep, "warm")
		mustSend(t, ctx, rep, "up")
		mustRecv(t, ctx, req, "up")
	}
}

// TestDirectRecvCtx: a Recv waiting on the connection itself returns the
// ctx's error when it ends, and the next message is not lost.
func TestDirectRecvCtx(t *testing.T) {
	ctx := testCtx(t)
	rep, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*", nil, nil)
	warmDirect(t, ctx, rep, req)
	for _, d := range []time.Duration{0, time.Millisecond, 30 * time.Millisecond} {
		short, cancel := context.WithTimeout(ctx, d)
		_, err := rep.Recv(short)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Recv with a %v timeout: %v", d, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	done := recvAsync(cctx, rep)
	waitDirectRecv(t, rep)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Recv: %v", err)
	}
	mustSend(t, ctx, req, "after")
	mustRecv(t, ctx, rep, "after")
	mustSend(t, ctx, rep, "reply")
	mustRecv(t, ctx, req, "reply")
}

// TestDirectRecvClose: Close ends a Recv waiting on the connection itself
// with ErrClosed.
func TestDirectRecvClose(t *testing.T) {
	ctx := testCtx(t)
	rep, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*", nil, nil)
	warmDirect(t, ctx, rep, req)
	mustSend(t, ctx, req, "no reply")
	done := recvAsync(ctx, req)
	waitDirectRecv(t, req)
	req.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv during Close: %v", err)
	}
}

// TestDirectRecvRawPeer drives a REP that receives directly from a
// hand-written peer: a request cut into pieces that arrive apart, one
// larger than the read buffer, PINGs between and inside requests (each
// answered), and then the peer's disconnection, which a Recv waiting on
// the connection reports to the monitor and survives.
func TestDirectRecvRawPeer(t *testing.T) {
	ctx := testCtx(t)
	ev := newEvents()
	rep := newSock(t, Rep, &Config{Monitor: ev.add})
	if err := rep.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	peer := dialRaw(t, rep.LastEndpoint())
	peer.handshake(t, "REQ")
	frame := func(flags byte, body []byte) []byte { return zmtp.AppendFrame(nil, flags, body) }
	request := func(body []byte) []byte {
		return append(frame(zmtp.FlagMore, nil), frame(0, body)...)
	}
	ping := zmtp.AppendPing(nil, 0, []byte("hb"))
	readReply := func(want []byte) {
		t.Helper()
		for {
			flags, body, err := zmtp.ReadFrame(peer.br, nil, 1<<24)
			if err != nil {
				t.Fatal(err)
			}
			if flags&zmtp.FlagCommand != 0 {
				continue // PONG
			}
			if flags&zmtp.FlagMore != 0 {
				if len(body) != 0 {
					t.Fatalf("envelope frame of %d bytes", len(body))
				}
				continue
			}
			if !bytes.Equal(body, want) {
				t.Fatalf("reply of %d bytes, want %d", len(body), len(want))
			}
			return
		}
	}
	// echo receives a request in a goroutine and sends it back.
	echo := func(body []byte) <-chan error {
		got := make(chan error, 1)
		go func() {
			m, err := rep.Recv(ctx)
			if err == nil && (len(m) != 1 || !bytes.Equal(m[0], body)) {
				err = fmt.Errorf("request of %d frames", len(m))
			}
			if err == nil {
				err = rep.Send(ctx, m)
			}
			got <- err
		}()
		return got
	}
	write := func(b []byte) {
		t.Helper()
		if _, err := peer.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		body := []byte(fmt.Sprint("plain ", i))
		got := echo(body)
		if i > 0 {
			// The first Recv asks for the read side; the others find
			// it lent, and wait on the connection.
			waitDirectRecv(t, rep)
		}
		write(append(append([]byte(nil), ping...), request(body)...))
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		readReply(body)
	}
	if rep.directIn.Load() == 0 {
		t.Fatal("no request was read directly")
	}
	cases := []struct {
		name string
		body []byte
		cut  []int // offsets at which the request is split
	}{
		{"header split", []byte("split"), []int{1, 3}},
		{"body split", bytes.Repeat([]byte("b"), 900), []int{2, 500}},
		{"long frame", bytes.Repeat([]byte("L"), 3000), []int{4, 9, 2000}},
		{"larger than the buffer", bytes.Repeat([]byte("X"), readBufSize*3), []int{100, readBufSize}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := request(tc.body)
			// A PING inside the message, between its frames.
			b = append(append(append([]byte(nil), b[:2]...), ping...), b[2:]...)
			got := echo(tc.body)
			prev := 0
			for _, cut := range tc.cut {
				write(b[prev:cut])
				prev = cut
				time.Sleep(10 * time.Millisecond)
			}
			write(b[prev:])
			if err := <-got; err != nil {
				t.Fatal(err)
			}
			readReply(tc.body)
		})
	}
	// The peer leaves while Recv waits on the connection.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := recvAsync(rctx, rep)
	waitDirectRecv(t, rep)
	peer.Close()
	ev.wait(t, ctx, func(e Event) bool { return e.Type == EventDisconnected })
	select {
	case err := <-done:
		t.Fatalf("Recv returned %v with no message", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Recv: %v", err)
	}
}

// TestDirectRecvHeartbeat: while a REQ waits for a slow reply on the
// connection itself, heartbeats go on both ways and nobody is dropped;
// an idle pair stays up too, its read sides back with their readers.
func TestDirectRecvHeartbeat(t *testing.T) {
	ctx := testCtx(t)
	ev := newEvents()
	hb := func() *Config {
		return &Config{HeartbeatIvl: 10 * time.Millisecond, HeartbeatTimeout: 60 * time.Millisecond, Monitor: ev.add}
	}
	rep, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*", hb(), hb())
	warmDirect(t, ctx, rep, req)
	mustSend(t, ctx, req, "slow")
	mustRecv(t, ctx, rep, "slow")
	got := recvAsync(ctx, req, "late")
	time.Sleep(300 * time.Millisecond) // REP's read side goes back to its reader
	mustSend(t, ctx, rep, "late")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // both idle
	warmDirect(t, ctx, rep, req)
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.ev {
		if e.Type == EventDisconnected {
			t.Fatalf("dropped: %+v", e)
		}
	}
}

// TestDirectRecvPoller: a Poller sees a request that arrives while the
// REP's read side is lent to Recv.
func TestDirectRecvPoller(t *testing.T) {
	ctx := testCtx(t)
	rep, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*", nil, nil)
	p := NewPoller()
	defer p.Close()
	p.Add(rep, PollIn)
	for i := range 20 {
		warmDirect(t, ctx, rep, req)
		mustSend(t, ctx, req, fmt.Sprint(i))
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		polled, err := p.Poll(pctx)
		cancel()
		if err != nil || len(polled) != 1 || polled[0].Events&PollIn == 0 {
			t.Fatalf("poll %d: %v %v", i, polled, err)
		}
		mustRecv(t, ctx, rep, fmt.Sprint(i))
		mustSend(t, ctx, rep, "ok")
		mustRecv(t, ctx, req, "ok")
	}
}

// TestDirectRecvTwoPeers: a REP with two peers fair-queues through its
// queue; with one left it reads directly again.
func TestDirectRecvTwoPeers(t *testing.T) {
	ctx := testCtx(t)
	rep, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*", nil, nil)
	warmDirect(t, ctx, rep, req)
	req2 := newSock(t, Req, nil)
	if err := req2.Connect(rep.LastEndpoint()); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		for _, r := range []*Socket{req, req2} {
			mustSend(t, ctx, r, fmt.Sprint(i))
			mustRecv(t, ctx, rep, fmt.Sprint(i))
			mustSend(t, ctx, rep, "ok")
			mustRecv(t, ctx, r, "ok")
		}
	}
	req2.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(rep.Stats().Conns) != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// A Recv waits on the one connection left.
	warmDirect(t, ctx, rep, req)
	before := rep.directIn.Load()
	got := recvAsync(ctx, rep)
	waitDirectRecv(t, rep)
	mustSend(t, ctx, req, "last")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if rep.directIn.Load() != before+1 {
		t.Fatal("REP with one peer left does not read directly")
	}
}

// TestDirectRecvOrder: a DEALER streams numbered requests to a REP
// without waiting for replies; whether Recv takes each from the queue or
// from the connection itself, they come in order.
func TestDirectRecvOrder(t *testing.T) {
	ctx := testCtx(t)
	rep, dealer := pairUp(t, Rep, Dealer, "tcp://127.0.0.1:*", nil, nil)
	const n = 3000
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := dealer.Send(ctx, NewMsgString("", fmt.Sprint(i))); err != nil {
				sent <- err
				return
			}
			if i%500 == 0 {
				time.Sleep(time.Millisecond) // let Recv catch up: direct again
			}
		}
		for range n {
			if _, err := dealer.Recv(ctx); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for i := range n {
		m, err := rep.RecvString(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || m[0] != fmt.Sprint(i) {
			t.Fatalf("request %d: got %q", i, m)
		}
		if err := rep.Send(ctx, NewMsgString(m[0])); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}
