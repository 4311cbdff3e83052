package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engineio"
)

func TestConnect(t *testing.T) {
	srv := newTestServer(t, nil)
	got := make(chan *Socket, 1)
	srv.Of("/").OnConnection(func(s *Socket) { got <- s })
	c := newFakeClient(t, srv, 16)
	sid, reply := c.connect("/", `{"token":"abc"}`)
	if len(sid) != 20 {
		t.Fatalf("sid %q", sid)
	}
	if _, ok := reply["pid"]; ok {
		t.Fatal("pid without recovery")
	}
	s := recvChan(t, got)
	if s.ID() != sid || s.Handshake().Auth["token"] != "abc" || s.Handshake().Query.Get("x") != "1" {
		t.Fatalf("socket %s handshake %+v", s.ID(), s.Handshake())
	}
	if !slices.Equal(s.Rooms(), []string{sid}) {
		t.Fatalf("rooms %v", s.Rooms())
	}
	if n := srv.Stats().Sockets; n != 1 {
		t.Fatalf("sockets %d", n)
	}
}

func TestConnectErrors(t *testing.T) {
	srv := newTestServer(t, nil)
	admin := srv.Of("/admin")
	admin.Use(func(s *Socket) error {
		if s.Handshake().Auth["token"] == "ok" {
			return nil
		}
		return &ConnectError{Message: "not authorized", Data: map[string]any{"code": 42}}
	})
	srv.Of("/plain").Use(func(*Socket) error { return errors.New("plain refusal") })
	tests := []struct {
		name, send, want string
	}{
		{"invalid namespace", "0/nope,", `4/nope,{"message":"Invalid namespace"}`},
		{"middleware with data", `0/admin,{"token":"bad"}`, `4/admin,{"data":{"code":42},"message":"not authorized"}`},
		{"middleware plain error", "0/plain,", `4/plain,{"message":"plain refusal"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClient(t, srv, 16)
			c.send(tt.send)
			if got := c.recv(); got != tt.want {
				t.Fatalf("want %s, got %s", tt.want, got)
			}
			if c.closed() {
				t.Fatal("refusal closed the connection")
			}
		})
	}
	c := newFakeClient(t, srv, 16)
	c.connect("/admin", `{"token":"ok"}`)
	if srv.Stats().ConnectErrors != 3 {
		t.Fatalf("connect errors %d", srv.Stats().ConnectErrors)
	}
}

func TestEventsAndAcks(t *testing.T) {
	srv := newTestServer(t, nil)
	sockets := make(chan *Socket, 1)
	events := make(chan []any, 4)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("echo", func(args []any, ack AckFunc) {
			if ack != nil {
				ack(args...)
			}
		})
		s.On("note", func(args []any, ack AckFunc) { events <- args })
		sockets <- s
	})
	c := newFakeClient(t, srv, 16)
	c.connect("/", "")
	s := recvChan(t, sockets)

	tests := []struct{ name, send, want string }{
		{"ack with args", `21["echo","hi",{"n":1}]`, `31["hi",{"n":1}]`},
		{"ack without args", `27["echo"]`, `37[]`},
		{"binary ack", `51-9["echo",{"_placeholder":true,"num":0}]`, `61-9[{"_placeholder":true,"num":0}]`},
		{"numeric event name no handler", `2[5]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.send(tt.send)
			if strings.HasPrefix(tt.send, "5") {
				c.sendBin([]byte{1, 2, 3})
			}
			if tt.want == "" {
				c.noMessage()
				return
			}
			if got := c.recv(); got != tt.want {
				t.Fatalf("want %s, got %s", tt.want, got)
			}
			if strings.HasPrefix(tt.want, "6") {
				if got := c.recv(); got != "b:\x01\x02\x03" {
					t.Fatalf("attachment %q", got)
				}
			}
		})
	}

	c.send(`2["note",1.5,null,true]`)
	if got := recvChan(t, events); !reflect.DeepEqual(got, []any{1.5, nil, true}) {
		t.Fatalf("args %#v", got)
	}

	// Server to client with ack.
	res := make(chan []any, 1)
	errc := make(chan error, 1)
	go func() {
		a, err := s.EmitWithAck(context.Background(), "ask", []byte("bin"), "x")
		res <- a
		errc <- err
	}()
	if got, want := c.recv(), `51-0["ask",{"_placeholder":true,"num":0},"x"]`; got != want {
		t.Fatalf("want %s got %s", want, got)
	}
	if got := c.recv(); got != "b:bin" {
		t.Fatalf("attachment %q", got)
	}
	c.send(`30["yes",2]`)
	if err := recvChan(t, errc); err != nil {
		t.Fatal(err)
	}
	if got := recvChan(t, res); !reflect.DeepEqual(got, []any{"yes", 2.0}) {
		t.Fatalf("ack args %#v", got)
	}

	// Timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := s.EmitWithAck(ctx, "ask")
	if !errors.Is(err, ErrAckTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrAckTimeout, got %v", err)
	}
	c.recv()
	if err := s.Emit("disconnect"); !errors.Is(err, ErrReservedEvent) {
		t.Fatalf("want ErrReservedEvent, got %v", err)
	}

	// Disconnect while waiting.
	go func() {
		_, err := s.EmitWithAck(context.Background(), "ask")
		errc <- err
	}()
	c.recv()
	c.f.closeWith("transport close")
	if err := recvChan(t, errc); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("want ErrDisconnected, got %v", err)
	}
}

func TestDisconnectReasons(t *testing.T) {
	tests := []struct {
		name   string
		act    func(c *fakeClient, s *Socket)
		want   string
		packet string
	}{
		{"server namespace disconnect", func(c *fakeClient, s *Socket) { s.Disconnect(false) }, "server namespace disconnect", "1/n,"},
		{"client namespace disconnect", func(c *fakeClient, s *Socket) { c.send("1/n,") }, "client namespace disconnect", ""},
		{"transport close", func(c *fakeClient, s *Socket) { c.f.closeWith("transport close") }, "transport close", ""},
		{"ping timeout", func(c *fakeClient, s *Socket) { c.f.closeWith("ping timeout") }, "ping timeout", ""},
		{"server close", func(c *fakeClient, s *Socket) { s.Disconnect(true) }, "server namespace disconnect", "1/n,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newTestServer(t, nil)
			sockets := make(chan *Socket, 1)
			reasons := make(chan string, 2)
			srv.Of("/n").OnConnection(func(s *Socket) {
				s.Join("r")
				s.OnDisconnecting(func(string) {
					if !slices.Contains(s.Rooms(), "r") {
						t.Error("disconnecting: not in room any more")
					}
				})
				s.OnDisconnect(func(reason string) { reasons <- reason })
				sockets <- s
			})
			c := newFakeClient(t, srv, 16)
			c.connect("/n", "")
			s := recvChan(t, sockets)
			tt.act(c, s)
			if got := recvChan(t, reasons); got != tt.want {
				t.Fatalf("want %q, got %q", tt.want, got)
			}
			if tt.packet != "" {
				if got := c.recv(); got != tt.packet {
					t.Fatalf("want %q, got %q", tt.packet, got)
				}
			}
			if s.Connected() || srv.Of("/n").Len() != 0 || len(srv.Of("/n").Adapter().Sockets(nil)) != 0 {
				t.Fatal("socket still registered")
			}
			if err := s.Emit("x"); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("emit after disconnect: %v", err)
			}
		})
	}
}

// room sets up n clients on "/" and returns them with their sockets.
func setupClients(t *testing.T, srv *Server, n int) ([]*fakeClient, []*Socket) {
	t.Helper()
	sockets := make(chan *Socket, n)
	srv.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	var cs []*fakeClient
	var ss []*Socket
	for range n {
		c := newFakeClient(t, srv, 64)
		c.connect("/", "")
		cs = append(cs, c)
		ss = append(ss, recvChan(t, sockets))
	}
	return cs, ss
}

func TestRoomsAndBroadcast(t *testing.T) {
	srv := newTestServer(t, nil)
	cs, ss := setupClients(t, srv, 4)
	ns := srv.Of("/")
	ss[0].Join("a")
	ss[1].Join("a", "b")
	ss[2].Join("b")
	tests := []struct {
		name string
		emit func() error
		want []bool
	}{
		{"all", func() error { return ns.Emit("m") }, []bool{true, true, true, true}},
		{"room a", func() error { return ns.To("a").Emit("m") }, []bool{true, true, false, false}},
		{"rooms a b once each", func() error { return ns.To("a", "b").Emit("m") }, []bool{true, true, true, false}},
		{"a except b", func() error { return ns.To("a").Except("b").Emit("m") }, []bool{true, false, false, false}},
		{"all but sender", func() error { return ss[0].Broadcast().Emit("m") }, []bool{false, true, true, true}},
		{"socket to room excludes itself", func() error { return ss[1].To("a").Emit("m") }, []bool{true, false, false, false}},
		{"own room", func() error { return ns.To(ss[3].ID()).Emit("m") }, []bool{false, false, false, true}},
		{"volatile", func() error { return ns.Volatile().Emit("m") }, []bool{true, true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.emit(); err != nil {
				t.Fatal(err)
			}
			for i, c := range cs {
				if tt.want[i] {
					if got := c.recv(); got != `2["m"]` {
						t.Fatalf("client %d got %q", i, got)
					}
				} else {
					c.noMessage()
				}
			}
		})
	}
	ss[1].Leave("a")
	if got := ns.Adapter().Sockets([]string{"a"}); !slices.Equal(got, []string{ss[0].ID()}) {
		t.Fatalf("room a: %v", got)
	}
}

// TestOwnRoom: a socket's own id is a room the adapter does not store,
// with every room behaviour: listed, broadcast to, excepted, fetched,
// left and joined again, shared with a socket joining it by name.
func TestOwnRoom(t *testing.T) {
	srv := newTestServer(t, nil)
	cs, ss := setupClients(t, srv, 3)
	ns := srv.Of("/")
	a := ns.Adapter().(*MemoryAdapter)
	id0, id1, id2 := ss[0].ID(), ss[1].ID(), ss[2].ID()
	ss[0].Join("r")
	ss[1].Join("r")
	a.mu.RLock()
	for _, id := range []string{id0, id1, id2} {
		if _, stored := a.rooms[id]; stored {
			t.Errorf("own room %s stored in the room map", id)
		}
	}
	if a.sids[id2].rooms != nil {
		t.Error("a socket in no other room has a rooms map")
	}
	a.mu.RUnlock()
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	fetched := func(op BroadcastOperator) []string {
		rs, err := op.FetchSockets(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return sorted(ids...)
	}
	steps := []struct {
		name  string
		setup func()
		emit  func() error
		want  []bool
		rooms []string // ss[2].Rooms(), sorted
	}{
		{"to an id", nil, func() error { return ns.To(id0).Emit("m") }, []bool{true, false, false}, []string{id2}},
		{"to two ids", nil, func() error { return ns.To(id0, id1).Emit("m") }, []bool{true, true, false}, nil},
		{"to an id and a room, once each", nil, func() error { return ns.To(id0, "r").Emit("m") }, []bool{true, true, false}, nil},
		{"except an id", nil, func() error { return ns.Except(id0).Emit("m") }, []bool{false, true, true}, nil},
		{"room except an id", nil, func() error { return ns.To("r").Except(id1).Emit("m") }, []bool{true, false, false}, nil},
		{"sender's broadcast to its id", nil, func() error { return ss[0].To(id0).Emit("m") }, []bool{false, false, false}, nil},
		{"another socket joins an id", func() { ss[2].Join(id0) }, func() error { return ns.To(id0).Emit("m") }, []bool{true, false, true}, sorted(id0, id2)},
		{"except a shared id", nil, func() error { return ns.Except(id0).Emit("m") }, []bool{false, true, false}, nil},
		{"own room left", func() { ss[2].Leave(id0); ss[2].Leave(id2) }, func() error { return ns.To(id2).Emit("m") }, []bool{false, false, false}, []string{}},
		{"own room joined again", func() { ss[2].Join(id2) }, func() error { return ns.To(id2).Emit("m") }, []bool{false, false, true}, []string{id2}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.setup != nil {
				st.setup()
			}
			if err := st.emit(); err != nil {
				t.Fatal(err)
			}
			for i, c := range cs {
				if st.want[i] {
					if got := c.recv(); got != `2["m"]` {
						t.Fatalf("client %d got %q", i, got)
					}
				} else {
					c.noMessage()
				}
			}
			if st.rooms != nil {
				got := ss[2].Rooms()
				slices.Sort(got)
				if !slices.Equal(got, st.rooms) {
					t.Errorf("rooms %v, want %v", got, st.rooms)
				}
			}
		})
	}
	if got := sorted(a.Sockets([]string{id1, "r"})...); !slices.Equal(got, sorted(id0, id1)) {
		t.Errorf("Sockets(id1, r) = %v", got)
	}
	if got := fetched(ns.To(id1)); !slices.Equal(got, []string{id1}) {
		t.Errorf("FetchSockets(To(id1)) = %v", got)
	}
	if got := fetched(ns.To("r").Except(id0)); !slices.Equal(got, []string{id1}) {
		t.Errorf("FetchSockets(To(r).Except(id0)) = %v", got)
	}
	ss[1].Disconnect(false)
	if got := a.Sockets([]string{id1}); len(got) != 0 {
		t.Errorf("Sockets(id1) after disconnect = %v", got)
	}
}

func TestBroadcastEncodesOnce(t *testing.T) {
	srv := newTestServer(t, nil)
	cs, _ := setupClients(t, srv, 3)
	if err := srv.Of("/").Emit("m", "payload"); err != nil {
		t.Fatal(err)
	}
	var first *byte
	for i, c := range cs {
		m := <-c.f.out
		if i == 0 {
			first = &m.Data[0]
		} else if &m.Data[0] != first {
			t.Fatal("each receiver got its own encoding")
		}
	}
}

func TestBroadcastWithAck(t *testing.T) {
	srv := newTestServer(t, nil)
	cs, ss := setupClients(t, srv, 3)
	ns := srv.Of("/")
	type result struct {
		res [][]any
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := ns.Timeout(waitTime).EmitWithAck(context.Background(), "q", 1)
		done <- result{r, err}
	}()
	for i, c := range cs {
		msg := c.recv()
		var id int
		if _, err := fmt.Sscanf(msg, `2%d["q",1]`, &id); err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		c.send(fmt.Sprintf(`3%d[%d]`, id, i))
	}
	r := recvChan(t, done)
	if r.err != nil || len(r.res) != 3 {
		t.Fatalf("responses %v err %v", r.res, r.err)
	}

	// Partial: one client does not answer.
	go func() {
		r, err := ns.Except(ss[2].ID()).Timeout(50*time.Millisecond).EmitWithAck(context.Background(), "q", 1)
		done <- result{r, err}
	}()
	msg := cs[0].recv()
	cs[1].recv()
	cs[0].send("3" + strings.TrimSuffix(strings.TrimPrefix(msg, "2"), `["q",1]`) + `["late"]`)
	r = recvChan(t, done)
	if !errors.Is(r.err, ErrAckTimeout) || len(r.res) != 1 {
		t.Fatalf("want 1 response and ErrAckTimeout, got %v %v", r.res, r.err)
	}
	// No receivers.
	res, err := ns.To("empty").EmitWithAck(context.Background(), "q")
	if err != nil || len(res) != 0 {
		t.Fatalf("empty room: %v %v", res, err)
	}
}

func TestMalformedPacketDropsOnlyThatClient(t *testing.T) {
	bad := []string{"9", `2{"a":1}`, `2["disconnect"]`, `5999-["x"]`, `2["a"`, "b:unexpected", `0{"a":1}`, `4{"message":"x"}`}
	for _, b := range bad {
		t.Run(b, func(t *testing.T) {
			srv := newTestServer(t, nil)
			cs, _ := setupClients(t, srv, 2)
			if strings.HasPrefix(b, "b:") {
				cs[0].sendBin([]byte(b[2:]))
			} else {
				cs[0].send(b)
			}
			cs[0].waitClosed()
			if srv.Stats().BadPackets != 1 {
				t.Fatalf("bad packets %d", srv.Stats().BadPackets)
			}
			if err := srv.Of("/").Emit("still"); err != nil {
				t.Fatal(err)
			}
			if got := cs[1].recv(); got != `2["still"]` {
				t.Fatalf("neighbour got %q", got)
			}
		})
	}
}

func TestSlowConsumer(t *testing.T) {
	srv := newTestServer(t, nil)
	sockets := make(chan *Socket, 2)
	srv.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	slow := newFakeClient(t, srv, 3)
	slow.connect("/", "")
	<-sockets
	fast := newFakeClient(t, srv, 64)
	fast.connect("/", "")
	<-sockets
	ns := srv.Of("/")
	for range 3 {
		ns.Volatile().Emit("v")
	}
	if slow.closed() || srv.Stats().VolatileDropped != 0 {
		t.Fatal("dropped too early")
	}
	ns.Volatile().Emit("v") // queue of 3 is full: dropped for slow
	if slow.closed() || srv.Stats().VolatileDropped != 1 {
		t.Fatalf("volatile: closed %v dropped %d", slow.closed(), srv.Stats().VolatileDropped)
	}
	ns.Emit("x") // non-volatile: slow is disconnected
	if reason := slow.waitClosed(); reason != "forced close" {
		t.Fatalf("reason %q", reason)
	}
	if srv.Stats().SlowConsumers != 1 {
		t.Fatalf("slow consumers %d", srv.Stats().SlowConsumers)
	}
	for _, want := range []string{`2["v"]`, `2["v"]`, `2["v"]`, `2["v"]`, `2["x"]`} {
		if got := fast.recv(); got != want {
			t.Fatalf("fast client: want %s got %s", want, got)
		}
	}
}

func TestConnectionStateRecovery(t *testing.T) {
	srv := newTestServer(t, &Config{ConnectionStateRecovery: &RecoveryConfig{}})
	sockets := make(chan *Socket, 2)
	srv.Of("/").OnConnection(func(s *Socket) { sockets <- s })
	c := newFakeClient(t, srv, 64)
	sid, reply := c.connect("/", "")
	pid, _ := reply["pid"].(string)
	if pid == "" {
		t.Fatal("no pid in CONNECT")
	}
	s := <-sockets
	s.Join("room")
	s.SetData(map[string]any{"user": "ann"})
	other := newFakeClient(t, srv, 64)
	other.connect("/", "")
	<-sockets

	ns := srv.Of("/")
	ns.Emit("first")
	var args []any
	msg := c.recv()
	other.recv()
	if err := json.Unmarshal([]byte(msg[1:]), &args); err != nil || len(args) != 2 || args[0] != "first" {
		t.Fatalf("broadcast without offset: %q", msg)
	}
	offset := args[1].(string)

	c.f.closeWith("transport close")
	ns.To("room").Emit("missed1", []byte{9})
	ns.Except("room").Emit("not for you")
	ns.Volatile().Emit("volatile, not kept")
	ns.Emit("missed2")

	c2 := newFakeClient(t, srv, 64)
	auth, _ := json.Marshal(map[string]any{"pid": pid, "offset": offset})
	sid2, reply2 := c2.connect("/", string(auth))
	if sid2 != sid || reply2["pid"] != pid {
		t.Fatalf("not recovered: sid %s->%s pid %v", sid, sid2, reply2["pid"])
	}
	s2 := recvChan(t, sockets)
	if !s2.Recovered() || !slices.Contains(s2.Rooms(), "room") || !slices.Contains(s2.Rooms(), sid) || !reflect.DeepEqual(s2.Data(), map[string]any{"user": "ann"}) {
		t.Fatalf("recovered %v rooms %v data %v", s2.Recovered(), s2.Rooms(), s2.Data())
	}
	for _, want := range []string{`51-["missed1",{"_placeholder":true,"num":0},"`, "b:\x09", `2["missed2","`} {
		if got := c2.recv(); !strings.HasPrefix(got, want) {
			t.Fatalf("want prefix %q got %q", want, got)
		}
	}
	c2.noMessage()

	// A second use of the same session fails: a fresh socket.
	c3 := newFakeClient(t, srv, 64)
	sid3, _ := c3.connect("/", string(auth))
	if sid3 == sid {
		t.Fatal("session restored twice")
	}
}

func TestDynamicNamespaces(t *testing.T) {
	srv := newTestServer(t, nil)
	parent := srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`))
	parent.Use(func(s *Socket) error {
		if s.Handshake().Auth["deny"] == true {
			return &ConnectError{Message: "denied", Data: "x"}
		}
		return nil
	})
	names := make(chan string, 4)
	parent.OnConnection(func(s *Socket) { names <- s.Namespace().Name() })
	fn := srv.OfFunc(func(name string, auth map[string]any) bool { return auth["room"] == name })
	fn.OnConnection(func(s *Socket) { names <- "fn" + s.Namespace().Name() })

	c := newFakeClient(t, srv, 16)
	c.connect("/dyn-1", "")
	c.connect("/dyn-22", "")
	c.connect("/custom", `{"room":"/custom"}`)
	c.send(`0/dyn-3,{"deny":true}`)
	if got, want := c.recv(), `4/dyn-3,{"data":"x","message":"denied"}`; got != want {
		t.Fatalf("want %s got %s", want, got)
	}
	c.send("0/dyn-x,")
	if got := c.recv(); !strings.HasPrefix(got, `4/dyn-x,{"message":"Invalid namespace"`) {
		t.Fatalf("got %s", got)
	}
	for _, want := range []string{"/dyn-1", "/dyn-22", "fn/custom"} {
		if got := recvChan(t, names); got != want {
			t.Fatalf("want %s got %s", want, got)
		}
	}
	// Emitting on the parent reaches every child.
	if err := parent.Emit("hello"); err != nil {
		t.Fatal(err)
	}
	got := []string{c.recv(), c.recv()}
	slices.Sort(got)
	if want := []string{`2/dyn-1,["hello"]`, `2/dyn-22,["hello"]`}; !slices.Equal(got, want) {
		t.Fatalf("want %v got %v", want, got)
	}
}

func TestServerSideSocketOps(t *testing.T) {
	srv := newTestServer(t, nil)
	cs, ss := setupClients(t, srv, 3)
	ns := srv.Of("/")
	ss[0].SetData("zero")
	ss[0].Join("a")
	ss[1].Join("a")
	got, err := ns.In("a").FetchSockets(context.Background())
	if err != nil || len(got) != 2 {
		t.Fatalf("fetch: %v %v", got, err)
	}
	for _, r := range got {
		if r.ID == ss[0].ID() && r.Data != "zero" {
			t.Fatalf("data %v", r.Data)
		}
	}
	ns.In("a").SocketsJoin("b")
	if n := len(ns.Adapter().Sockets([]string{"b"})); n != 2 {
		t.Fatalf("room b has %d", n)
	}
	ns.SocketsLeave("a")
	if n := len(ns.Adapter().Sockets([]string{"a"})); n != 0 {
		t.Fatalf("room a has %d", n)
	}
	got[0].Emit("direct")
	idx := slices.IndexFunc(ss, func(s *Socket) bool { return s.ID() == got[0].ID })
	if m := cs[idx].recv(); m != `2["direct"]` {
		t.Fatalf("got %q", m)
	}
	ns.In("b").DisconnectSockets(false)
	if ns.Len() != 1 {
		t.Fatalf("left %d", ns.Len())
	}
	ns.DisconnectSockets(true)
	cs[2].waitClosed()
}

func TestCatchAll(t *testing.T) {
	srv := newTestServer(t, nil)
	in := make(chan string, 4)
	out := make(chan string, 4)
	sockets := make(chan *Socket, 1)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.OnAny(func(ev string, args []any) { in <- fmt.Sprintf("%s %v", ev, args) })
		s.OnAnyOutgoing(func(ev string, args []any) { out <- fmt.Sprintf("%s %v", ev, args) })
		sockets <- s
	})
	c := newFakeClient(t, srv, 16)
	c.connect("/", "")
	s := <-sockets
	c.send(`2["hello",1]`)
	if got := recvChan(t, in); got != "hello [1]" {
		t.Fatalf("in %q", got)
	}
	s.Emit("bye", "x")
	srv.Of("/").Emit("all")
	if got := recvChan(t, out); got != "bye [x]" {
		t.Fatalf("out %q", got)
	}
	if got := recvChan(t, out); got != "all []" {
		t.Fatalf("out %q", got)
	}
}

func TestConnectTimeout(t *testing.T) {
	srv := newTestServer(t, &Config{ConnectTimeout: 10 * time.Millisecond})
	c := newFakeClient(t, srv, 4)
	if reason := c.waitClosed(); reason != "forced close" {
		t.Fatalf("reason %q", reason)
	}
}

func TestUnknownNamespacePacketIgnored(t *testing.T) {
	srv := newTestServer(t, nil)
	c := newFakeClient(t, srv, 4)
	c.connect("/", "")
	c.send(`2/gone,["x"]`)
	c.send(`0{}`) // CONNECT twice to "/": protocol violation
	c.waitClosed()
	if srv.Stats().BadPackets != 1 {
		t.Fatalf("bad %d", srv.Stats().BadPackets)
	}
}

func TestRecoverySkipMiddlewares(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprint("skip=", skip), func(t *testing.T) {
			srv := newTestServer(t, &Config{ConnectionStateRecovery: &RecoveryConfig{SkipMiddlewares: skip}})
			calls := 0
			srv.Of("/").Use(func(*Socket) error { calls++; return nil })
			c := newFakeClient(t, srv, 16)
			_, reply := c.connect("/", "")
			srv.Of("/").Emit("x")
			var args []any
			json.Unmarshal([]byte(c.recv()[1:]), &args)
			c.f.closeWith("ping timeout")
			auth, _ := json.Marshal(map[string]any{"pid": reply["pid"], "offset": args[1]})
			c2 := newFakeClient(t, srv, 16)
			c2.connect("/", string(auth))
			want := 2
			if skip {
				want = 1
			}
			if calls != want {
				t.Fatalf("middleware calls: want %d, got %d", want, calls)
			}
		})
	}
}

func TestRecoveryNotForClientDisconnect(t *testing.T) {
	srv := newTestServer(t, &Config{ConnectionStateRecovery: &RecoveryConfig{}})
	c := newFakeClient(t, srv, 16)
	sid, reply := c.connect("/", "")
	srv.Of("/").Emit("x")
	var args []any
	json.Unmarshal([]byte(c.recv()[1:]), &args)
	c.send("1") // DISCONNECT: deliberate, not recoverable
	auth, _ := json.Marshal(map[string]any{"pid": reply["pid"], "offset": args[1]})
	c2 := newFakeClient(t, srv, 16)
	if sid2, _ := c2.connect("/", string(auth)); sid2 == sid {
		t.Fatal("recovered after a client namespace disconnect")
	}
}

func TestCleanupEmptyChildNamespaces(t *testing.T) {
	for _, cleanup := range []bool{false, true} {
		t.Run(fmt.Sprint("cleanup=", cleanup), func(t *testing.T) {
			srv := newTestServer(t, &Config{CleanupEmptyChildNamespaces: cleanup})
			parent := srv.OfRegexp(regexp.MustCompile(`^/d\d$`))
			c := newFakeClient(t, srv, 16)
			c.connect("/d1", "")
			c.send("1/d1,")
			srv.mu.Lock()
			_, kept := srv.nsps["/d1"]
			srv.mu.Unlock()
			if kept == cleanup || (len(parent.targets()) == 1) == cleanup {
				t.Fatalf("namespace kept: %v, children %d", kept, len(parent.targets()))
			}
			c.connect("/d1", "") // re-created on demand
		})
	}
}

func TestDecode(t *testing.T) {
	type chat struct {
		Room string
		N    int
		Blob []byte
	}
	var got chat
	if err := Decode(map[string]any{"Room": "r", "N": 3.0, "Blob": []byte{1, 2}}, &got); err != nil {
		t.Fatal(err)
	}
	if want := (chat{"r", 3, []byte{1, 2}}); !reflect.DeepEqual(want, got) {
		t.Fatalf("want %+v, got %+v", want, got)
	}
	if err := Decode("x", &got); err == nil {
		t.Fatal("want error")
	}
}

func TestRemoteSocketThroughAdapter(t *testing.T) {
	srv := newTestServer(t, nil)
	cs, ss := setupClients(t, srv, 1)
	r := NewRemoteSocket(srv.Of("/"), ss[0].ID(), nil, nil, nil)
	r.Join("x")
	if !slices.Contains(ss[0].Rooms(), "x") {
		t.Fatal("join")
	}
	r.Emit("hi")
	if got := cs[0].recv(); got != `2["hi"]` {
		t.Fatalf("got %q", got)
	}
	r.Leave("x")
	r.Disconnect(false)
	if ss[0].Connected() || slices.Contains(ss[0].Rooms(), "x") {
		t.Fatal("leave/disconnect")
	}
}

func TestAttachmentLimitsDropClient(t *testing.T) {
	srv := newTestServer(t, &Config{MaxAttachments: 2, MaxAttachmentBytes: 4})
	tests := []struct {
		name string
		send func(c *fakeClient)
	}{
		{"count", func(c *fakeClient) { c.send(`53-["a"]`) }},
		{"bytes", func(c *fakeClient) {
			c.send(`52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
			c.sendBin([]byte("abc"))
			c.sendBin([]byte("de"))
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClient(t, srv, 4)
			c.connect("/", "")
			tt.send(c)
			c.waitClosed()
			if got := srv.Stats().BadPackets; got != uint64(i+1) {
				t.Fatalf("bad packets %d", got)
			}
		})
	}
}

func TestBroadcastOperatorIsImmutable(t *testing.T) {
	srv := newTestServer(t, nil)
	cs, ss := setupClients(t, srv, 3)
	ss[0].Join("a")
	ss[1].Join("b")
	base := srv.Of("/").To("a")
	withB := base.To("b")
	_ = base.Except("a")
	if err := base.Emit("m"); err != nil {
		t.Fatal(err)
	}
	cs[0].recv()
	cs[1].noMessage()
	if err := withB.Local().Emit("m"); err != nil {
		t.Fatal(err)
	}
	cs[0].recv()
	cs[1].recv()
	cs[2].noMessage()
}

// clusterAdapter is a MemoryAdapter whose ServerSideEmit loops back, as a
// one-node cluster would deliver it to its peers.
type clusterAdapter struct {
	*MemoryAdapter
	ns *Namespace
}

func (c clusterAdapter) ServerSideEmit(data []any) error {
	c.ns.ReceiveServerSideEmit(data)
	return nil
}

func TestCustomAdapterServerSideEmit(t *testing.T) {
	srv := newTestServer(t, &Config{NewAdapter: func(ns *Namespace) Adapter {
		return clusterAdapter{NewMemoryAdapter(ns), ns}
	}})
	got := make(chan string, 1)
	ns := srv.Of("/")
	ns.OnServerSideEmit(func(ev string, args []any) { got <- fmt.Sprintf("%s %v", ev, args) })
	if err := ns.ServerSideEmit("hello", 1); err != nil {
		t.Fatal(err)
	}
	if g := recvChan(t, got); g != "hello [1]" {
		t.Fatalf("got %q", g)
	}
	cs, _ := setupClients(t, srv, 1)
	ns.Emit("still works")
	if m := cs[0].recv(); m != `2["still works"]` {
		t.Fatalf("got %q", m)
	}
}

func TestPendingAcksBounded(t *testing.T) {
	srv := newTestServer(t, nil)
	cs, ss := setupClients(t, srv, 1)
	s := ss[0]
	errs := make(chan error, 1)
	go func() {
		_, err := s.EmitWithAck(context.Background(), "first")
		errs <- err
	}()
	cs[0].recv()
	for i := range maxPendingAcks {
		s.addAck(uint64(1000+i), func([]any, error) {})
	}
	if err := recvChan(t, errs); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("oldest ack: want ErrAckTimeout, got %v", err)
	}
	s.mu.Lock()
	n := len(s.acks)
	s.mu.Unlock()
	if n != maxPendingAcks {
		t.Fatalf("pending %d", n)
	}
}

func TestRecoveryTooManyMissed(t *testing.T) {
	srv := newTestServer(t, &Config{
		ConnectionStateRecovery: &RecoveryConfig{},
		Engine:                  &engineio.Config{MaxQueuedPackets: 8},
	})
	c := newFakeClient(t, srv, 16)
	sid, reply := c.connect("/", "")
	ns := srv.Of("/")
	ns.Emit("x")
	var args []any
	json.Unmarshal([]byte(c.recv()[1:]), &args)
	c.f.closeWith("transport close")
	for range 5 { // more than 8/2
		ns.Emit("missed")
	}
	auth, _ := json.Marshal(map[string]any{"pid": reply["pid"], "offset": args[1]})
	c2 := newFakeClient(t, srv, 16)
	if sid2, _ := c2.connect("/", string(auth)); sid2 == sid {
		t.Fatal("recovered with more missed packets than the queue takes")
	}
}

// wrappedAdapter uses a MemoryAdapter as a field, not embedded: the
// namespace cannot bind sockets to it, and delivery must still work.
type wrappedAdapter struct {
	Adapter
}

func TestWrappedMemoryAdapter(t *testing.T) {
	srv := newTestServer(t, &Config{NewAdapter: func(ns *Namespace) Adapter {
		return wrappedAdapter{NewMemoryAdapter(ns)}
	}})
	cs, ss := setupClients(t, srv, 2)
	ss[1].Join("r")
	srv.Of("/").Emit("all")
	srv.Of("/").To("r").Emit("r")
	for i, want := range [][]string{{`2["all"]`}, {`2["all"]`, `2["r"]`}} {
		for _, w := range want {
			if got := cs[i].recv(); got != w {
				t.Fatalf("client %d: want %s, got %s", i, w, got)
			}
		}
	}
}
