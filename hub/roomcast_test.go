package hub_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/socketio"
)

// recClient is a raw Socket.IO client that records every event frame
// ("42[...]") the server sends it.
type recClient struct {
	t      *testing.T
	c      *websocket.Conn
	id     int
	events []string
}

func dialRec(t *testing.T, ctx context.Context, base, name string) *recClient {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	r := &recClient{t: t, c: c}
	if _, _, err := c.Read(ctx); err != nil { // engine handshake
		t.Fatal(err)
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("40")); err != nil {
		t.Fatal(err)
	}
	r.readUntil(ctx, func(m string) bool { return strings.HasPrefix(m, "40") })
	r.request(ctx, "nick", `"`+name+`"`)
	return r
}

// readUntil reads frames, recording events, until done returns true for
// one (which is recorded too if it is an event).
func (r *recClient) readUntil(ctx context.Context, done func(string) bool) {
	r.t.Helper()
	for range 10000 {
		_, b, err := r.c.Read(ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		m := string(b)
		if m == "2" { // engine ping
			if err := r.c.Write(ctx, websocket.MessageText, []byte("3")); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if strings.HasPrefix(m, "42[") {
			r.events = append(r.events, m)
		}
		if done(m) {
			return
		}
	}
	r.t.Fatal("too many frames")
}

// request sends event ev with the JSON argument arg and waits for its ok
// ack, recording the events that come before it.
func (r *recClient) request(ctx context.Context, ev, arg string) {
	r.t.Helper()
	r.id++
	id := strconv.Itoa(r.id)
	if err := r.c.Write(ctx, websocket.MessageText, []byte(`42`+id+`["`+ev+`",`+arg+`]`)); err != nil {
		r.t.Fatal(err)
	}
	r.readUntil(ctx, func(m string) bool {
		if !strings.HasPrefix(m, "43"+id+"[") {
			return false
		}
		if !strings.Contains(m, `"ok":true`) {
			r.t.Fatalf("%s %s refused: %s", ev, arg, m)
		}
		return true
	})
}

func (r *recClient) say(ctx context.Context, room, text string) {
	r.t.Helper()
	r.request(ctx, "say", `{"room":"`+room+`","text":"`+text+`"}`)
}

// saids returns the texts of the "said" events recorded, in order.
func (r *recClient) saids() []string {
	var out []string
	for _, m := range r.events {
		if !strings.HasPrefix(m, `42["said"`) {
			continue
		}
		_, rest, _ := strings.Cut(m, `"text":"`)
		text, _, _ := strings.Cut(rest, `"`)
		out = append(out, text)
	}
	return out
}

// recPeer is a Peer of a door of its own that records the events it gets.
type recPeer struct {
	mu     sync.Mutex
	events []*hub.Event
}

func (p *recPeer) Deliver(ev *hub.Event) error {
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
	return nil
}

func (p *recPeer) Close() {}

func (p *recPeer) saids() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, ev := range p.events {
		if ev.Kind == hub.EventSaid {
			out = append(out, ev.Text)
		}
	}
	return strings.Join(out, " ")
}

// A room's events reach the Socket.IO door's members as they were when
// each event happened: not the sender, not a member that joined later nor
// one that left before; each exactly once and in order. The per-connection
// counters equal what each client got on the wire. A member on another
// door (dave) hears and is heard exactly once.
func TestRoomBroadcastMembers(t *testing.T) {
	ts := startServer(t, &hub.ServerConfig{Hub: &hub.Config{Rate: 1e6, Burst: 1e6}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	alice := dialRec(t, ctx, ts.url, "alice")
	bob := dialRec(t, ctx, ts.url, "bob")
	carol := dialRec(t, ctx, ts.url, "carol")
	dp := &recPeer{}
	dave, err := ts.srv.Hub().Attach(dp)
	if err != nil {
		t.Fatal(err)
	}
	defer dave.Close()
	if _, err := dave.SetName("dave"); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.Join("lobby"); err != nil {
		t.Fatal(err)
	}
	alice.request(ctx, "join", `"lobby"`)
	bob.request(ctx, "join", `"lobby"`)
	if _, err := dave.Say("lobby", "v1"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		alice.say(ctx, "lobby", "a"+strconv.Itoa(i))
	}
	carol.request(ctx, "join", `"lobby"`)
	for i := 1; i <= 3; i++ {
		bob.say(ctx, "lobby", "b"+strconv.Itoa(i))
	}
	bob.request(ctx, "join", `"den"`)
	carol.request(ctx, "join", `"den"`)
	carol.request(ctx, "topic", `{"room":"den","topic":"tea"}`)
	bob.say(ctx, "den", "d1")
	alice.request(ctx, "leave", `"lobby"`)
	bob.say(ctx, "lobby", "b4")
	carol.say(ctx, "lobby", "end")
	bob.readUntil(ctx, func(m string) bool { return strings.Contains(m, `"text":"end"`) })

	tests := []struct {
		c     *recClient
		user  string
		saids string
	}{
		{alice, "alice", "v1 b1 b2 b3"},
		{bob, "bob", "v1 a1 a2 a3 a4 a5 end"},
		{carol, "carol", "b1 b2 b3 d1 b4"},
	}
	if got, want := dp.saids(), "a1 a2 a3 a4 a5 b1 b2 b3 b4 end"; got != want {
		t.Errorf("dave heard %q, want %q", got, want)
	}
	conns := ts.srv.Hub().Conns()
	for _, tt := range tests {
		if got := strings.Join(tt.c.saids(), " "); got != tt.saids {
			t.Errorf("%s heard %q, want %q", tt.user, got, tt.saids)
		}
		var bytes uint64
		for _, m := range tt.c.events {
			bytes += uint64(len(m) - len(`42[,]`) - 2) // the event's name and JSON, unquoted
		}
		found := false
		for _, mc := range conns {
			if mc.User != tt.user {
				continue
			}
			found = true
			if mc.MsgsOut != uint64(len(tt.c.events)) || mc.BytesOut != bytes {
				t.Errorf("%s counters: %d msgs %d bytes out, want %d msgs %d bytes (what it got: %q)",
					tt.user, mc.MsgsOut, mc.BytesOut, len(tt.c.events), bytes, tt.c.events)
			}
		}
		if !found {
			t.Errorf("%s not in Conns", tt.user)
		}
	}
	for _, c := range []*recClient{bob, carol} {
		n := 0
		for _, m := range c.events {
			if strings.HasPrefix(m, `42["topic"`) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d topic events, want 1: %q", n, c.events)
		}
	}
}

// With connection state recovery, socketio gives a recovered socket back
// the rooms of its last connection; the hub's rooms are not among them,
// since the socket comes back as a new connection in no room.
func TestRoomBroadcastRecovered(t *testing.T) {
	ts := startServer(t, &hub.ServerConfig{
		Hub:      &hub.Config{Rate: 1e6, Burst: 1e6},
		SocketIO: &socketio.Config{ConnectionStateRecovery: &socketio.RecoveryConfig{}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bob := dialRec(t, ctx, ts.url, "bob")
	bob.request(ctx, "join", `"lobby"`)

	// alice connects by hand to learn her session id (pid) and the offset
	// of a broadcast she got.
	dial := func(auth string) (*websocket.Conn, string) {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		if _, _, err := c.Read(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Write(ctx, websocket.MessageText, []byte("40"+auth)); err != nil {
			t.Fatal(err)
		}
		_, b, err := c.Read(ctx)
		if err != nil || !strings.HasPrefix(string(b), "40{") {
			t.Fatalf("connect: %q %v", b, err)
		}
		return c, string(b)
	}
	c1, hello := dial("")
	var reply struct{ SID, PID string }
	if err := json.Unmarshal([]byte(hello[2:]), &reply); err != nil || reply.PID == "" {
		t.Fatalf("CONNECT reply %q: %v", hello, err)
	}
	alice := &recClient{t: t, c: c1}
	alice.request(ctx, "nick", `"alice"`)
	alice.request(ctx, "join", `"lobby"`)
	bob.say(ctx, "lobby", "before")
	alice.readUntil(ctx, func(m string) bool { return strings.Contains(m, `"text":"before"`) })
	var args []any
	last := alice.events[len(alice.events)-1]
	if err := json.Unmarshal([]byte(last[2:]), &args); err != nil || len(args) != 3 {
		t.Fatalf("said with offset: %q: %v", last, err)
	}
	offset, _ := args[2].(string)
	c1.CloseNow() // transport close: recoverable
	waitFor(t, "alice gone", func() bool { return len(ts.srv.Hub().Members("lobby")) == 1 })

	auth, _ := json.Marshal(map[string]string{"pid": reply.PID, "offset": offset})
	c2, hello2 := dial(string(auth))
	if !strings.Contains(hello2, reply.SID) {
		t.Fatalf("not recovered: %q, first sid %s", hello2, reply.SID)
	}
	alice2 := &recClient{t: t, c: c2}
	bob.say(ctx, "lobby", "x") // alice2 is in no room of the hub
	alice2.request(ctx, "nick", `"alice"`)
	alice2.request(ctx, "join", `"lobby"`)
	bob.say(ctx, "lobby", "y")
	alice2.readUntil(ctx, func(m string) bool { return strings.Contains(m, `"text":"y"`) })
	if got := strings.Join(alice2.saids(), " "); got != "y" {
		t.Errorf("recovered alice heard %q, want %q", got, "y")
	}
}
