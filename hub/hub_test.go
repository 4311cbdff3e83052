package hub

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a Peer that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []Event
	fail   bool
	closed int
}

func (r *recorder) Deliver(ev *Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("queue full")
	}
	r.events = append(r.events, *ev)
	return nil
}

func (r *recorder) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
}

// take returns the events so far, as short strings, and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		out = append(out, short(ev))
	}
	r.events = nil
	return out
}

func short(ev Event) string {
	switch ev.Kind {
	case EventSaid:
		return fmt.Sprintf("said %s %s: %s", ev.Room, ev.User, ev.Text)
	case EventJoined, EventLeft:
		return fmt.Sprintf("%s %s %s", ev.Kind, ev.Room, ev.User)
	case EventPresence:
		return fmt.Sprintf("presence %s %s", ev.User, ev.State)
	case EventTold:
		return fmt.Sprintf("told %s>%s: %s", ev.User, ev.To, ev.Text)
	case EventTopic:
		return fmt.Sprintf("topic %s %s: %s", ev.Room, ev.User, ev.Text)
	}
	return "?"
}

func newHub(t *testing.T, cfg *Config) *Hub {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func attach(t *testing.T, h *Hub) (*Conn, *recorder) {
	t.Helper()
	r := &recorder{}
	c, err := h.Attach(r)
	if err != nil {
		t.Fatal(err)
	}
	return c, r
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantEvents(t *testing.T, who string, r *recorder, want ...string) {
	t.Helper()
	got := r.take()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s: want events %q, got %q", who, want, got)
	}
}

func TestChatFlow(t *testing.T) {
	h := newHub(t, nil)
	a, ra := attach(t, h)
	b, rb := attach(t, h)
	a2, ra2 := attach(t, h) // a second connection of user ann

	online := must[[]string](t)(a.SetName("ann"))
	if want := []string{"ann"}; !reflect.DeepEqual(want, online) {
		t.Errorf("want online %q, got %q", want, online)
	}
	for _, r := range []*recorder{ra, rb, ra2} {
		wantEvents(t, "all", r, "presence ann online")
	}
	must[[]string](t)(a2.SetName("ann")) // not the first: no presence
	must[[]string](t)(b.SetName("bob"))
	for _, r := range []*recorder{ra, rb, ra2} {
		wantEvents(t, "all", r, "presence bob online")
	}

	members := must[[]string](t)(a.Join("lobby"))
	if want := []string{"ann"}; !reflect.DeepEqual(want, members) {
		t.Errorf("want members %q, got %q", want, members)
	}
	wantEvents(t, "ann", ra, "joined lobby ann")
	must[[]string](t)(a2.Join("lobby")) // same user: no second joined
	wantEvents(t, "ann2", ra2)
	members = must[[]string](t)(b.Join("lobby"))
	if want := []string{"ann", "bob"}; !reflect.DeepEqual(want, members) {
		t.Errorf("want members %q, got %q", want, members)
	}
	for _, r := range []*recorder{ra, ra2, rb} {
		wantEvents(t, "lobby", r, "joined lobby bob")
	}

	m := must[Message](t)(a.Say("lobby", "hello"))
	if m.ID == "" || m.At.IsZero() || m.From != "ann" {
		t.Errorf("bad message %+v", m)
	}
	wantEvents(t, "sender", ra)
	wantEvents(t, "sender's other connection", ra2, "said lobby ann: hello")
	wantEvents(t, "bob", rb, "said lobby ann: hello")
	m2 := must[Message](t)(b.Say("lobby", "hi"))
	if m2.ID == m.ID {
		t.Errorf("ids repeat: %q", m.ID)
	}
	wantEvents(t, "ann", ra, "said lobby bob: hi")
	wantEvents(t, "ann2", ra2, "said lobby bob: hi")

	// ann's first connection goes: she stays online and in the room.
	a.Close()
	wantEvents(t, "ann2", ra2)
	wantEvents(t, "bob", rb)
	// Her last goes: left, then offline.
	a2.Close()
	wantEvents(t, "bob", rb, "left lobby ann", "presence ann offline")
	if err := b.Leave("lobby"); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, "bob", rb)
	if got := h.Stats(); got != (Stats{Conns: 1, Users: 1, Rooms: 0}) {
		t.Errorf("stats %+v", got)
	}
	if err := a.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, err := a.Say("lobby", "x"); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Say after Close: %v", err)
	}
}

func TestErrors(t *testing.T) {
	h := newHub(t, &Config{MaxRoomsPerConn: 1, MaxConnsPerUser: 1, MaxTextLen: 10})
	a, _ := attach(t, h)
	b, _ := attach(t, h)
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"join without name", func() error { _, err := a.Join("x"); return err }, ErrNoName},
		{"say without name", func() error { _, err := a.Say("x", "hi"); return err }, ErrNoName},
		{"empty name", func() error { _, err := a.SetName(""); return err }, ErrInvalid},
		{"long name", func() error { _, err := a.SetName(strings.Repeat("a", 33)); return err }, ErrInvalid},
		{"space in name", func() error { _, err := a.SetName("a b"); return err }, ErrInvalid},
		{"leading dot", func() error { _, err := a.SetName(".a"); return err }, ErrInvalid},
		{"non-ASCII name", func() error { _, err := a.SetName("é"); return err }, ErrInvalid},
		{"good name", func() error { _, err := a.SetName("ann_1.x-y"); return err }, nil},
		{"per-user limit", func() error { _, err := b.SetName("ann_1.x-y"); return err }, ErrLimit},
		{"bad room", func() error { _, err := a.Join("#x"); return err }, ErrInvalid},
		{"long room", func() error { _, err := a.Join(strings.Repeat("r", 65)); return err }, ErrInvalid},
		{"join", func() error { _, err := a.Join("r1"); return err }, nil},
		{"join again", func() error { _, err := a.Join("r1"); return err }, nil},
		{"rooms per conn", func() error { _, err := a.Join("r2"); return err }, ErrLimit},
		{"rename in room", func() error { _, err := a.SetName("other"); return err }, ErrInRoom},
		{"same name in room", func() error { _, err := a.SetName("ann_1.x-y"); return err }, nil},
		{"say elsewhere", func() error { _, err := a.Say("r2", "hi"); return err }, ErrNotInRoom},
		{"leave elsewhere", func() error { return a.Leave("r2") }, ErrNotInRoom},
		{"empty text", func() error { _, err := a.Say("r1", ""); return err }, ErrInvalid},
		{"blank text", func() error { _, err := a.Say("r1", " \n\t"); return err }, ErrInvalid},
		{"long text", func() error { _, err := a.Say("r1", "12345678901"); return err }, ErrInvalid},
		{"control char", func() error { _, err := a.Say("r1", "a\x00b"); return err }, ErrInvalid},
		{"escape", func() error { _, err := a.Say("r1", "a\x1b[2J"); return err }, ErrInvalid},
		{"bad UTF-8", func() error { _, err := a.Say("r1", "a\xffb"); return err }, ErrInvalid},
		{"max text", func() error { _, err := a.Say("r1", "1234567890"); return err }, nil},
		{"unicode text", func() error { _, err := a.Say("r1", "héllo\tw"); return err }, nil},
	}
	for _, tt := range tests {
		err := tt.do()
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: want %v, got %v", tt.name, tt.want, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "hub: ") {
			t.Errorf("%s: error without package prefix: %v", tt.name, err)
		}
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", ErrInvalid), "invalid"},
		{ErrNoName, "no_name"},
		{ErrInRoom, "in_room"},
		{ErrNotInRoom, "not_in_room"},
		{fmt.Errorf("%w: 3", ErrLimit), "limit"},
		{ErrRate, "rate"},
		{ErrClosed, "closed"},
		{errors.New("other"), "internal"},
	}
	for _, tt := range tests {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v): want %q, got %q", tt.err, tt.want, got)
		}
	}
}

func TestLimits(t *testing.T) {
	h := newHub(t, &Config{MaxConns: 2, MaxRooms: 1, MaxRoomMembers: 1})
	a, _ := attach(t, h)
	b, _ := attach(t, h)
	if _, err := h.Attach(&recorder{}); !errors.Is(err, ErrLimit) {
		t.Errorf("third Attach: want ErrLimit, got %v", err)
	}
	must[[]string](t)(a.SetName("a"))
	must[[]string](t)(b.SetName("b"))
	must[[]string](t)(a.Join("r"))
	if _, err := b.Join("r"); !errors.Is(err, ErrLimit) {
		t.Errorf("room full: want ErrLimit, got %v", err)
	}
	if _, err := b.Join("s"); !errors.Is(err, ErrLimit) {
		t.Errorf("rooms full: want ErrLimit, got %v", err)
	}
	a.Close()
	must[[]string](t)(b.Join("s")) // room r is gone, so s fits
	if _, err := New(&Config{MaxConns: -1}); err == nil {
		t.Error("negative MaxConns accepted")
	}
	if _, err := New(&Config{Rate: -1}); err == nil {
		t.Error("negative Rate accepted")
	}
}

func TestRate(t *testing.T) {
	now := time.Unix(1e9, 0)
	h := newHub(t, &Config{Rate: 2, Burst: 5, Now: func() time.Time { return now }})
	a, _ := attach(t, h)
	must[[]string](t)(a.SetName("a")) // these two take 2 of the 5 tokens
	must[[]string](t)(a.Join("r"))
	must[[]string](t)(a.SetName("a")) // no change: free
	must[[]string](t)(a.Join("r"))    // no change: free
	for i := range 3 {
		if _, err := a.Say("r", "x"); err != nil {
			t.Fatalf("say %d: %v", i, err)
		}
	}
	if _, err := a.Say("r", "x"); !errors.Is(err, ErrRate) {
		t.Fatalf("4th say: want ErrRate, got %v", err)
	}
	now = now.Add(500 * time.Millisecond) // one token back
	if _, err := a.Say("r", "x"); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	if _, err := a.Say("r", "x"); !errors.Is(err, ErrRate) {
		t.Fatalf("want ErrRate, got %v", err)
	}
	if _, err := a.Join("s"); !errors.Is(err, ErrRate) {
		t.Fatalf("join: want ErrRate, got %v", err)
	}
	if err := a.Leave("r"); !errors.Is(err, ErrRate) {
		t.Fatalf("leave: want ErrRate, got %v", err)
	}
	now = now.Add(time.Hour)
	if err := a.Leave("r"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetName("b"); err != nil {
		t.Fatal(err)
	}
	// An hour refilled no more than Burst: 3 tokens are left.
	for _, name := range []string{"c", "d", "c"} {
		must[[]string](t)(a.SetName(name))
	}
	if _, err := a.SetName("e"); !errors.Is(err, ErrRate) {
		t.Fatalf("rename: want ErrRate, got %v", err)
	}
	must[[]string](t)(a.SetName("c")) // no change: free
	m := must[Message](t)(func() (Message, error) {
		now = now.Add(time.Hour)
		if _, err := a.Join("r"); err != nil {
			return Message{}, err
		}
		return a.Say("r", "x")
	}())
	if !m.At.Equal(now) {
		t.Errorf("At: want %v, got %v", now, m.At)
	}
}

// A peer whose Deliver fails is detached (its rooms and presence cleaned
// up, others told) and closed, outside the hub's lock.
func TestFailingPeerDropped(t *testing.T) {
	h := newHub(t, nil)
	a, ra := attach(t, h)
	b, rb := attach(t, h)
	must[[]string](t)(a.SetName("a"))
	must[[]string](t)(b.SetName("b"))
	must[[]string](t)(a.Join("r"))
	must[[]string](t)(b.Join("r"))
	ra.take()
	rb.take()
	rb.mu.Lock()
	rb.fail = true
	rb.mu.Unlock()
	must[Message](t)(a.Say("r", "hi"))
	wantEvents(t, "a", ra, "left r b", "presence b offline")
	if rb.closed != 1 {
		t.Errorf("failed peer closed %d times, want 1", rb.closed)
	}
	if _, err := b.Say("r", "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("detached conn: want ErrClosed, got %v", err)
	}
	if got := h.Members("r"); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("members %q", got)
	}
}

// Every member sees a room's messages in one order, whatever the
// concurrency of the senders.
func TestConcurrentOrder(t *testing.T) {
	h := newHub(t, &Config{Rate: 1e9, Burst: 1 << 20})
	const n, each = 4, 200
	conns := make([]*Conn, n)
	recs := make([]*recorder, n)
	for i := range conns {
		conns[i], recs[i] = attach(t, h)
		must[[]string](t)(conns[i].SetName(fmt.Sprint("u", i)))
		must[[]string](t)(conns[i].Join("r"))
	}
	watcher, rw := attach(t, h)
	must[[]string](t)(watcher.SetName("w"))
	must[[]string](t)(watcher.Join("r"))
	w2, rw2 := attach(t, h)
	must[[]string](t)(w2.SetName("w2"))
	must[[]string](t)(w2.Join("r"))
	rw.take()
	rw2.take()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			for j := range each {
				if _, err := c.Say("r", fmt.Sprint(i, "-", j)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got1, got2 := rw.take(), rw2.take()
	if len(got1) != n*each || !reflect.DeepEqual(got1, got2) {
		t.Errorf("watchers saw %d and %d messages, or in different orders", len(got1), len(got2))
	}
}

func TestClosedHub(t *testing.T) {
	h := newHub(t, nil)
	a, _ := attach(t, h)
	h.Close()
	if _, err := h.Attach(&recorder{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Attach after Close: %v", err)
	}
	if _, err := a.SetName("x"); !errors.Is(err, ErrClosed) {
		t.Errorf("SetName after Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Error(err)
	}
}

// closer is a Peer whose Deliver fails and, as a door may, closes its Conn
// from within Deliver.
type closer struct {
	c      *Conn
	closed chan struct{}
}

func (p *closer) Deliver(*Event) error {
	p.c.Close()
	return errors.New("slow consumer")
}

func (p *closer) Close() { close(p.closed) }

func TestDeliverMayCloseConn(t *testing.T) {
	h := newHub(t, nil)
	a, ra := attach(t, h)
	p := &closer{closed: make(chan struct{})}
	b, err := h.Attach(p)
	if err != nil {
		t.Fatal(err)
	}
	p.c = b
	must[[]string](t)(b.SetName("b")) // b's own presence event closes it
	select {
	case <-p.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("peer not closed")
	}
	wantEvents(t, "a", ra, "presence b online", "presence b offline")
	if got := h.Stats(); got.Conns != 1 || got.Users != 0 {
		t.Errorf("stats %+v", got)
	}
	_ = a
}

func TestTellAndTopic(t *testing.T) {
	h := newHub(t, nil)
	a, ra := attach(t, h)
	b1, rb1 := attach(t, h)
	b2, rb2 := attach(t, h)
	x, rx := attach(t, h)
	for c, n := range map[*Conn]string{a: "ann", b1: "bob", b2: "bob", x: "xi"} {
		if _, err := c.SetName(n); err != nil {
			t.Fatal(err)
		}
	}
	ra.take()
	rb1.take()
	rb2.take()
	rx.take()
	if _, err := a.Tell("nobody", "hi"); !errors.Is(err, ErrNoUser) || Code(err) != "no_user" {
		t.Fatalf("tell nobody: %v", err)
	}
	m, err := a.Tell("bob", "hi bob")
	if err != nil || m.To != "bob" || m.From != "ann" || m.ID == "" {
		t.Fatalf("tell: %+v %v", m, err)
	}
	want := []string{"told ann>bob: hi bob"}
	if got := rb1.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("bob1 got %q", got)
	}
	if got := rb2.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("bob2 got %q", got)
	}
	if got := append(ra.take(), rx.take()...); len(got) != 0 {
		t.Fatalf("others got %q", got)
	}
	// A user's own connection tells the others, not itself.
	if _, err := b1.Tell("bob", "note"); err != nil {
		t.Fatal(err)
	}
	if got, got2 := rb1.take(), rb2.take(); len(got) != 0 || len(got2) != 1 {
		t.Fatalf("self tell: %q %q", got, got2)
	}
	// The user scope follows connections: after b2 goes, only b1 is told.
	b2.Close()
	if _, err := a.Tell("bob", "again"); err != nil {
		t.Fatal(err)
	}
	if got := rb1.take(); len(got) != 1 {
		t.Fatalf("after close: %q", got)
	}

	if err := a.SetTopic("lobby", "x"); !errors.Is(err, ErrNotInRoom) {
		t.Fatalf("topic outside room: %v", err)
	}
	a.Join("lobby")
	b1.Join("lobby")
	ra.take()
	rb1.take()
	for _, bad := range []string{"two\nlines", "\x01"} {
		if err := a.SetTopic("lobby", bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("topic %q: %v", bad, err)
		}
	}
	if err := a.SetTopic("lobby", "plans"); err != nil {
		t.Fatal(err)
	}
	if h.Topic("lobby") != "plans" {
		t.Fatalf("topic %q", h.Topic("lobby"))
	}
	want = []string{"topic lobby ann: plans"}
	if got := ra.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("setter got %q", got)
	}
	if got := rb1.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("member got %q", got)
	}
	if got := rx.take(); len(got) != 0 {
		t.Fatalf("outsider got %q", got)
	}
	if got := h.Rooms(); !reflect.DeepEqual(got, []string{"lobby"}) {
		t.Fatalf("rooms %q", got)
	}
	a.Leave("lobby")
	b1.Leave("lobby")
	if h.Topic("lobby") != "" {
		t.Fatal("topic outlived its room")
	}
}
