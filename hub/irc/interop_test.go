package irc

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/internal/testutil"
)

// jsonProc is a peer process that takes JSON commands on stdin and
// prints JSON events on stdout, one per line (hub/testdata/sioclient.js,
// interop/irc/ircpeer.py). It keeps every line it printed.
type jsonProc struct {
	t      *testing.T
	name   string
	stdin  io.WriteCloser
	lines  chan map[string]any
	all    []map[string]any
	next   int
	stderr strings.Builder
}

func startProc(t *testing.T, name, dir string, env []string, bin string, args ...string) *jsonProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	p := &jsonProc{t: t, name: name, lines: make(chan map[string]any, 1024)}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errMu sync.Mutex
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		errMu.Lock()
		defer errMu.Unlock()
		return p.stderr.Write(b)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"error": "unparsable: " + sc.Text()}
			}
			p.lines <- m
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		exited := make(chan error, 1)
		go func() {
			for range p.lines {
			}
			<-readerDone
			exited <- cmd.Wait()
		}()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			errMu.Lock()
			t.Logf("%s stderr: %s", name, p.stderr.String())
			errMu.Unlock()
		}
	})
	return p
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func (p *jsonProc) send(cmd map[string]any) {
	p.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("%s: write: %v", p.name, err)
	}
}

// await returns the first line after the last one awaited that match
// accepts; every line stays in p.all.
func (p *jsonProc) await(what string, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		for ; p.next < len(p.all); p.next++ {
			if match(p.all[p.next]) {
				p.next++
				return p.all[p.next-1]
			}
		}
		select {
		case m, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("%s exited while waiting for %s; lines %v", p.name, what, p.all)
			}
			p.all = append(p.all, m)
		case <-deadline:
			p.t.Fatalf("%s: timed out waiting for %s; lines %v", p.name, what, p.all)
		}
	}
}

// count returns how many lines so far match.
func (p *jsonProc) count(match func(map[string]any) bool) int {
	n := 0
	for _, m := range p.all {
		if match(m) {
			n++
		}
	}
	return n
}

func field(m map[string]any, path ...string) string {
	var v any = m
	for _, k := range path {
		mm, _ := v.(map[string]any)
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}

// TestInteropPythonIRCAndSocketIO puts an IRC client made with Debian's
// python3-irc library and the official socket.io-client 4.8 in one room
// of one Hub: each sees the other's messages exactly once and never its
// own; tell reaches the user scope both ways; topics, /me, presence.
func TestInteropPythonIRCAndSocketIO(t *testing.T) {
	py := testutil.Python(t, "irc.client")
	node, nodeDir := testutil.Node(t)
	root := testutil.RepoRoot(t)

	srv, err := hub.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ircLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	door, err := New(srv.Hub(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); srv.Serve(ctx, httpLn) }()
	go func() { defer wg.Done(); door.Serve(ctx, ircLn) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	_, ircPort, _ := net.SplitHostPort(ircLn.Addr().String())
	ircp := startProc(t, "ircpeer.py", filepath.Join(root, "interop", "irc"), nil, py, "ircpeer.py", "127.0.0.1", ircPort, "py")
	ircp.await("welcome", func(m map[string]any) bool { return m["ev"] == "welcome" })
	ircp.send(map[string]any{"op": "join", "channel": "#lobby"})
	ircp.await("own join", func(m map[string]any) bool { return m["ev"] == "join" && m["source"] == "py" })
	ircp.await("names", func(m map[string]any) bool { return m["ev"] == "namreply" && m["text"] == "py" })

	sio := startProc(t, "sioclient.js", nodeDir, []string{"NODE_PATH=" + filepath.Join(nodeDir, "node_modules")},
		node, filepath.Join(root, "hub", "testdata", "sioclient.js"), "http://"+httpLn.Addr().String())
	sio.send(map[string]any{"op": "connect", "id": "w"})
	sio.await("connect", func(m map[string]any) bool { return m["ev"] == "connect" })
	ack := func(tag string, ev string, args ...any) map[string]any {
		sio.send(map[string]any{"op": "emit", "id": "w", "ev": ev, "args": args, "tag": tag})
		a := sio.await("ack "+tag, func(m map[string]any) bool { return m["ack"] == tag })
		if d, _ := a["data"].(map[string]any); d["ok"] != true {
			t.Fatalf("%s: %v", ev, a)
		}
		return a
	}
	ack("n", "nick", "web")
	ircp.await("web logged in", func(m map[string]any) bool {
		return m["ev"] == "privnotice" && strings.Contains(field(m, "text"), "web has logged in")
	})
	j := ack("j", "join", "lobby")
	if d := j["data"].(map[string]any); !strings.Contains(strings.Join(anyStrings(d["members"]), ","), "py") {
		t.Fatalf("join ack %v", j)
	}
	ircp.await("web joins", func(m map[string]any) bool { return m["ev"] == "join" && m["source"] == "web" })

	// Room scope, both ways.
	ack("s1", "say", map[string]any{"room": "lobby", "text": "hello from web"})
	ircp.await("web's line", func(m map[string]any) bool {
		return m["ev"] == "pubmsg" && m["source"] == "web" && m["target"] == "#lobby" && m["text"] == "hello from web"
	})
	ircp.send(map[string]any{"op": "privmsg", "target": "#lobby", "text": "hello from irc"})
	sio.await("py's line", func(m map[string]any) bool {
		return m["ev"] == "said" && field(m, "data", "from") == "py" && field(m, "data", "text") == "hello from irc" && field(m, "data", "room") == "lobby"
	})
	ircp.send(map[string]any{"op": "action", "target": "#lobby", "text": "waves"})
	sio.await("py's action", func(m map[string]any) bool { return m["ev"] == "said" && field(m, "data", "text") == "/me waves" })
	ack("s2", "say", map[string]any{"room": "lobby", "text": "/me nods"})
	ircp.await("web's action", func(m map[string]any) bool { return m["ev"] == "action" && m["source"] == "web" && m["text"] == "nods" })

	// User scope, both ways.
	ircp.send(map[string]any{"op": "privmsg", "target": "web", "text": "psst web"})
	sio.await("told", func(m map[string]any) bool {
		return m["ev"] == "told" && field(m, "data", "from") == "py" && field(m, "data", "to") == "web" && field(m, "data", "text") == "psst web"
	})
	ack("t1", "tell", map[string]any{"to": "py", "text": "psst py"})
	ircp.await("privmsg", func(m map[string]any) bool {
		return m["ev"] == "privmsg" && m["source"] == "web" && m["text"] == "psst py"
	})

	// Topic from the browser side, then from IRC.
	ack("tp", "topic", map[string]any{"room": "lobby", "topic": "plans for today"})
	ircp.await("topic", func(m map[string]any) bool {
		return m["ev"] == "topic" && m["source"] == "web" && m["text"] == "plans for today"
	})
	ircp.send(map[string]any{"op": "topic", "channel": "#lobby", "text": "irc topic"})
	sio.await("topic event", func(m map[string]any) bool {
		return m["ev"] == "topic" && field(m, "data", "user") == "py" && field(m, "data", "topic") == "irc topic"
	})

	// A marker each way: once seen, everything before it has arrived.
	ack("s3", "say", map[string]any{"room": "lobby", "text": "marker from web"})
	ircp.await("marker", func(m map[string]any) bool { return m["ev"] == "pubmsg" && m["text"] == "marker from web" })
	ircp.send(map[string]any{"op": "privmsg", "target": "#lobby", "text": "marker from irc"})
	sio.await("marker", func(m map[string]any) bool { return m["ev"] == "said" && field(m, "data", "text") == "marker from irc" })

	once := []struct {
		p     *jsonProc
		match func(map[string]any) bool
		want  int
		what  string
	}{
		{ircp, func(m map[string]any) bool { return m["ev"] == "pubmsg" && m["text"] == "hello from web" }, 1, "web's line at irc"},
		{sio, func(m map[string]any) bool { return m["ev"] == "said" && field(m, "data", "text") == "hello from irc" }, 1, "irc's line at web"},
		{ircp, func(m map[string]any) bool { return strings.Contains(field(m, "text"), "from irc") }, 0, "irc's own lines at irc"},
		{sio, func(m map[string]any) bool {
			return m["ev"] == "said" && strings.Contains(field(m, "data", "text"), "from web")
		}, 0, "web's own lines at web"},
		{ircp, func(m map[string]any) bool { return m["ev"] == "privmsg" }, 1, "tells at irc"},
		{sio, func(m map[string]any) bool { return m["ev"] == "told" }, 1, "tells at web"},
	}
	for _, o := range once {
		if n := o.p.count(o.match); n != o.want {
			t.Errorf("%s: %d times, want %d", o.what, n, o.want)
		}
	}

	// The IRC user quits: the browser sees it leave and log out.
	ircp.send(map[string]any{"op": "quit", "text": "bye"})
	sio.await("left", func(m map[string]any) bool { return m["ev"] == "left" && field(m, "data", "user") == "py" })
	sio.await("offline", func(m map[string]any) bool {
		return m["ev"] == "presence" && field(m, "data", "user") == "py" && field(m, "data", "state") == "offline"
	})
	ircp.await("disconnect", func(m map[string]any) bool { return m["ev"] == "disconnect" })
}

func anyStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
