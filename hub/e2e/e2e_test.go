package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// event is one thing a participant reports: "ready", "said" (a line heard),
// "presence", "sent" (its own line accepted) or "error".
type event struct {
	Who   string `json:"who"`
	Ev    string `json:"ev"`
	From  string `json:"from"`
	Text  string `json:"text"`
	User  string `json:"user"`
	State string `json:"state"`
	Error string `json:"error"`
}

// lockedBuffer collects a process's stderr for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve is a running "switchboard serve" and the addresses it printed.
type serve struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	addrs  map[string]string // "chat", "zmq-pub", "zmq-in", "udp", "irc"
	done   chan error        // Wait's result
}

// startServe runs bin serve with every door on a port the kernel picks,
// and reads the bound addresses from its output. irc says whether serve
// has the --irc door.
func startServe(t *testing.T, bin, dir string, irc bool) *serve {
	t.Helper()
	args := []string{"serve", "--http", "127.0.0.1:0", "--control-dir", dir, "--drain", "2s",
		"--zmq-pub", "tcp://127.0.0.1:0", "--zmq-in", "tcp://127.0.0.1:0", "--udp", "udp://127.0.0.1:0"}
	want := []string{"chat", "zmq-pub", "zmq-in", "udp"}
	if irc {
		args = append(args, "--irc", "tcp://127.0.0.1:0")
		want = append(want, "irc")
	}
	cmd := exec.Command(bin, args...)
	s := &serve{cmd: cmd, stderr: &lockedBuffer{}, addrs: map[string]string{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	go func() { s.done <- cmd.Wait() }()
	patterns := map[string]*regexp.Regexp{
		"chat":    regexp.MustCompile(`chat on (http://\S+?)/?$`),
		"zmq-pub": regexp.MustCompile(`zmq-pub on (\S+)$`),
		"zmq-in":  regexp.MustCompile(`zmq-in on (\S+)$`),
		"udp":     regexp.MustCompile(`udp commands on (\S+)$`),
		"irc":     regexp.MustCompile(`irc\b.* on (?:tcp://)?(\S+)$`),
	}
	deadline := time.After(15 * time.Second)
	for len(s.addrs) < len(want) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before printing its addresses (got %v):\n%s", s.addrs, s.stderr.String())
			}
			for _, k := range want {
				if m := patterns[k].FindStringSubmatch(l); m != nil {
					s.addrs[k] = m[1]
				}
			}
		case <-deadline:
			t.Fatalf("serve printed only %v:\n%s", s.addrs, s.stderr.String())
		}
	}
	return s
}

// stop sends SIGTERM and returns serve's exit error.
func (s *serve) stop(t *testing.T) error {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-s.done:
		return err
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		return fmt.Errorf("serve did not stop on SIGTERM: %w", <-s.done)
	}
}

// members returns the users in room according to serve's /api/conns
// (loopback clients need no admin token).
func (s *serve) members(room string) ([]string, error) {
	resp, err := http.Get(s.addrs["chat"] + "/api/conns")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v struct {
		Conns []struct {
			User  string   `json:"user"`
			Rooms []string `json:"rooms"`
		} `json:"conns"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	var users []string
	for _, c := range v.Conns {
		if slices.Contains(c.Rooms, room) && !slices.Contains(users, c.User) {
			users = append(users, c.User)
		}
	}
	slices.Sort(users)
	return users, nil
}

// proc is a participant process speaking JSON lines (testdata/*.js, *_peer.py)
// or raw lines (nc). Its stdout lines go to parse, whose events go to
// the test's channel.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	read   sync.WaitGroup
	quit   chan struct{} // closed by stop: the reader stops handing events over
}

// hand passes e to the test unless quit is closed (the test has stopped
// reading: it failed or finished).
func hand(events chan<- event, quit <-chan struct{}, e event) {
	select {
	case events <- e:
	case <-quit:
	}
}

func startProc(t *testing.T, name string, events chan<- event, parse func(string) []event, dir string, env []string, argv ...string) *proc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	p := &proc{name: name, cmd: cmd, stderr: &lockedBuffer{}, quit: make(chan struct{})}
	cmd.Stderr = p.stderr
	cmd.WaitDelay = 5 * time.Second
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p.read.Add(1)
	go func() {
		defer p.read.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			for _, e := range parse(sc.Text()) {
				hand(events, p.quit, e)
			}
		}
		hand(events, p.quit, event{Who: name, Ev: "exited"})
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// send writes one command line.
func (p *proc) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Errorf("%s: %v", p.name, err)
	}
}

// stop closes stdin, waits up to 10 s for the process, then kills it.
func (p *proc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	close(p.quit)
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Logf("%s exited: %v\n%s", p.name, err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
		t.Logf("%s killed after 10 s\n%s", p.name, p.stderr.String())
	}
	p.read.Wait()
}

// jsonLines parses a participant's report lines.
func jsonLines(who string) func(string) []event {
	return func(l string) []event {
		var e event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			return []event{{Who: who, Ev: "error", Error: "bad report: " + l}}
		}
		if e.Who == "" {
			e.Who = who
		}
		return []event{e}
	}
}

// ircLines parses what an IRC server sends to nc, for the nick me.
func ircLines(me string) func(string) []event {
	rx := regexp.MustCompile(`^:([^!\s]+)\S* (\S+) (\S+)(?: :?(.*))?$`)
	presence := regexp.MustCompile(`^\*\*\* (\S+) has logged (in|out)$`)
	return func(l string) []event {
		l = strings.TrimRight(l, "\r")
		m := rx.FindStringSubmatch(l)
		if m == nil {
			return nil
		}
		switch src, verb, target, rest := m[1], m[2], m[3], m[4]; {
		case verb == "JOIN" && src == me:
			return []event{{Who: me, Ev: "ready"}}
		case verb == "PRIVMSG" && target == "#lobby":
			return []event{{Who: me, Ev: "said", From: src, Text: rest}}
		case verb == "NOTICE" && target == me:
			if p := presence.FindStringSubmatch(rest); p != nil {
				state := "online"
				if p[2] == "out" {
					state = "offline"
				}
				return []event{{Who: me, Ev: "presence", User: p[1], State: state}}
			}
		case verb == "ERROR":
			return []event{{Who: me, Ev: "error", Error: l}}
		}
		return nil
	}
}

// udpPeer is a UDP sender on the datagram door, one Hub connection.
type udpPeer struct {
	name string
	c    *net.UDPConn
	to   *net.UDPAddr
	read sync.WaitGroup
	quit chan struct{}
}

func startUDP(t *testing.T, name, addr string, events chan<- event) *udpPeer {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u := &udpPeer{name: name, c: c, to: to, quit: make(chan struct{})}
	u.read.Add(1)
	go func() {
		defer u.read.Done()
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			f := strings.SplitN(string(buf[:n]), " ", 6)
			switch {
			case len(f) >= 2 && f[0] == "OK" && (f[1] == "JOIN" || f[1] == "NICK"):
				hand(events, u.quit, event{Who: name, Ev: "ok " + strings.ToLower(f[1])})
			case len(f) == 6 && f[0] == "SAID" && f[1] == "lobby":
				hand(events, u.quit, event{Who: name, Ev: "said", From: f[2], Text: f[5]})
			case len(f) == 3 && f[0] == "PRESENCE":
				hand(events, u.quit, event{Who: name, Ev: "presence", User: f[1], State: f[2]})
			case f[0] == "ERR":
				hand(events, u.quit, event{Who: name, Ev: "error", Error: string(buf[:n])})
			}
		}
	}()
	t.Cleanup(func() { close(u.quit); c.Close(); u.read.Wait() })
	return u
}

func (u *udpPeer) send(t *testing.T, cmd string) {
	t.Helper()
	if _, err := u.c.WriteToUDP([]byte(cmd), u.to); err != nil {
		t.Errorf("%s: %v", u.name, err)
	}
}

// chatPane is "switchboard chat" running in a tmux pane as the user tom.
type chatPane struct {
	tmux, sock string
}

func (c *chatPane) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(c.tmux, append([]string{"-S", c.sock}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

var (
	paneSaid     = regexp.MustCompile(`^\d\d:\d\d:\d\d \[lobby\] (\S+): (.*)$`)
	panePresence = regexp.MustCompile(`^\* (\S+) is (online|offline)$`)
	paneJoined   = regexp.MustCompile(`^\* in lobby with `)
	paneSent     = regexp.MustCompile(`^✓ \d\d:\d\d:\d\d #\d+ \[lobby\] (.*)$`)
)

// events returns what the pane shows now, as events of the user tom.
func (c *chatPane) events(t *testing.T) []event {
	var evs []event
	for _, l := range strings.Split(c.run(t, "capture-pane", "-p", "-J", "-S", "-", "-t", "chat"), "\n") {
		l = strings.TrimRight(l, " ")
		if m := paneSaid.FindStringSubmatch(l); m != nil {
			evs = append(evs, event{Who: "tom", Ev: "said", From: m[1], Text: m[2]})
		} else if m := panePresence.FindStringSubmatch(l); m != nil {
			evs = append(evs, event{Who: "tom", Ev: "presence", User: m[1], State: m[2]})
		} else if paneJoined.MatchString(l) {
			evs = append(evs, event{Who: "tom", Ev: "ready"})
		} else if m := paneSent.FindStringSubmatch(l); m != nil {
			evs = append(evs, event{Who: "tom", Ev: "sent", Text: m[1]})
		}
	}
	return evs
}

// book keeps what every participant reported.
type book struct {
	events map[string][]event // by participant
	pane   []event            // tom's, replaced on each read of the pane
}

func (b *book) of(who string) []event {
	if who == "tom" {
		return b.pane
	}
	return b.events[who]
}

func (b *book) has(who string, match func(event) bool) bool {
	return slices.ContainsFunc(b.of(who), match)
}

// TestEveryDoorOneRoom runs a real "switchboard serve" with every door on
// loopback ports the kernel picked (read back from serve's output) and
// puts one participant of each kind in the room "lobby": the chat page in
// headless Chromium (web), the official socket.io-client (sio), a pyzmq
// service on the XPUB and PULL doors (py), a python3-irc client (ircpy) and
// nc (nc) on the IRC door, a UDP sender on the datagram door (udp), and
// "switchboard chat" in tmux (tom). Each says one line; each must see every
// other line exactly once and never its own. Then a user logs in and out
// through the datagram door (late), and every participant must see both.
// Last, SIGTERM stops serve with exit status 0.
func TestEveryDoorOneRoom(t *testing.T) {
	chromium := testutil.Chromium(t)
	node, nodeDir := testutil.Node(t)
	py := testutil.Python(t, "zmq", "irc.client")
	for _, tool := range []string{"nc", "tmux"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("interop peer missing: %s: %v", tool, err)
		}
	}
	root := testutil.RepoRoot(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "switchboard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/switchboard")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	start := time.Now() // the time bound is the test's, not the build's
	help, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	hasIRC := regexp.MustCompile(`(?m)^\s+-irc\b`).Match(help)
	if !hasIRC {
		t.Log("serve has no --irc flag yet: the IRC participants (ircpy, nc) are left out (needs the IRC door in serve)")
	}
	srv := startServe(t, bin, tmp, hasIRC)
	t.Logf("%5.2fs serve: %v", time.Since(start).Seconds(), srv.addrs)

	events := make(chan event, 256)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	web := startProc(t, "web.js", events, jsonLines("web"), nodeDir,
		[]string{"NODE_PATH=" + filepath.Join(nodeDir, "node_modules"), "CHROMIUM=" + chromium, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1"},
		node, filepath.Join(testdata, "web.js"), srv.addrs["chat"]+"/")
	zmqPy := startProc(t, "zmq_peer.py", events, jsonLines("py"), tmp, nil,
		py, filepath.Join(testdata, "zmq_peer.py"), srv.addrs["zmq-pub"], srv.addrs["zmq-in"])
	udp := startUDP(t, "udp", srv.addrs["udp"], events)
	udp.send(t, "NICK udp")
	var ircPy, nc *proc
	if hasIRC {
		host, port, err := net.SplitHostPort(srv.addrs["irc"])
		if err != nil {
			t.Fatalf("irc address %q: %v", srv.addrs["irc"], err)
		}
		ircPy = startProc(t, "irc_peer.py", events, jsonLines("ircpy"), tmp, nil, py, filepath.Join(testdata, "irc_peer.py"), host, port)
		nc = startProc(t, "nc", events, ircLines("nc"), tmp, nil, "nc", "-N", host, port)
		io.WriteString(nc.stdin, "NICK nc\r\nUSER nc 0 * :nc on the e2e test\r\nJOIN #lobby\r\n")
	}
	tmuxBin, _ := exec.LookPath("tmux")
	pane := &chatPane{tmux: tmuxBin, sock: filepath.Join(tmp, "tmux.sock")}
	pane.run(t, "-f", "/dev/null", "new-session", "-d", "-s", "chat", "-x", "200", "-y", "50",
		fmt.Sprintf("%s chat --nick tom --room lobby %s/; sleep 60", bin, srv.addrs["chat"]))
	t.Cleanup(func() { exec.Command(tmuxBin, "-S", pane.sock, "kill-server").Run() })

	who := []string{"web", "sio", "py", "udp", "tom"}
	if hasIRC {
		who = append(who, "ircpy", "nc")
	}
	b := &book{events: map[string][]event{}}
	// until reads events and the pane until cond holds, failing after d.
	until := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(d)
		for {
			b.pane = pane.events(t)
			if cond() {
				t.Logf("%5.2fs %s", time.Since(start).Seconds(), what)
				return
			}
			select {
			case e := <-events:
				switch e.Ev {
				case "error":
					t.Fatalf("%s: %s", e.Who, e.Error)
				case "exited":
					t.Fatalf("%s exited early", e.Who)
				}
				b.events[e.Who] = append(b.events[e.Who], e)
			case <-tick.C:
			case <-deadline:
				for _, w := range who {
					t.Logf("%s: %+v", w, b.of(w))
				}
				t.Logf("web.js stderr: %s", web.stderr.String())
				t.Fatalf("%s: not within %v", what, d)
			}
		}
	}
	isEv := func(ev string) func(event) bool { return func(e event) bool { return e.Ev == ev } }

	// Everyone in the room: each reports it, and the hub lists the users
	// (the ZeroMQ door's own user "zmq" joins when py's subscription is in).
	udp.send(t, "JOIN lobby")
	until("everyone joined", 30*time.Second, func() bool {
		for _, w := range who {
			if w == "udp" {
				if !b.has(w, isEv("ok join")) {
					return false
				}
			} else if !b.has(w, isEv("ready")) {
				return false
			}
		}
		m, err := srv.members("lobby")
		return err == nil && slices.Contains(m, "zmq")
	})

	// Each says one line.
	line := func(w string) string { return "hello from " + w + " via its door" }
	for _, w := range who {
		switch w {
		case "web", "sio":
			web.send(t, "say "+w+" "+line(w))
		case "py":
			zmqPy.send(t, "say "+line(w))
		case "udp":
			udp.send(t, "SAY lobby "+line(w))
		case "tom":
			pane.run(t, "send-keys", "-t", "chat", line(w), "Enter")
		case "ircpy":
			ircPy.send(t, "say "+line(w))
		case "nc":
			io.WriteString(nc.stdin, "PRIVMSG #lobby :"+line(w)+"\r\n")
		}
	}
	heardAll := func() bool {
		for _, w := range who {
			for _, o := range who {
				if o != w && !b.has(w, func(e event) bool { return e.Ev == "said" && e.From == o && e.Text == line(o) }) {
					return false
				}
			}
		}
		return true
	}
	until("every line heard by every other participant", 20*time.Second, heardAll)

	// Presence across doors: late logs in and out through the datagram door.
	late := startUDP(t, "late", srv.addrs["udp"], events)
	late.send(t, "NICK late")
	seen := func(state string) func() bool {
		return func() bool {
			for _, w := range who {
				if !b.has(w, func(e event) bool { return e.Ev == "presence" && e.User == "late" && e.State == state }) {
					return false
				}
			}
			return true
		}
	}
	until("late's login seen on every door", 15*time.Second, seen("online"))
	late.send(t, "QUIT")
	until("late's logout seen on every door", 15*time.Second, seen("offline"))

	// Exactly once, never one's own: the hub keeps each connection's
	// events in order, so a duplicate line would have come before late's
	// presence.
	for _, w := range who {
		count := map[string]int{}
		for _, e := range b.of(w) {
			if e.Ev != "said" {
				continue
			}
			if e.From == w {
				t.Errorf("%s heard its own line %q", w, e.Text)
			}
			count[e.From+": "+e.Text]++
		}
		for k, n := range count {
			if n != 1 {
				t.Errorf("%s heard %q %d times", w, k, n)
			}
		}
		if len(count) != len(who)-1 {
			t.Errorf("%s heard %d distinct lines, want %d: %v", w, len(count), len(who)-1, count)
		}
		for _, e := range b.of(w) {
			if e.Ev == "presence" && e.User == "late" {
				t.Logf("%s saw late %s", w, e.State)
			}
		}
	}

	// SIGTERM: serve drains and exits 0; the page, sio, py and the IRC
	// clients are told and stop.
	web.send(t, "quit")
	zmqPy.send(t, "quit")
	if ircPy != nil {
		ircPy.send(t, "quit")
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, srv.stderr.String())
	}
	for _, p := range []*proc{web, zmqPy, ircPy, nc} {
		if p != nil {
			p.stop(t)
		}
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("the end-to-end test took %v, want < 60 s", d)
	}
}
