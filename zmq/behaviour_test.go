package zmq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
)

// events collects monitor events for a test.
type events struct {
	mu sync.Mutex
	ev []Event
	ch chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1)} }

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

// wait returns the first event matching f, waiting up to ctx.
func (e *events) wait(t testing.TB, ctx context.Context, f func(Event) bool) Event {
	t.Helper()
	for {
		e.mu.Lock()
		for _, ev := range e.ev {
			if f(ev) {
				e.mu.Unlock()
				return ev
			}
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-ctx.Done():
			t.Fatalf("event never came: %v", ctx.Err())
		}
	}
}

// rawPeer is a hand-written ZMTP peer over TCP for bad-input tests.
type rawPeer struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, ep string) *rawPeer {
	t.Helper()
	addr := strings.TrimPrefix(ep, "tcp://")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawPeer{Conn: c, br: bufio.NewReader(c)}
}

// handshake sends a NULL greeting and READY as typ and reads the peer's.
func (r *rawPeer) handshake(t testing.TB, typ string) {
	t.Helper()
	out := zmtp.AppendGreeting(nil, zmtp.Greeting{Mechanism: "NULL"})
	out = zmtp.AppendReady(out, zmtp.Metadata{{Name: "Socket-Type", Value: []byte(typ)}})
	if _, err := r.Write(out); err != nil {
		t.Fatal(err)
	}
	var g [64]byte
	if _, err := io.ReadFull(r.br, g[:]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := zmtp.ReadFrame(r.br, nil, 1<<16); err != nil {
		t.Fatal(err)
	}
}

func TestMuteState(t *testing.T) {
	t.Run("PushBlocksAtHWM", func(t *testing.T) {
		ctx := testCtx(t)
		ns := NewInproc()
		push := newSock(t, Push, &Config{Inproc: ns, SendHWM: 5})
		if err := push.Connect("inproc://later"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			mustSend(t, ctx, push, fmt.Sprint(i))
		}
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if err := push.Send(short, NewMsgString("blocked")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("send at HWM: want DeadlineExceeded, got %v", err)
		}
		// Messages queued before the peer existed arrive once it binds.
		pull := newSock(t, Pull, &Config{Inproc: ns})
		if err := pull.Bind("inproc://later"); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			mustRecv(t, ctx, pull, fmt.Sprint(i))
		}
	})
	t.Run("PushBlocksWithoutPeers", func(t *testing.T) {
		push := newSock(t, Push, nil)
		if err := push.Bind("tcp://127.0.0.1:*"); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := push.Send(short, NewMsgString("x")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want DeadlineExceeded, got %v", err)
		}
	})
	for _, tr := range []string{"inproc", "tcp"} {
		t.Run("PubDropsAtHWM/"+tr, func(t *testing.T) {
			ctx := testCtx(t)
			ep := map[string]string{"inproc": "inproc://pub", "tcp": "tcp://127.0.0.1:*"}[tr]
			pub, sub := pairUp(t, Pub, Sub, ep, &Config{SendHWM: 2}, &Config{RecvHWM: 2})
			sub.Subscribe(nil)
			waitRecv(t, ctx, pub, sub, "hello")
			big := Msg{make([]byte, 64<<10)}
			for range 2000 {
				if err := pub.Send(ctx, big); err != nil {
					t.Fatal(err)
				}
			}
			if st := pub.Stats(); st.Dropped == 0 {
				t.Fatalf("PUB dropped nothing: %+v", st)
			}
		})
	}
	t.Run("RouterDropsUnknown", func(t *testing.T) {
		ctx := testCtx(t)
		r := newSock(t, Router, nil)
		if err := r.Send(ctx, NewMsgString("nobody", "x")); err != nil {
			t.Fatalf("ROUTER to unknown: %v", err)
		}
		if r.Stats().Dropped != 1 {
			t.Fatal("not counted")
		}
		rm := newSock(t, Router, &Config{RouterMandatory: true})
		if err := rm.Send(ctx, NewMsgString("nobody", "x")); !errors.Is(err, ErrHostUnreachable) {
			t.Fatalf("mandatory: want ErrHostUnreachable, got %v", err)
		}
	})
}

func TestRouterHandover(t *testing.T) {
	for _, handover := range []bool{false, true} {
		t.Run(fmt.Sprint("handover=", handover), func(t *testing.T) {
			ctx := testCtx(t)
			ev := newEvents()
			router := newSock(t, Router, &Config{RouterHandover: handover, Monitor: ev.add})
			router.Bind("tcp://127.0.0.1:*")
			d1 := newSock(t, Dealer, &Config{RoutingID: []byte("same")})
			d1.Connect(router.LastEndpoint())
			mustSend(t, ctx, d1, "one")
			mustRecv(t, ctx, router, "same", "one")
			d2 := newSock(t, Dealer, &Config{RoutingID: []byte("same")})
			d2.Connect(router.LastEndpoint())
			if !handover {
				e := ev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
				if !errors.Is(e.Err, ErrAddrInUse) {
					t.Fatalf("refusal reason: %v", e.Err)
				}
				mustSend(t, ctx, router, "same", "to d1")
				mustRecv(t, ctx, d1, "to d1")
				return
			}
			ev.wait(t, ctx, func(e Event) bool { return e.Type == EventDisconnected })
			mustSend(t, ctx, d2, "two")
			mustRecv(t, ctx, router, "same", "two")
			mustSend(t, ctx, router, "same", "to d2")
			mustRecv(t, ctx, d2, "to d2")
		})
	}
}

func TestReqOptions(t *testing.T) {
	t.Run("Relaxed+Correlate", func(t *testing.T) {
		ctx := testCtx(t)
		router, req := pairUp(t, Router, Req, "tcp://127.0.0.1:*", nil, &Config{ReqRelaxed: true, ReqCorrelate: true})
		mustSend(t, ctx, req, "first")
		m1, err := router.Recv(ctx)
		if err != nil || len(m1) != 4 || string(m1[3]) != "first" {
			t.Fatalf("first: %q %v", m1, err)
		}
		mustSend(t, ctx, req, "second") // relaxed: no reply needed
		m2, err := router.Recv(ctx)
		if err != nil || string(m2[3]) != "second" {
			t.Fatalf("second: %q %v", m2, err)
		}
		// A reply to the first request is dropped; the second's arrives.
		router.Send(ctx, Msg{m1[0], m1[1], {}, []byte("stale")})
		router.Send(ctx, Msg{m2[0], m2[1], {}, []byte("fresh")})
		mustRecv(t, ctx, req, "fresh")
	})
	t.Run("StrictState", func(t *testing.T) {
		ctx := testCtx(t)
		_, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*", nil, nil)
		mustSend(t, ctx, req, "q")
		if err := req.Send(ctx, NewMsgString("again")); !errors.Is(err, ErrState) {
			t.Fatalf("want ErrState, got %v", err)
		}
	})
}

func TestXPubOptions(t *testing.T) {
	t.Run("Verbose", func(t *testing.T) {
		for _, verbose := range []bool{false, true} {
			ctx := testCtx(t)
			xpub := newSock(t, XPub, &Config{XPubVerbose: verbose})
			xpub.Bind("tcp://127.0.0.1:*")
			var subs []*Socket
			for range 2 {
				s := newSock(t, Sub, nil)
				s.Subscribe([]byte("t"))
				s.Connect(xpub.LastEndpoint())
				subs = append(subs, s)
			}
			mustRecv(t, ctx, xpub, "\x01t")
			if verbose {
				mustRecv(t, ctx, xpub, "\x01t")
				continue
			}
			// Once both subscribers receive, both subscriptions were
			// processed; only one may have been passed up.
			for _, s := range subs {
				waitRecv(t, ctx, xpub, s, "t")
			}
			short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			_, err := xpub.Recv(short)
			cancel()
			if err == nil {
				t.Fatal("not verbose: duplicate subscription passed up")
			}
		}
	})
	t.Run("Welcome", func(t *testing.T) {
		ctx := testCtx(t)
		_, sub := pairUp(t, XPub, Sub, "tcp://127.0.0.1:*", &Config{XPubWelcome: []byte("WELCOME")}, nil)
		sub.Subscribe([]byte("WEL"))
		mustRecv(t, ctx, sub, "WELCOME")
	})
	t.Run("Manual", func(t *testing.T) {
		ctx := testCtx(t)
		xpub, sub := pairUp(t, XPub, Sub, "inproc://m", &Config{XPubManual: true}, nil)
		sub.Subscribe([]byte("a"))
		mustRecv(t, ctx, xpub, "\x01a")
		// Nothing applied yet: the application subscribes "b" instead.
		if err := xpub.Subscribe([]byte("b")); err != nil {
			t.Fatal(err)
		}
		mustSend(t, ctx, xpub, "a", "dropped")
		mustSend(t, ctx, xpub, "b", "sent")
		sub.Subscribe([]byte("b")) // SUB filters locally too
		mustRecv(t, ctx, sub, "b", "sent")
	})
	t.Run("UnsubscribeOnDisconnect", func(t *testing.T) {
		ctx := testCtx(t)
		xpub := newSock(t, XPub, nil)
		xpub.Bind("tcp://127.0.0.1:*")
		sub, _ := NewSocket(Sub, nil)
		sub.Subscribe([]byte("z"))
		sub.Connect(xpub.LastEndpoint())
		mustRecv(t, ctx, xpub, "\x01z")
		sub.Close()
		mustRecv(t, ctx, xpub, "\x00z")
	})
}

func TestQueueOptions(t *testing.T) {
	t.Run("Conflate", func(t *testing.T) {
		ctx := testCtx(t)
		pull, push := pairUp(t, Pull, Push, "inproc://c", &Config{Conflate: true}, nil)
		for i := range 10 {
			mustSend(t, ctx, push, fmt.Sprint(i))
		}
		mustRecv(t, ctx, pull, "9")
	})
	t.Run("Immediate", func(t *testing.T) {
		ctx := testCtx(t)
		pull := newSock(t, Pull, nil)
		pull.Bind("tcp://127.0.0.1:*")
		dead := newSock(t, Pull, nil)
		dead.Bind("tcp://127.0.0.1:*")
		deadEP := dead.LastEndpoint()
		dead.Close() // nothing listens there now
		ev := newEvents()
		push := newSock(t, Push, &Config{Immediate: true, Monitor: ev.add})
		push.Connect(deadEP)
		push.Connect(pull.LastEndpoint())
		ev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeSucceeded })
		for i := range 10 {
			mustSend(t, ctx, push, fmt.Sprint(i))
		}
		for i := range 10 {
			mustRecv(t, ctx, pull, fmt.Sprint(i))
		}
	})
	t.Run("ProbeRouter", func(t *testing.T) {
		ctx := testCtx(t)
		router, _ := pairUp(t, Router, Dealer, "tcp://127.0.0.1:*", nil, &Config{ProbeRouter: true, RoutingID: []byte("P")})
		mustRecv(t, ctx, router, "P", "")
	})
	t.Run("RoundRobin", func(t *testing.T) {
		ctx := testCtx(t)
		ev := newEvents()
		push := newSock(t, Push, &Config{Monitor: ev.add})
		push.Bind("tcp://127.0.0.1:*")
		var pulls []*Socket
		for range 3 {
			p := newSock(t, Pull, nil)
			p.Connect(push.LastEndpoint())
			pulls = append(pulls, p)
		}
		for n := 0; n < 3; {
			ev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeSucceeded })
			ev.mu.Lock()
			n = 0
			for _, e := range ev.ev {
				if e.Type == EventHandshakeSucceeded {
					n++
				}
			}
			ev.mu.Unlock()
		}
		for i := range 30 {
			mustSend(t, ctx, push, fmt.Sprint(i))
		}
		for _, p := range pulls {
			for range 10 {
				if _, err := p.Recv(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func TestReconnect(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, Pull, nil)
	pull.Bind("tcp://127.0.0.1:*")
	ep := pull.LastEndpoint()
	ev := newEvents()
	push := newSock(t, Push, &Config{ReconnectIvl: 10 * time.Millisecond, Monitor: ev.add})
	push.Connect(ep)
	mustSend(t, ctx, push, "before")
	mustRecv(t, ctx, pull, "before")
	pull.Close()
	ev.wait(t, ctx, func(e Event) bool { return e.Type == EventDisconnected })
	// The peer restarts on the same port; queued messages go through.
	mustSend(t, ctx, push, "while down")
	pull2 := newSock(t, Pull, nil)
	if err := pull2.Bind(ep); err != nil {
		t.Fatal(err)
	}
	mustRecv(t, ctx, pull2, "while down")
	mustSend(t, ctx, push, "after")
	mustRecv(t, ctx, pull2, "after")
}

func TestBadPeers(t *testing.T) {
	setup := func(t *testing.T, cfg *Config) (*Socket, *events, *Socket) {
		ev := newEvents()
		cfg.Monitor = ev.add
		pull := newSock(t, Pull, cfg)
		if err := pull.Bind("tcp://127.0.0.1:*"); err != nil {
			t.Fatal(err)
		}
		good := newSock(t, Push, nil)
		good.Connect(pull.LastEndpoint())
		return pull, ev, good
	}
	// After each bad peer, a good one still gets through.
	check := func(t *testing.T, ctx context.Context, pull, good *Socket) {
		mustSend(t, ctx, good, "still fine")
		mustRecv(t, ctx, pull, "still fine")
	}
	tests := []struct {
		name string
		cfg  Config
		bad  func(t *testing.T, r *rawPeer)
		want EventType
		err  error
	}{
		{"garbage greeting", Config{}, func(t *testing.T, r *rawPeer) {
			r.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("x", 64)))
		}, EventHandshakeFailed, ErrProtocol},
		{"zmtp 2 greeting", Config{}, func(t *testing.T, r *rawPeer) {
			r.Write([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 5})
		}, EventHandshakeFailed, zmtp.ErrVersion},
		{"wrong socket type", Config{}, func(t *testing.T, r *rawPeer) {
			out := zmtp.AppendGreeting(nil, zmtp.Greeting{Mechanism: "NULL"})
			r.Write(zmtp.AppendReady(out, zmtp.Metadata{{Name: "Socket-Type", Value: []byte("PULL")}}))
		}, EventHandshakeFailed, ErrIncompatible},
		{"wrong mechanism", Config{}, func(t *testing.T, r *rawPeer) {
			r.Write(zmtp.AppendGreeting(nil, zmtp.Greeting{Mechanism: "CURVE"}))
		}, EventHandshakeFailed, zmtp.ErrMechanism},
		{"slow handshake", Config{HandshakeTimeout: 50 * time.Millisecond}, func(t *testing.T, r *rawPeer) {
			r.Write([]byte{0xff})
		}, EventHandshakeFailed, nil},
		{"oversize message", Config{MaxMsgSize: 1000}, func(t *testing.T, r *rawPeer) {
			r.handshake(t, "PUSH")
			r.Write(zmtp.AppendFrame(nil, zmtp.FlagMore, make([]byte, 600)))
			r.Write(zmtp.AppendFrame(nil, 0, make([]byte, 600)))
		}, EventDisconnected, ErrMsgTooLarge},
		{"huge declared frame", Config{}, func(t *testing.T, r *rawPeer) {
			r.handshake(t, "PUSH")
			r.Write(zmtp.AppendFrameHeader(nil, 0, 1<<62))
		}, EventDisconnected, ErrMsgTooLarge},
		{"bad flags", Config{}, func(t *testing.T, r *rawPeer) {
			r.handshake(t, "PUSH")
			r.Write([]byte{0xf0, 1, 'x'})
		}, EventDisconnected, ErrProtocol},
		{"malformed command", Config{}, func(t *testing.T, r *rawPeer) {
			r.handshake(t, "PUSH")
			r.Write([]byte{zmtp.FlagCommand, 2, 9, 'x'})
		}, EventDisconnected, ErrProtocol},
		{"peer ERROR", Config{}, func(t *testing.T, r *rawPeer) {
			r.handshake(t, "PUSH")
			r.Write(zmtp.AppendError(nil, "bye"))
		}, EventDisconnected, nil},
		{"silent after PING TTL", Config{}, func(t *testing.T, r *rawPeer) {
			r.handshake(t, "PUSH")
			r.Write(zmtp.AppendPing(nil, 1, nil)) // TTL 100 ms, then silence
		}, EventDisconnected, ErrHeartbeat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			pull, ev, good := setup(t, &tt.cfg)
			r := dialRaw(t, pull.LastEndpoint())
			local := r.LocalAddr().String()
			tt.bad(t, r)
			e := ev.wait(t, ctx, func(e Event) bool { return e.Type == tt.want && e.Remote == local })
			if tt.err != nil && !errors.Is(e.Err, tt.err) {
				t.Fatalf("reason:\n- want: %v\n-  got: %v", tt.err, e.Err)
			}
			if e.Err == nil {
				t.Fatal("event without a reason")
			}
			check(t, ctx, pull, good)
		})
	}
}

func TestPeerStopsReading(t *testing.T) {
	ctx := testCtx(t)
	ev := newEvents()
	pub := newSock(t, Pub, &Config{HeartbeatIvl: 20 * time.Millisecond, HeartbeatTimeout: 200 * time.Millisecond, Monitor: ev.add, SendHWM: 10})
	pub.Bind("tcp://127.0.0.1:*")
	sub := newSock(t, Sub, nil)
	sub.Subscribe(nil)
	sub.Connect(pub.LastEndpoint())
	waitRecv(t, ctx, pub, sub, "warm")
	// A raw subscriber that subscribes, then neither reads nor answers.
	r := dialRaw(t, pub.LastEndpoint())
	r.handshake(t, "SUB")
	r.Write(zmtp.AppendSubscribe(nil, 1, true, nil))
	local := r.LocalAddr().String()
	big := Msg{make([]byte, 16<<10)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			pub.Send(ctx, big)
			if _, err := sub.Recv(ctx); err != nil {
				return
			}
		}
	}()
	e := ev.wait(t, ctx, func(e Event) bool { return e.Type == EventDisconnected && e.Remote == local })
	close(stop)
	wg.Wait()
	if !errors.Is(e.Err, ErrHeartbeat) {
		t.Fatalf("reason: %v", e.Err)
	}
	waitRecv(t, ctx, pub, sub, "others unaffected")
}

func TestMonitorAndStats(t *testing.T) {
	ctx := testCtx(t)
	ev := newEvents()
	pull := newSock(t, Pull, &Config{Monitor: ev.add})
	pull.Bind("tcp://127.0.0.1:*")
	ev.wait(t, ctx, func(e Event) bool { return e.Type == EventListening && e.Endpoint == pull.LastEndpoint() })
	pev := newEvents()
	push := newSock(t, Push, &Config{Monitor: pev.add})
	push.Connect(pull.LastEndpoint())
	mustSend(t, ctx, push, "abc")
	mustRecv(t, ctx, pull, "abc")
	ev.wait(t, ctx, func(e Event) bool { return e.Type == EventAccepted })
	ev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeSucceeded && e.PeerType == "PUSH" })
	pev.wait(t, ctx, func(e Event) bool { return e.Type == EventConnected })
	st := pull.Stats()
	if len(st.Conns) != 1 || st.Conns[0].MsgsIn != 1 || st.Conns[0].BytesIn != 3 || !st.Conns[0].Connected ||
		st.Conns[0].PeerType != "PUSH" || st.Conns[0].Remote == "" || st.Conns[0].Transport != "tcp" {
		t.Fatalf("stats: %+v", st)
	}
	if ps := push.Stats(); len(ps.Conns) != 1 || ps.Conns[0].MsgsOut != 1 {
		t.Fatalf("push stats: %+v", ps)
	}
	push.Close()
	ev.wait(t, ctx, func(e Event) bool { return e.Type == EventDisconnected && errors.Is(e.Err, io.EOF) })
}

func TestCloseUnblocks(t *testing.T) {
	s, _ := NewSocket(Pull, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Recv(context.Background())
		errc <- err
	}()
	s.Close()
	err := <-errc
	if !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("want ErrClosed, got %v", err)
	}
	if err := s.Bind("tcp://127.0.0.1:*"); !errors.Is(err, ErrClosed) {
		t.Fatalf("bind after close: %v", err)
	}
	s.Close()
}

func TestLinger(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, Pull, nil)
	pull.Bind("tcp://127.0.0.1:*")
	t0 := time.Now()
	push, _ := NewSocket(Push, &Config{Monitor: func(e Event) { t.Logf("%v %v %v", time.Since(t0), e.Type, e.Err) }})
	push.Connect(pull.LastEndpoint())
	for i := range 500 {
		mustSend(t, ctx, push, fmt.Sprint(i))
	}
	push.Close()
	t.Logf("closed after %v; pull %+v", time.Since(t0), pull.Stats())
	for i := range 500 {
		mustRecv(t, ctx, pull, fmt.Sprint(i))
	}
}

// A bound socket lingers on the connections it accepted, too.
func TestLingerBound(t *testing.T) {
	ctx := testCtx(t)
	push, _ := NewSocket(Push, nil)
	push.Bind("tcp://127.0.0.1:*")
	ev := newEvents()
	pull := newSock(t, Pull, &Config{Monitor: ev.add})
	pull.Connect(push.LastEndpoint())
	ev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeSucceeded })
	for i := range 500 {
		mustSend(t, ctx, push, fmt.Sprint(i))
	}
	push.Close()
	for i := range 500 {
		mustRecv(t, ctx, pull, fmt.Sprint(i))
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		ep   string
		bind bool
		ok   bool
	}{
		{"tcp://127.0.0.1:*", true, true},
		{"tcp://[::1]:*", true, true},
		{"ipc://@switchboard-test-abstract", true, true},
		{"tcp://127.0.0.1", true, false},
		{"udp://127.0.0.1:1", true, false},
		{"nonsense", true, false},
		{"tcp://*:*", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.ep, func(t *testing.T) {
			s := newSock(t, Pair, nil)
			var err error
			if tt.bind {
				err = s.Bind(tt.ep)
			} else {
				err = s.Connect(tt.ep)
			}
			if tt.ep == "tcp://[::1]:*" && err != nil && !errors.Is(err, ErrEndpoint) {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok && !errors.Is(err, ErrEndpoint) {
				t.Fatalf("want ErrEndpoint, got %v", err)
			}
		})
	}
	t.Run("abstract ipc round trip", func(t *testing.T) {
		ctx := testCtx(t)
		pull, push := pairUp(t, Pull, Push, fmt.Sprintf("ipc://@sb-%d", time.Now().UnixNano()), nil, nil)
		mustSend(t, ctx, push, "x")
		mustRecv(t, ctx, pull, "x")
	})
	t.Run("inproc errors", func(t *testing.T) {
		s := newSock(t, Pair, nil)
		if err := s.Bind("inproc://x"); !errors.Is(err, ErrNoInproc) {
			t.Fatal(err)
		}
		ns := NewInproc()
		a := newSock(t, Pair, &Config{Inproc: ns})
		b := newSock(t, Pair, &Config{Inproc: ns})
		a.Bind("inproc://x")
		if err := b.Bind("inproc://x"); !errors.Is(err, ErrAddrInUse) {
			t.Fatal(err)
		}
	})
	t.Run("inproc incompatible", func(t *testing.T) {
		ctx := testCtx(t)
		ns := NewInproc()
		ev := newEvents()
		a := newSock(t, Push, &Config{Inproc: ns})
		b := newSock(t, Push, &Config{Inproc: ns, Monitor: ev.add})
		a.Bind("inproc://y")
		b.Connect("inproc://y")
		e := ev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
		if !errors.Is(e.Err, ErrIncompatible) {
			t.Fatal(e.Err)
		}
	})
}

func TestUnbindDisconnect(t *testing.T) {
	ctx := testCtx(t)
	pull := newSock(t, Pull, nil)
	pull.Bind("tcp://127.0.0.1:*")
	ep := pull.LastEndpoint()
	push := newSock(t, Push, nil)
	push.Connect(ep)
	mustSend(t, ctx, push, "x")
	mustRecv(t, ctx, pull, "x")
	if err := push.Disconnect(ep); err != nil {
		t.Fatal(err)
	}
	if err := push.Disconnect(ep); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if err := pull.Unbind(ep); err != nil {
		t.Fatal(err)
	}
	if err := pull.Unbind(ep); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestPoller(t *testing.T) {
	ctx := testCtx(t)
	a, pa := pairUp(t, Pull, Push, "inproc://pa", nil, nil)
	b, pb := pairUp(t, Pull, Push, "inproc://pb", nil, nil)
	p := NewPoller()
	defer p.Close()
	p.Add(a, PollIn)
	p.Add(b, PollIn)
	p.Add(pa, PollOut)
	got, err := p.Poll(ctx)
	if err != nil || len(got) != 1 || got[0].Socket != pa || got[0].Events != PollOut {
		t.Fatalf("poll out: %+v %v", got, err)
	}
	p.Remove(pa)
	go pb.Send(ctx, NewMsgString("to b"))
	got, err = p.Poll(ctx)
	if err != nil || len(got) != 1 || got[0].Socket != b || got[0].Events != PollIn {
		t.Fatalf("poll in: %+v %v", got, err)
	}
	mustRecv(t, ctx, b, "to b")
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle poll: %v", err)
	}
}

func TestProxy(t *testing.T) {
	ctx := testCtx(t)
	ns := NewInproc()
	front := newSock(t, Router, &Config{Inproc: ns})
	front.Bind("inproc://front")
	back := newSock(t, Dealer, &Config{Inproc: ns})
	back.Bind("inproc://back")
	capture := newSock(t, Push, &Config{Inproc: ns})
	capture.Bind("inproc://capture")
	capPull := newSock(t, Pull, &Config{Inproc: ns})
	capPull.Connect("inproc://capture")
	rep := newSock(t, Rep, &Config{Inproc: ns})
	rep.Connect("inproc://back")
	req := newSock(t, Req, &Config{Inproc: ns})
	req.Connect("inproc://front")

	px := NewProxy(front, back, capture)
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- px.Run(pctx) }()
	go func() {
		for {
			m, err := rep.RecvString(ctx)
			if err != nil {
				return
			}
			if rep.SendString(ctx, "re:"+m[0]) != nil {
				return
			}
		}
	}()
	mustSend(t, ctx, req, "hi")
	mustRecv(t, ctx, req, "re:hi")
	if _, err := capPull.Recv(ctx); err != nil {
		t.Fatal(err)
	}
	st := px.Stats()
	if st.FrontendIn.Msgs != 1 || st.BackendOut.Msgs != 1 || st.BackendIn.Msgs != 1 || st.FrontendOut.Msgs != 1 {
		t.Fatalf("stats: %+v", st)
	}
	px.Pause()
	px.Resume()
	mustSend(t, ctx, req, "again")
	mustRecv(t, ctx, req, "re:again")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v", err)
	}
	rep.Close()
}

func TestHeartbeatsKeepIdleConnection(t *testing.T) {
	ctx := testCtx(t)
	ev := newEvents()
	// Timeouts leave room for a loaded machine; the interval is short so
	// that many PINGs go by while idle.
	hb := &Config{HeartbeatIvl: 10 * time.Millisecond, HeartbeatTimeout: time.Second, HeartbeatTTL: 2 * time.Second, Monitor: ev.add}
	pull, push := pairUp(t, Pull, Push, "tcp://127.0.0.1:*", hb, &Config{HeartbeatIvl: 10 * time.Millisecond, HeartbeatTimeout: time.Second})
	mustSend(t, ctx, push, "a")
	mustRecv(t, ctx, pull, "a")
	// Stay idle for many heartbeat timeouts: PINGs and PONGs keep the
	// connection up.
	idle := time.NewTimer(300 * time.Millisecond)
	select {
	case <-idle.C:
	case <-ctx.Done():
	}
	ev.mu.Lock()
	var dropped error
	for _, e := range ev.ev {
		if e.Type == EventDisconnected {
			dropped = e.Err
		}
	}
	ev.mu.Unlock()
	if dropped != nil {
		t.Fatalf("dropped while idle: %v", dropped)
	}
	mustSend(t, ctx, push, "b")
	mustRecv(t, ctx, pull, "b")
	if st := pull.Stats(); len(st.Conns) != 1 {
		t.Fatalf("conns: %+v", st.Conns)
	}
}

// ZMTP 3.0 peers (libzmq up to 4.3.2) subscribe with data frames and must
// be sent subscriptions that way.
func TestZMTP30Subscriptions(t *testing.T) {
	ctx := testCtx(t)
	greeting30 := func() []byte {
		return zmtp.AppendGreeting(nil, zmtp.Greeting{Major: 3, Minor: 0, Mechanism: "NULL"})
	}
	t.Run("PubFromOldSub", func(t *testing.T) {
		pub := newSock(t, Pub, nil)
		pub.Bind("tcp://127.0.0.1:*")
		r := dialRaw(t, pub.LastEndpoint())
		out := zmtp.AppendReady(greeting30(), zmtp.Metadata{{Name: "Socket-Type", Value: []byte("SUB")}})
		out = zmtp.AppendFrame(out, 0, []byte("\x01news"))
		r.Write(out)
		var g [64]byte
		io.ReadFull(r.br, g[:])
		zmtp.ReadFrame(r.br, nil, 1<<16) // READY
		for i := 0; ; i++ {
			pub.SendString(ctx, "sport", "x")
			pub.SendString(ctx, "news", "y")
			r.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			f, body, err := zmtp.ReadFrame(r.br, nil, 1<<16)
			if err == nil {
				if string(body) != "news" || f&zmtp.FlagMore == 0 {
					t.Fatalf("got %q", body)
				}
				return
			}
			if i > 200 {
				t.Fatal("subscription never applied")
			}
		}
	})
	t.Run("SubToOldPub", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		sub := newSock(t, Sub, nil)
		sub.Subscribe([]byte("ab"))
		sub.Connect("tcp://" + ln.Addr().String())
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		c.Write(zmtp.AppendReady(greeting30(), zmtp.Metadata{{Name: "Socket-Type", Value: []byte("PUB")}}))
		var g [64]byte
		io.ReadFull(br, g[:])
		zmtp.ReadFrame(br, nil, 1<<16) // READY
		f, body, err := zmtp.ReadFrame(br, nil, 1<<16)
		if err != nil || f != 0 || string(body) != "\x01ab" {
			t.Fatalf("subscription: flags %#x %q %v", f, body, err)
		}
		c.Write(zmtp.AppendFrame(nil, 0, []byte("abc")))
		mustRecv(t, ctx, sub, "abc")
	})
}

func TestPairRefusesSecondPeer(t *testing.T) {
	ctx := testCtx(t)
	ev := newEvents()
	a := newSock(t, Pair, &Config{Monitor: ev.add})
	a.Bind("tcp://127.0.0.1:*")
	b := newSock(t, Pair, nil)
	b.Connect(a.LastEndpoint())
	mustSend(t, ctx, b, "first")
	mustRecv(t, ctx, a, "first")
	c := newSock(t, Pair, nil)
	c.Connect(a.LastEndpoint())
	e := ev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
	if !errors.Is(e.Err, ErrAddrInUse) {
		t.Fatalf("reason: %v", e.Err)
	}
	mustSend(t, ctx, a, "to b")
	mustRecv(t, ctx, b, "to b")
}

func TestConnectRetries(t *testing.T) {
	ctx := testCtx(t)
	dead := newSock(t, Pull, nil)
	dead.Bind("tcp://127.0.0.1:*")
	ep := dead.LastEndpoint()
	dead.Close()
	ev := newEvents()
	push := newSock(t, Push, &Config{ReconnectIvl: 5 * time.Millisecond, ReconnectIvlMax: 20 * time.Millisecond, Monitor: ev.add, Linger: -1})
	if err := push.Connect(ep); err != nil {
		t.Fatal(err)
	}
	var retries []time.Duration
	for len(retries) < 4 {
		e := ev.wait(t, ctx, func(e Event) bool { return e.Type == EventConnectRetried })
		ev.mu.Lock()
		retries = retries[:0]
		for _, e := range ev.ev {
			if e.Type == EventConnectRetried {
				retries = append(retries, e.Retry)
			}
		}
		ev.mu.Unlock()
		if e.Err == nil {
			t.Fatal("retry without a reason")
		}
	}
	if retries[0] != 5*time.Millisecond || retries[1] != 10*time.Millisecond || retries[3] != 20*time.Millisecond {
		t.Fatalf("backoff: %v", retries)
	}
}

func TestDealerDealerRouterRouter(t *testing.T) {
	ctx := testCtx(t)
	a, b := pairUp(t, Dealer, Dealer, "tcp://127.0.0.1:*", nil, nil)
	mustSend(t, ctx, b, "x", "y")
	mustRecv(t, ctx, a, "x", "y")
	mustSend(t, ctx, a, "z")
	mustRecv(t, ctx, b, "z")
	r1, r2 := pairUp(t, Router, Router, "tcp://127.0.0.1:*", &Config{RoutingID: []byte("R1")}, &Config{RoutingID: []byte("R2"), ProbeRouter: true})
	mustRecv(t, ctx, r1, "R2", "")
	mustSend(t, ctx, r1, "R2", "hi")
	mustRecv(t, ctx, r2, "R1", "hi")
}

func TestParseType(t *testing.T) {
	for i, n := range typeNames {
		got, err := ParseType(strings.ToLower(n))
		if err != nil || got != Type(i) || got.String() != n {
			t.Fatalf("%s: %v %v", n, got, err)
		}
	}
	if _, err := ParseType("CLIENT"); !errors.Is(err, ErrConfig) {
		t.Fatal(err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{RoutingID: []byte{0, 1}},
		{RoutingID: make([]byte, 256)},
		{HeartbeatIvl: -1},
		{Metadata: map[string]string{"": "x"}},
	} {
		if _, err := NewSocket(Pair, &c); !errors.Is(err, ErrConfig) {
			t.Fatalf("%+v: want ErrConfig, got %v", c, err)
		}
	}
	if _, err := NewSocket(Type(99), nil); !errors.Is(err, ErrConfig) {
		t.Fatal(err)
	}
	in := &Config{RoutingID: []byte("id")}
	s, err := NewSocket(Dealer, in)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in.RoutingID[0] = 'X'
	if string(s.cfg.RoutingID) != "id" || s.cfg.SendHWM != DefaultHWM || s.cfg.Linger != DefaultLinger {
		t.Fatalf("config not copied with defaults: %+v", s.cfg)
	}
}

func TestNotSupported(t *testing.T) {
	ctx := testCtx(t)
	for _, tt := range []struct {
		typ  Type
		send bool
	}{{Pub, false}, {Push, false}, {Sub, true}, {Pull, true}} {
		s := newSock(t, tt.typ, nil)
		var err error
		if tt.send {
			err = s.SendString(ctx, "x")
		} else {
			_, err = s.Recv(ctx)
		}
		if !errors.Is(err, ErrNotSupported) {
			t.Fatalf("%v: %v", tt.typ, err)
		}
	}
	if err := newSock(t, Push, nil).Subscribe(nil); !errors.Is(err, ErrNotSupported) {
		t.Fatal(err)
	}
	if err := newSock(t, Push, nil).Send(ctx, nil); !errors.Is(err, ErrEmptyMsg) {
		t.Fatal(err)
	}
}

func TestPlainSecurity(t *testing.T) {
	auth := func(u, p string) bool { return u == "admin" && p == "secret" }
	t.Run("accepted", func(t *testing.T) {
		ctx := testCtx(t)
		rep, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*",
			&Config{Plain: &PlainConfig{Server: true, Authenticate: auth}},
			&Config{Plain: &PlainConfig{Username: "admin", Password: "secret"}})
		mustSend(t, ctx, req, "q")
		mustRecv(t, ctx, rep, "q")
		mustSend(t, ctx, rep, "a")
		mustRecv(t, ctx, req, "a")
	})
	t.Run("denied", func(t *testing.T) {
		ctx := testCtx(t)
		sev, cev := newEvents(), newEvents()
		pairUp(t, Rep, Req, "tcp://127.0.0.1:*",
			&Config{Plain: &PlainConfig{Server: true, Authenticate: auth}, Monitor: sev.add},
			&Config{Plain: &PlainConfig{Username: "admin", Password: "wrong"}, Monitor: cev.add, Linger: -1})
		e := sev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
		if !errors.Is(e.Err, zmtp.ErrAuth) {
			t.Fatalf("server: %v", e.Err)
		}
		e = cev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
		var pe *zmtp.PeerError
		if !errors.As(e.Err, &pe) || pe.Reason != "400" {
			t.Fatalf("client: %v", e.Err)
		}
	})
	t.Run("mechanism mismatch", func(t *testing.T) {
		ctx := testCtx(t)
		sev := newEvents()
		pairUp(t, Pull, Push, "tcp://127.0.0.1:*", &Config{Plain: &PlainConfig{Server: true}, Monitor: sev.add}, &Config{Linger: -1})
		e := sev.wait(t, ctx, func(e Event) bool { return e.Type == EventHandshakeFailed })
		if !errors.Is(e.Err, zmtp.ErrMechanism) {
			t.Fatalf("server: %v", e.Err)
		}
	})
}

func TestUnlimitedMsgSizeHugeDeclaredFrame(t *testing.T) {
	ctx := testCtx(t)
	ev := newEvents()
	pull := newSock(t, Pull, &Config{MaxMsgSize: -1, Monitor: ev.add})
	pull.Bind("tcp://127.0.0.1:*")
	r := dialRaw(t, pull.LastEndpoint())
	r.handshake(t, "PUSH")
	r.Write(zmtp.AppendFrameHeader(nil, 0, 1<<62))
	r.Write(make([]byte, 100))
	r.Close() // the declared body never comes: no allocation of 2^62 bytes
	e := ev.wait(t, ctx, func(e Event) bool { return e.Type == EventDisconnected })
	if !errors.Is(e.Err, io.ErrUnexpectedEOF) {
		t.Fatalf("reason: %v", e.Err)
	}
	r2 := dialRaw(t, pull.LastEndpoint())
	r2.handshake(t, "PUSH")
	r2.Write([]byte{zmtp.FlagCommand | zmtp.FlagLong, 0x40, 0, 0, 0, 0, 0, 0, 0})
	ev.wait(t, ctx, func(e Event) bool { return e.Type == EventDisconnected && errors.Is(e.Err, ErrMsgTooLarge) })
}

func TestRouterRecvStats(t *testing.T) {
	ctx := testCtx(t)
	router, dealer := pairUp(t, Router, Dealer, "tcp://127.0.0.1:*", nil, &Config{RoutingID: []byte("abc")})
	mustSend(t, ctx, dealer, "12345")
	mustRecv(t, ctx, router, "abc", "12345")
	if st := router.Stats(); st.Conns[0].BytesIn != 5 || string(st.Conns[0].RoutingID) != "abc" {
		t.Fatalf("stats: %+v", st.Conns)
	}
}
