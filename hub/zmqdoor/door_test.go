package zmqdoor_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/zmqdoor"
	"github.com/switchboard/switchboard/zmq"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// events is a Peer that collects what the Hub tells it.
type events chan *hub.Event

func (e events) Deliver(ev *hub.Event) error {
	select {
	case e <- ev:
		return nil
	default:
		return errors.New("test peer: queue full")
	}
}
func (e events) Close() {}

// next returns the next event of kind, skipping others.
func (e events) next(t *testing.T, kind hub.EventKind) *hub.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-e:
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within 10s", kind)
		}
	}
}

// user attaches a named connection in room that collects events.
func user(t *testing.T, h *hub.Hub, name, room string) (*hub.Conn, events) {
	t.Helper()
	ev := make(events, 256)
	c, err := h.Attach(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetName(name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(room); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ev
}

// serve starts a door on h with every socket on loopback and stops it in
// Cleanup.
func serve(t *testing.T, h *hub.Hub, cfg zmqdoor.Config) *zmqdoor.Door {
	t.Helper()
	const any = "tcp://127.0.0.1:*"
	if cfg.Pub == "" && cfg.In == "" && cfg.InSub == "" && cfg.RPC == "" {
		cfg.Pub, cfg.In, cfg.InSub, cfg.RPC = any, any, any, any
	}
	d, err := zmqdoor.Listen(h, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return d
}

func newHub(t *testing.T) *hub.Hub {
	t.Helper()
	h, err := hub.New(&hub.Config{Rate: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func socket(t *testing.T, typ zmq.Type, ep string) *zmq.Socket {
	t.Helper()
	s, err := zmq.NewSocket(typ, &zmq.Config{Linger: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Connect(ep); err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond, which reads state the test cannot wait on otherwise.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPubAndIn: a SUB service hears the room and presence, a PUSH and a
// PUB service speak into it, and nothing from the ZeroMQ side comes back
// on the Pub socket.
func TestPubAndIn(t *testing.T) {
	h := newHub(t)
	d := serve(t, h, zmqdoor.Config{})
	ctx := ctxT(t)
	alice, aliceEv := user(t, h, "alice", "lobby")

	sub := socket(t, zmq.Sub, d.PubAddr())
	sub.Subscribe([]byte("lobby"))
	sub.Subscribe([]byte(zmqdoor.PresenceTopic))
	waitFor(t, "the door to join lobby", func() bool { return contains(h.Members("lobby"), "zmq") })
	for ev := aliceEv.next(t, hub.EventJoined); ev.User != "zmq"; ev = aliceEv.next(t, hub.EventJoined) {
	}

	msg, err := alice.Say("lobby", "hello zmq")
	if err != nil {
		t.Fatal(err)
	}
	got := recvSaid(t, ctx, sub)
	want := []string{"lobby", "alice", "hello zmq", msg.ID, itoa(msg.At.UnixMilli())}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}

	push := socket(t, zmq.Push, d.InAddr())
	if err := push.SendString(ctx, "lobby", "from a pusher", "svc"); err != nil {
		t.Fatal(err)
	}
	if ev := aliceEv.next(t, hub.EventSaid); ev.User != "svc" || ev.Text != "from a pusher" || ev.Room != "lobby" {
		t.Fatalf("said %+v", ev)
	}
	pub := socket(t, zmq.Pub, d.InSubAddr())
	// PUB drops until the XSUB's subscription arrives: repeat until heard.
	heard := false
	for i := 0; i < 200 && !heard; i++ {
		if err := pub.SendString(ctx, "lobby", "from a publisher"); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-aliceEv:
			heard = ev.Kind == hub.EventSaid && ev.User == "zmq-in" && ev.Text == "from a publisher"
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !heard {
		t.Fatal("PUB service not heard")
	}
	// Nothing the services said comes back: the next said on SUB is alice's.
	if _, err := alice.Say("lobby", "second"); err != nil {
		t.Fatal(err)
	}
	if got := recvSaid(t, ctx, sub); got[1] != "alice" || got[2] != "second" {
		t.Fatalf("after the services spoke, SUB got %q", got)
	}
	if st := d.Stats(); st.In < 2 || st.Published < 2 {
		t.Fatalf("stats %+v", st)
	}

	// A malformed message and a bad room are refused and counted.
	push.SendString(ctx, "only one frame")
	push.SendString(ctx, "no room here!", "text")
	waitFor(t, "refusals counted", func() bool { return d.Stats().InRefused >= 2 })
}

// recvSaid returns the next said message on sub (skipping presence).
func recvSaid(t *testing.T, ctx context.Context, sub *zmq.Socket) []string {
	t.Helper()
	for {
		m, err := sub.RecvString(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m[0] != zmqdoor.PresenceTopic {
			return m
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPresence: the @presence topic carries online, joined and left.
func TestPresence(t *testing.T) {
	h := newHub(t)
	d := serve(t, h, zmqdoor.Config{})
	ctx := ctxT(t)
	sub := socket(t, zmq.Sub, d.PubAddr())
	sub.Subscribe([]byte(zmqdoor.PresenceTopic))
	sub.Subscribe([]byte("kitchen"))
	waitFor(t, "the door to join kitchen", func() bool { return contains(h.Members("kitchen"), "zmq") })
	bob, _ := user(t, h, "bob", "kitchen")
	bob.Leave("kitchen")
	var seen []string
	for len(seen) < 3 {
		m, err := sub.RecvString(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 4 || m[0] != zmqdoor.PresenceTopic {
			t.Fatalf("presence message %q", m)
		}
		if m[1] == "bob" {
			seen = append(seen, m[2]+":"+m[3])
		}
	}
	if want := "online:|joined:kitchen|left:kitchen"; strings.Join(seen, "|") != want {
		t.Fatalf("bob's presence %q, want %q", seen, want)
	}
}

// worker runs a Go DEALER worker for service until the test ends; answer
// maps a request body to its reply frames (nil: no answer).
func worker(t *testing.T, ep, service string, answer func(string) []string) {
	t.Helper()
	w := socket(t, zmq.Dealer, ep)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		if err := w.SendString(ctx, "READY", service); err != nil {
			return
		}
		for {
			m, err := w.RecvString(ctx)
			if err != nil {
				return
			}
			if out := answer(m[1]); out != nil {
				w.SendString(ctx, append([]string{m[0]}, out...)...)
			}
		}
	}()
}

func TestRPC(t *testing.T) {
	h := newHub(t)
	d := serve(t, h, zmqdoor.Config{RPC: "tcp://127.0.0.1:*"})
	ctx := ctxT(t)
	if _, err := d.Call(ctx, "upper", []byte("x")); !errors.Is(err, zmqdoor.ErrNoWorker) {
		t.Fatalf("no worker: %v", err)
	}
	worker(t, d.RPCAddr(), "upper", func(s string) []string {
		switch s {
		case "fail":
			return []string{"cannot", "ERROR"}
		case "ignore":
			return nil
		}
		return []string{strings.ToUpper(s)}
	})
	waitFor(t, "the worker", func() bool { return d.Workers("upper") == 1 })
	for _, tc := range []struct {
		body, want string
		err        error
	}{
		{"abc", "ABC", nil},
		{"fail", "", &zmqdoor.WorkerError{}},
		{"ignore", "", zmqdoor.ErrTimeout},
	} {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		out, err := d.Call(cctx, "upper", []byte(tc.body))
		cancel()
		switch want := tc.err.(type) {
		case nil:
			if err != nil || string(out) != tc.want {
				t.Errorf("%s: %q, %v", tc.body, out, err)
			}
		case *zmqdoor.WorkerError:
			var we *zmqdoor.WorkerError
			if !errors.As(err, &we) || we.Reason != "cannot" || we.Service != "upper" {
				t.Errorf("%s: %v, want a WorkerError", tc.body, err)
			}
		default:
			if !errors.Is(err, want) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %v, want %v", tc.body, err, want)
			}
		}
	}
	if _, err := d.Call(ctx, "", nil); !errors.Is(err, zmqdoor.ErrInvalid) {
		t.Errorf("empty service: %v", err)
	}
}

// TestRPCWorkerGone: a worker that disconnected is forgotten and the
// request goes to the one left.
func TestRPCWorkerGone(t *testing.T) {
	h := newHub(t)
	disconnected := make(chan struct{}, 8)
	d := serve(t, h, zmqdoor.Config{RPC: "tcp://127.0.0.1:*", Socket: &zmq.Config{Monitor: func(e zmq.Event) {
		if e.Type == zmq.EventDisconnected {
			disconnected <- struct{}{}
		}
	}}})
	ctx := ctxT(t)
	gone, err := zmq.NewSocket(zmq.Dealer, &zmq.Config{Linger: -1})
	if err != nil {
		t.Fatal(err)
	}
	gone.Connect(d.RPCAddr())
	gone.SendString(ctx, "READY", "echo")
	waitFor(t, "the first worker", func() bool { return d.Workers("echo") == 1 })
	worker(t, d.RPCAddr(), "echo", func(s string) []string { return []string{s} })
	waitFor(t, "the second worker", func() bool { return d.Workers("echo") == 2 })
	gone.Close()
	select {
	case <-disconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("the door did not see the first worker go")
	}
	for i := 0; i < 3; i++ {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		out, err := d.Call(cctx, "echo", []byte("hi"))
		cancel()
		if err != nil || string(out) != "hi" {
			t.Fatalf("call %d: %q %v", i, out, err)
		}
	}
}

// TestCallFailsOnStop: a request waiting for a worker fails with
// ErrClosed when the door stops, and later calls fail at once.
func TestCallFailsOnStop(t *testing.T) {
	h := newHub(t)
	d, err := zmqdoor.Listen(h, &zmqdoor.Config{RPC: "tcp://127.0.0.1:*"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx) }()
	got := make(chan struct{}, 1)
	worker(t, d.RPCAddr(), "slow", func(string) []string { got <- struct{}{}; return nil })
	waitFor(t, "the worker", func() bool { return d.Workers("slow") == 1 })
	callErr := make(chan error, 1)
	go func() {
		_, err := d.Call(context.Background(), "slow", []byte("x"))
		callErr <- err
	}()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker got no request")
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-callErr:
		if !errors.Is(err, zmqdoor.ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("pending call: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the pending call did not end")
	}
	if _, err := d.Call(context.Background(), "slow", nil); !errors.Is(err, zmqdoor.ErrClosed) {
		t.Fatalf("after stop: %v", err)
	}
}

// TestSlowSubscriber: a subscriber that never reads loses messages at the
// high-water mark (counted); the room's speaker never waits, and a
// subscriber that reads still hears the room.
func TestSlowSubscriber(t *testing.T) {
	h, err := hub.New(&hub.Config{Rate: 1e9, Burst: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	d := serve(t, h, zmqdoor.Config{Pub: "tcp://127.0.0.1:*", Socket: &zmq.Config{SendHWM: 100}})
	ctx := ctxT(t)
	slow, err := zmq.NewSocket(zmq.Sub, &zmq.Config{Linger: -1, RecvHWM: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.Subscribe([]byte("lobby"))
	slow.Connect(d.PubAddr())
	fast := socket(t, zmq.Sub, d.PubAddr())
	fast.Subscribe([]byte("lobby"))
	ann, _ := user(t, h, "ann", "lobby")
	waitFor(t, "both subscribers", func() bool {
		st := d.Stats().XPub
		return len(st.Conns) == 2 && contains(h.Members("lobby"), "zmq")
	})
	text := strings.Repeat("x", 1900)
	for i := 0; i < 5000; i++ {
		if _, err := ann.Say("lobby", text); err != nil {
			t.Fatal(err)
		}
	}
	if st := d.Stats(); st.XPub.Dropped == 0 {
		t.Fatalf("nothing dropped for the slow subscriber: %+v", st.XPub)
	}
	// The fast one still hears the room: say "end" until it arrives.
	heard := make(chan struct{})
	go func() {
		defer close(heard)
		for {
			m, err := fast.RecvString(ctx)
			if err != nil || m[2] == "end" {
				return
			}
		}
	}()
	for i := 0; ; i++ {
		if _, err := ann.Say("lobby", "end"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-heard:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i == 100 {
			t.Fatal("the fast subscriber never heard the end")
		}
	}
}
