package irc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
)

// server is a Door serving on loopback for one test.
type server struct {
	h    *hub.Hub
	d    *Door
	addr string
	stop func() // cancels Serve and waits for it
}

func startServer(t *testing.T, hcfg *hub.Config, cfg *Config) *server {
	t.Helper()
	h, err := hub.New(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := endpoint.Listen(ctx, "tcp://127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	var stopped bool
	s := &server{h: h, d: d, addr: ln.Addr().String()}
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			buf := make([]byte, 1<<20)
			t.Errorf("Serve did not return; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
		}
		h.Close()
	}
	t.Cleanup(s.stop)
	return s
}

// raw is an nc-style client: it writes lines ending in "\n" alone and
// reads lines.
type raw struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *raw {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *raw) send(lines ...string) {
	r.t.Helper()
	for _, l := range lines {
		if _, err := r.c.Write([]byte(l + "\n")); err != nil {
			r.t.Fatalf("write %q: %v", l, err)
		}
	}
}

// line reads one line (without "\r\n") within d; ok false on timeout or EOF.
func (r *raw) line(d time.Duration) (string, bool) {
	r.c.SetReadDeadline(time.Now().Add(d))
	l, err := r.br.ReadString('\n')
	if err != nil {
		return l, false
	}
	if !strings.HasSuffix(l, "\r\n") {
		r.t.Errorf("line %q does not end in CRLF", l)
	}
	return strings.TrimRight(l, "\r\n"), true
}

// expect reads lines until one contains want, failing after 5 s; it
// returns the lines read, the match last.
func (r *raw) expect(want string) []string {
	r.t.Helper()
	var seen []string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		l, ok := r.line(time.Until(deadline))
		if !ok {
			break
		}
		seen = append(seen, l)
		if strings.Contains(l, want) {
			return seen
		}
	}
	r.t.Fatalf("no line containing %q; got %q", want, seen)
	return nil
}

// quiet checks that no line containing s arrives within d.
func (r *raw) quiet(s string, d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		l, ok := r.line(time.Until(deadline))
		if !ok {
			return
		}
		if strings.Contains(l, s) {
			r.t.Fatalf("unexpected line %q", l)
		}
	}
}

func (r *raw) register(nick string) {
	r.t.Helper()
	r.send("NICK "+nick, "USER "+nick+" 0 * :"+nick+" Realname")
	r.expect(" 001 " + nick + " ")
	r.expect(" 422 ")
}

func TestCommands(t *testing.T) {
	s := startServer(t, nil, nil)
	other := dialRaw(t, s.addr)
	other.register("bob")
	other.send("JOIN #lobby")
	other.expect(" 366 bob #lobby ")
	c := dialRaw(t, s.addr)
	for _, tc := range []struct {
		send string
		want string
	}{
		{"JOIN #lobby", " 451 * :You have not registered"},
		{"PING :x", ":switchboard PONG switchboard :x"},
		{"PING", " 409 "},
		{"NICK", " 431 "},
		{"USER onlyone", " 461 * USER "},
		{"NICK bad!nick", ""},
		{"USER ann 0 * :Ann Example", " 432 * bad!nick "},
		{"NICK ann", " 001 ann :Welcome to the switchboard IRC network ann!~ann@127.0.0.1"},
		{"", " 002 ann "},
		{"", " 003 ann "},
		{"", " 004 ann switchboard "},
		{"", " 005 ann CHANTYPES=# "},
		{"", " 422 ann :MOTD File is missing"},
		{"", ":switchboard NOTICE ann :*** ann has logged in"},
		{"USER ann 0 * :again", " 462 "},
		{"FROB", " 421 ann FROB :Unknown command"},
		{"JOIN", " 461 ann JOIN "},
		{"JOIN lobby", " 403 ann lobby "},
		{"JOIN #no/such", " 403 ann #no/such "},
		{"JOIN #lobby", ":ann!~ann@127.0.0.1 JOIN #lobby"},
		{"", " 353 ann = #lobby :ann bob"},
		{"", " 366 ann #lobby :End of /NAMES list."},
		{"TOPIC #lobby", " 331 ann #lobby :No topic is set"},
		{"TOPIC #lobby :plans for today", ":ann!ann@switchboard TOPIC #lobby :plans for today"},
		{"TOPIC #lobby", " 332 ann #lobby :plans for today"},
		{"TOPIC #elsewhere :x", " 442 ann #elsewhere "},
		{"TOPIC", " 461 ann TOPIC "},
		{"NAMES #lobby", " 353 ann = #lobby :ann bob"},
		{"NAMES #empty", " 366 ann #empty "},
		{"PRIVMSG", " 411 "},
		{"PRIVMSG #lobby", " 412 "},
		{"PRIVMSG #elsewhere :hi", " 404 ann #elsewhere "},
		{"PRIVMSG nobody :hi", " 401 ann nobody "},
		{"NOTICE nobody :hi", ""},
		{"PART #elsewhere", " 442 ann #elsewhere "},
		{"PART #bad/room", " 403 "},
		{"NICK carol", " 400 ann NICK "},
		{"MODE #lobby", " 324 ann #lobby :+nt"},
		{"WHO #lobby", " 315 ann #lobby "},
		{"WHOIS bob", " 318 ann bob "},
		{"LIST", " 323 "},
		{"ISON bob zed", " 303 ann :bob"},
		{"PART #lobby :bye", ":ann!~ann@127.0.0.1 PART #lobby :bye"},
		{"NICK carol", ":ann!~ann@127.0.0.1 NICK carol"},
		{strings.Repeat("x", 600), " 417 "},
		{"QUIT :done", "ERROR :Closing Link: 127.0.0.1 (Quit: done)"},
	} {
		if tc.send != "" {
			c.send(tc.send)
		}
		if tc.want != "" {
			got := c.expect(tc.want)
			for _, l := range got[:len(got)-1] {
				if strings.Contains(l, " 4") && !strings.Contains(l, "NOTICE") {
					t.Errorf("after %q: unexpected line %q before %q", tc.send, l, tc.want)
				}
			}
		}
	}
	if _, ok := c.line(5 * time.Second); ok {
		t.Error("connection still open after QUIT")
	}
	if st := s.d.Stats(); st.Overlong != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRoomAndUserScope(t *testing.T) {
	s := startServer(t, nil, nil)
	a := dialRaw(t, s.addr)
	a.register("ann")
	b1 := dialRaw(t, s.addr)
	b1.register("bob")
	a.expect("*** bob has logged in")
	b2 := dialRaw(t, s.addr) // bob's second connection: no new presence
	b2.register("bob")
	for _, c := range []*raw{a, b1, b2} {
		c.send("JOIN #lobby")
		c.expect(" 366 ")
	}
	a.expect(":bob!bob@switchboard JOIN #lobby")
	a.send("PRIVMSG #lobby :hello room", "PRIVMSG bob :hello bob", "PRIVMSG #lobby :\x01ACTION waves\x01")
	for _, b := range []*raw{b1, b2} {
		b.expect(":ann!ann@switchboard PRIVMSG #lobby :hello room")
		b.expect(":ann!ann@switchboard PRIVMSG bob :hello bob")
		b.expect(":ann!ann@switchboard PRIVMSG #lobby :\x01ACTION waves\x01")
	}
	b1.send("PRIVMSG #lobby :from b1")
	b2.expect("PRIVMSG #lobby :from b1") // the user's other connection hears it
	a.expect("PRIVMSG #lobby :from b1")
	a.quiet("PRIVMSG #lobby :hello room", 200*time.Millisecond) // never its own

	// Text from another door with several lines, and a long one.
	x, err := s.h.Attach(nopPeer{})
	if err != nil {
		t.Fatal(err)
	}
	x.SetName("web")
	x.Join("lobby")
	long := strings.Repeat("é", 600)
	if _, err := x.Say("lobby", "one\ntwo\n"+long); err != nil {
		t.Fatal(err)
	}
	a.expect(":web!web@switchboard PRIVMSG #lobby :one")
	a.expect(":web!web@switchboard PRIVMSG #lobby :two")
	total := 0
	for i := 0; i < 10 && total < 600; i++ {
		got := a.expect(":web!web@switchboard PRIVMSG #lobby :é")
		l := got[len(got)-1]
		if len(l)+2 > 512 {
			t.Fatalf("line of %d bytes", len(l)+2)
		}
		total += strings.Count(l, "é")
	}
	if total != 600 {
		t.Fatalf("split text holds %d of 600 runes", total)
	}
	x.Close()
	a.expect("PART #lobby")
	a.expect("*** web has logged out")

	b1.send("QUIT")
	b2.send("QUIT")
	a.expect(":bob!bob@switchboard PART #lobby")
	a.expect("*** bob has logged out")
}

type nopPeer struct{}

func (nopPeer) Deliver(*hub.Event) error { return nil }
func (nopPeer) Close()                   {}

func TestSlowClientDropped(t *testing.T) {
	s := startServer(t, &hub.Config{Rate: 1e6, Burst: 1e6}, &Config{Queue: 64 << 10, LineRate: 1e6, LineBurst: 1e6})
	slow := dialRaw(t, s.addr)
	slow.register("slow")
	slow.send("JOIN #lobby")
	slow.expect(" 366 ")
	fast := dialRaw(t, s.addr)
	fast.register("fast")
	fast.send("JOIN #lobby")
	fast.expect(" 366 ")
	// slow stops reading; its kernel buffers fill, then its queue.
	x, _ := s.h.Attach(nopPeer{})
	x.SetName("talker")
	x.Join("lobby")
	text := strings.Repeat("z", 450)
	seen := false
	deadline := time.Now().Add(30 * time.Second)
	for s.d.Stats().Slow == 0 && time.Now().Before(deadline) {
		for range 50 {
			if _, err := x.Say("lobby", text); err != nil {
				t.Fatal(err)
			}
		}
		// fast keeps up, and is never held up by slow.
		fast.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for range 50 {
			l, err := fast.br.ReadString('\n')
			if err != nil {
				t.Fatalf("fast client stalled: %v", err)
			}
			seen = seen || strings.Contains(l, "*** slow has logged out")
		}
	}
	if st := s.d.Stats(); st.Slow != 1 {
		t.Fatalf("slow clients dropped: %d", st.Slow)
	}
	if !seen {
		fast.expect("*** slow has logged out")
	}
	x.Close()
}

func TestPingTimeout(t *testing.T) {
	s := startServer(t, nil, &Config{PingInterval: 200 * time.Millisecond, PingTimeout: 300 * time.Millisecond, RegisterTimeout: 300 * time.Millisecond})
	c := dialRaw(t, s.addr)
	c.register("sleepy")
	c.expect("PING switchboard")
	c.send("PONG switchboard")
	c.expect("PING switchboard") // still alive after answering
	c.expect("ERROR :Closing Link: 127.0.0.1 (Ping timeout)")
	u := dialRaw(t, s.addr) // never registers
	u.expect("(Registration timeout)")
	if st := s.d.Stats(); st.Timeouts != 2 {
		t.Fatalf("timeouts %d", st.Timeouts)
	}
}

func TestShutdownTellsClients(t *testing.T) {
	s := startServer(t, nil, nil)
	c := dialRaw(t, s.addr)
	c.register("ann")
	c.send("JOIN #lobby")
	c.expect(" 366 ")
	s.stop()
	c.expect("ERROR :Closing Link: 127.0.0.1 (server shutting down)")
	if _, ok := c.line(5 * time.Second); ok {
		t.Fatal("connection still open")
	}
}

func TestHalfClose(t *testing.T) {
	// nc sends its lines, closes its side, and reads every reply.
	s := startServer(t, nil, nil)
	c := dialRaw(t, s.addr)
	c.send("NICK ann", "USER ann 0 * :Ann", "JOIN #lobby", "PRIVMSG #lobby :hi")
	c.c.(*net.TCPConn).CloseWrite()
	c.expect(" 366 ann #lobby ")
	if _, ok := c.line(5 * time.Second); ok {
		// allow the last queued line
		if _, ok := c.line(5 * time.Second); ok {
			t.Fatal("connection still open after EOF")
		}
	}
}

func TestConfig(t *testing.T) {
	h, _ := hub.New(nil)
	defer h.Close()
	for _, cfg := range []*Config{{MaxLine: 100}, {MaxLine: 9000}, {Queue: -1}, {PingInterval: -1}, {LineRate: -1}} {
		if _, err := New(h, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("nil hub accepted")
	}
	d, err := New(h, &Config{MaxLine: 8192})
	if err != nil || d.cfg.MaxLine != 8192 || d.cfg.Queue != 64<<10 {
		t.Fatalf("%v %+v", err, d.cfg)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		d.mu.Lock()
		serving := d.serving
		d.mu.Unlock()
		if serving {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Serve did not start")
		}
		time.Sleep(time.Millisecond) // polling a flag with a deadline, not synchronisation by sleep
	}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := d.Serve(ctx, ln2); !errors.Is(err, ErrServing) {
		t.Fatalf("second Serve: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLimits(t *testing.T) {
	s := startServer(t, &hub.Config{MaxConnsPerUser: 1, Rate: 1, Burst: 3}, &Config{MaxLine: 1024, LineRate: 50, LineBurst: 5})
	a := dialRaw(t, s.addr)
	a.register("ann")
	// The user holds its one connection: a second gets 433 and may pick
	// another nick.
	b := dialRaw(t, s.addr)
	b.send("NICK ann", "USER b 0 * :B")
	b.expect(" 433 * ann :Nickname is already in use")
	b.send("NICK bea")
	b.expect(" 001 bea ")
	// A line of 900 bytes fits MaxLine 1024.
	a.send("JOIN #lobby")
	a.expect(" 366 ")
	b.send("JOIN #lobby")
	b.expect(" 366 ")
	long := strings.Repeat("y", 900)
	a.send("PRIVMSG #lobby :" + long)
	if got := b.expect("PRIVMSG #lobby :y"); !strings.HasSuffix(got[len(got)-1], long) {
		t.Fatalf("long line cut: %d bytes", len(got[len(got)-1]))
	}
	// The Hub's rate (1/s, burst 3, all spent on the name, JOIN and the
	// line above) refuses the flood with 400; the others hear none of it
	// (at most one token comes back meanwhile).
	for i := range 5 {
		a.send(fmt.Sprintf("PRIVMSG #lobby :flood %d", i))
	}
	a.expect(" 400 ann PRIVMSG :hub: too many requests, slow down")
	b.quiet("flood 2", 300*time.Millisecond)

	// The door reads at most LineRate lines a second after a burst.
	c := dialRaw(t, s.addr)
	start := time.Now()
	for i := range 30 {
		c.send(fmt.Sprintf("PING :p%d", i))
	}
	c.expect("PONG switchboard :p29")
	if d := time.Since(start); d < 400*time.Millisecond { // (30-5)/50 s = 500 ms, less slack
		t.Fatalf("30 lines read in %v, faster than 50/s after a burst of 5", d)
	}
}

func TestMaxClients(t *testing.T) {
	s := startServer(t, nil, &Config{MaxClients: 2})
	a := dialRaw(t, s.addr)
	a.register("ann")
	b := dialRaw(t, s.addr) // connected, never registers: it counts too
	b.send("PING :x")
	b.expect("PONG")
	c := dialRaw(t, s.addr)
	c.expect("ERROR :Closing Link: 127.0.0.1 (too many connections)")
	if st := s.d.Stats(); st.Refused != 1 || st.Clients != 2 {
		t.Fatalf("stats %+v", st)
	}
	b.send("QUIT")
	b.expect("ERROR")
	deadline := time.Now().Add(5 * time.Second)
	for s.d.Stats().Clients != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling a count, bounded
	}
	d := dialRaw(t, s.addr)
	d.register("dee")
}
