package zmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newSock(t testing.TB, typ Type, cfg *Config) *Socket {
	t.Helper()
	s, err := NewSocket(typ, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// transports returns a bind endpoint per transport.
func transports(t testing.TB) map[string]func() string {
	return map[string]func() string{
		"tcp":    func() string { return "tcp://127.0.0.1:*" },
		"ipc":    func() string { return "ipc://" + filepath.Join(t.TempDir(), "s.sock") },
		"inproc": func() string { return fmt.Sprintf("inproc://t%d", time.Now().UnixNano()) },
	}
}

// pair binds a and connects b (sharing one Inproc).
func pairUp(t testing.TB, ta, tb Type, ep string, ca, cb *Config) (a, b *Socket) {
	t.Helper()
	ns := NewInproc()
	if ca == nil {
		ca = &Config{}
	}
	if cb == nil {
		cb = &Config{}
	}
	ca.Inproc, cb.Inproc = ns, ns
	a = newSock(t, ta, ca)
	b = newSock(t, tb, cb)
	if err := a.Bind(ep); err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(a.LastEndpoint()); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func mustSend(t testing.TB, ctx context.Context, s *Socket, frames ...string) {
	t.Helper()
	if err := s.Send(ctx, NewMsgString(frames...)); err != nil {
		t.Fatalf("send %v: %v", frames, err)
	}
}

func mustRecv(t testing.TB, ctx context.Context, s *Socket, want ...string) {
	t.Helper()
	got, err := s.RecvString(ctx)
	if err != nil {
		t.Fatalf("recv: %v (want %q)", err, want)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("recv:\n- want: %q\n-  got: %q", want, got)
	}
}

func TestPatterns(t *testing.T) {
	for tname, ep := range transports(t) {
		t.Run(tname, func(t *testing.T) {
			t.Run("PushPull", func(t *testing.T) {
				ctx := testCtx(t)
				pull, push := pairUp(t, Pull, Push, ep(), nil, nil)
				for i := range 100 {
					mustSend(t, ctx, push, "a", fmt.Sprint(i))
				}
				for i := range 100 {
					mustRecv(t, ctx, pull, "a", fmt.Sprint(i))
				}
			})
			t.Run("ReqRep", func(t *testing.T) {
				ctx := testCtx(t)
				rep, req := pairUp(t, Rep, Req, ep(), nil, nil)
				for i := range 10 {
					mustSend(t, ctx, req, "ping", fmt.Sprint(i))
					mustRecv(t, ctx, rep, "ping", fmt.Sprint(i))
					mustSend(t, ctx, rep, "pong", fmt.Sprint(i))
					mustRecv(t, ctx, req, "pong", fmt.Sprint(i))
				}
				if _, err := req.Recv(ctx); !errors.Is(err, ErrState) {
					t.Fatalf("REQ recv before send: want ErrState, got %v", err)
				}
				if err := rep.Send(ctx, NewMsgString("x")); !errors.Is(err, ErrState) {
					t.Fatalf("REP send before recv: want ErrState, got %v", err)
				}
			})
			t.Run("DealerRouter", func(t *testing.T) {
				ctx := testCtx(t)
				router, dealer := pairUp(t, Router, Dealer, ep(), nil, &Config{RoutingID: []byte("D1")})
				mustSend(t, ctx, dealer, "hello")
				mustRecv(t, ctx, router, "D1", "hello")
				mustSend(t, ctx, router, "D1", "world")
				mustRecv(t, ctx, dealer, "world")
			})
			t.Run("ReqRouter", func(t *testing.T) {
				ctx := testCtx(t)
				router, req := pairUp(t, Router, Req, ep(), nil, nil)
				mustSend(t, ctx, req, "q")
				m, err := router.Recv(ctx)
				if err != nil || len(m) != 3 || len(m[1]) != 0 || string(m[2]) != "q" {
					t.Fatalf("router got %q, %v", m, err)
				}
				if err := router.Send(ctx, Msg{m[0], {}, []byte("a")}); err != nil {
					t.Fatal(err)
				}
				mustRecv(t, ctx, req, "a")
			})
			t.Run("PubSub", func(t *testing.T) {
				ctx := testCtx(t)
				pub, sub := pairUp(t, Pub, Sub, ep(), nil, nil)
				if err := sub.Subscribe([]byte("a")); err != nil {
					t.Fatal(err)
				}
				// Wait for the subscription to arrive: publish until seen.
				waitRecv(t, ctx, pub, sub, "a", "1")
				mustSend(t, ctx, pub, "b", "no")
				mustSend(t, ctx, pub, "ab", "yes")
				mustRecv(t, ctx, sub, "ab", "yes")
			})
			t.Run("Pair", func(t *testing.T) {
				ctx := testCtx(t)
				a, b := pairUp(t, Pair, Pair, ep(), nil, nil)
				mustSend(t, ctx, b, "x")
				mustRecv(t, ctx, a, "x")
				mustSend(t, ctx, a, "y")
				mustRecv(t, ctx, b, "y")
			})
			t.Run("XPubXSub", func(t *testing.T) {
				ctx := testCtx(t)
				xpub, xsub := pairUp(t, XPub, XSub, ep(), nil, nil)
				mustSend(t, ctx, xsub, "\x01top")
				mustRecv(t, ctx, xpub, "\x01top")
				mustSend(t, ctx, xpub, "topic", "1")
				mustRecv(t, ctx, xsub, "topic", "1")
				mustSend(t, ctx, xsub, "\x00top")
				mustRecv(t, ctx, xpub, "\x00top")
			})
		})
	}
}

// waitRecv publishes frames until sub receives them (subscriptions travel
// asynchronously, the "slow joiner").
func waitRecv(t testing.TB, ctx context.Context, pub, sub *Socket, frames ...string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		mustSend(t, ctx, pub, frames...)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		m, err := sub.RecvString(rctx)
		cancel()
		if err == nil {
			if fmt.Sprint(m) != fmt.Sprint(frames) {
				t.Fatalf("got %q want %q", m, frames)
			}
			// Drain duplicates.
			for {
				rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				_, err := sub.Recv(rctx)
				cancel()
				if err != nil {
					return
				}
			}
		}
	}
	t.Fatal("subscription never arrived")
}

var _ = bytes.Equal
