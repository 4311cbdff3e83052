package hub_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/internal/testutil"
	"github.com/switchboard/switchboard/socketio"
)

// wantFields fails unless got has every field of want, with equal JSON
// values.
func wantFields(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, w := range want {
		wb, _ := json.Marshal(w)
		gb, _ := json.Marshal(got[k])
		if string(wb) != string(gb) {
			t.Errorf("%s: %s: want %s, got %s (all: %v)", what, k, wb, gb, got)
		}
	}
}

// The chat protocol end to end with the official socket.io-client 4.8:
// every event and ack, the except-sender rule, and presence with two
// connections of one user.
func TestSocketIOClientChat(t *testing.T) {
	ts := startServer(t, nil)
	h := ts.srv.Hub()
	nc := startNode(t, ts.url)

	// ann has two connections (WebSocket only, and polling only); bob one
	// (polling upgraded to WebSocket, the client's default).
	nc.connect("a1", "websocket")
	nc.connect("a2", "polling")
	nc.connect("b1")

	ack := nc.emit("a1", "nick", "ann")
	wantFields(t, "nick ack", ack, map[string]any{"ok": true, "nick": "ann", "online": []string{"ann"}})
	for _, id := range []string{"a1", "a2", "b1"} {
		wantFields(t, id+" presence", nc.event(id, "presence"), map[string]any{"user": "ann", "state": "online"})
	}
	ack = nc.emit("a2", "nick", "ann") // ann's second connection: no presence
	wantFields(t, "second nick ack", ack, map[string]any{"ok": true, "online": []string{"ann"}})
	ack = nc.emit("b1", "nick", "bob")
	wantFields(t, "bob nick ack", ack, map[string]any{"ok": true, "online": []string{"ann", "bob"}})
	for _, id := range []string{"a1", "a2", "b1"} {
		// bob's is the next presence: ann's second connection sent none.
		wantFields(t, id+" presence", nc.event(id, "presence"), map[string]any{"user": "bob", "state": "online"})
	}

	ack = nc.emit("a1", "join", "lobby")
	wantFields(t, "join ack", ack, map[string]any{"ok": true, "room": "lobby", "members": []string{"ann"}})
	wantFields(t, "a1 joined", nc.event("a1", "joined"), map[string]any{"room": "lobby", "user": "ann"})
	ack = nc.emit("a2", "join", "lobby")
	wantFields(t, "a2 join ack", ack, map[string]any{"ok": true, "members": []string{"ann"}})
	ack = nc.emit("b1", "join", "lobby")
	wantFields(t, "b1 join ack", ack, map[string]any{"ok": true, "members": []string{"ann", "bob"}})
	for _, id := range []string{"a1", "a2", "b1"} {
		// bob's is the next joined: ann's second connection sent none.
		wantFields(t, id+" joined", nc.event(id, "joined"), map[string]any{"room": "lobby", "user": "bob"})
	}

	// say: acked with id and time; said to everyone in the room but the
	// sending connection, ann's other connection included.
	before := time.Now().UnixMilli()
	ack = nc.emit("a1", "say", map[string]any{"room": "lobby", "text": "hello, wörld"})
	wantFields(t, "say ack", ack, map[string]any{"ok": true})
	id, _ := ack["id"].(string)
	at, _ := ack["at"].(float64)
	if id == "" || int64(at) < before || int64(at) > time.Now().UnixMilli() {
		t.Fatalf("say ack: bad id or at: %v", ack)
	}
	nc.none("a1", "said") // the ack came after anything sent to a1 before it
	for _, c := range []string{"a2", "b1"} {
		wantFields(t, c+" said", nc.event(c, "said"), map[string]any{
			"room": "lobby", "from": "ann", "text": "hello, wörld", "id": id, "at": at})
	}
	ack = nc.emit("b1", "say", map[string]any{"room": "lobby", "text": "hi ann"})
	nc.none("b1", "said")
	for _, c := range []string{"a1", "a2"} {
		wantFields(t, c+" said", nc.event(c, "said"), map[string]any{"from": "bob", "text": "hi ann", "id": ack["id"]})
	}

	// Errors are acked {ok:false, code, error}.
	nc.connect("c1")
	errs := []struct {
		id, ev string
		arg    any
		code   string
	}{
		{"c1", "join", "lobby", "no_name"},
		{"c1", "say", map[string]any{"room": "lobby", "text": "x"}, "no_name"},
		{"c1", "nick", "no spaces", "invalid"},
		{"c1", "nick", strings.Repeat("n", 33), "invalid"},
		{"c1", "nick", 42, "invalid"},
		{"a1", "say", map[string]any{"room": "elsewhere", "text": "x"}, "not_in_room"},
		{"a1", "say", "not an object", "invalid"},
		{"a1", "say", map[string]any{"room": "lobby", "text": strings.Repeat("x", 2001)}, "invalid"},
		{"a1", "say", map[string]any{"room": "lobby", "text": "bell\a"}, "invalid"},
		{"a1", "join", "#hash", "invalid"},
		{"a1", "leave", "elsewhere", "not_in_room"},
		{"a1", "nick", "anna", "in_room"},
	}
	for _, e := range errs {
		ack := nc.emit(e.id, e.ev, e.arg)
		wantFields(t, e.ev+" error", ack, map[string]any{"ok": false, "code": e.code})
		if msg, _ := ack["error"].(string); !strings.HasPrefix(msg, "hub: ") {
			t.Errorf("%s: error message %q", e.ev, msg)
		}
	}

	// leave: left goes to the room's remaining members.
	nc.emit("c1", "nick", "cat")
	nc.emit("c1", "join", "lobby")
	ack = nc.emit("c1", "leave", "lobby")
	wantFields(t, "leave ack", ack, map[string]any{"ok": true, "room": "lobby"})
	for _, c := range []string{"a1", "a2", "b1"} {
		wantFields(t, c+" presence", nc.event(c, "presence"), map[string]any{"user": "cat", "state": "online"})
		wantFields(t, c+" joined", nc.event(c, "joined"), map[string]any{"room": "lobby", "user": "cat"})
		wantFields(t, c+" left", nc.event(c, "left"), map[string]any{"room": "lobby", "user": "cat"})
	}
	nc.close("c1")
	for _, c := range []string{"a1", "a2", "b1"} {
		wantFields(t, c+" presence", nc.event(c, "presence"), map[string]any{"user": "cat", "state": "offline"})
	}

	// ann's first connection goes: she is still online and in the room.
	conns := h.Stats().Conns
	nc.close("a1")
	waitFor(t, "a1 detached", func() bool { return h.Stats().Conns == conns-1 })
	nc.emit("b1", "nick", "bob") // a round trip: b1 has seen all it was sent
	nc.none("b1", "presence", "left")
	if got := h.Members("lobby"); !reflect.DeepEqual(got, []string{"ann", "bob"}) {
		t.Errorf("members after a1 closed: %q", got)
	}
	// Her last goes: left, then offline.
	nc.close("a2")
	wantFields(t, "b1 left", nc.event("b1", "left"), map[string]any{"room": "lobby", "user": "ann"})
	wantFields(t, "b1 presence", nc.event("b1", "presence"), map[string]any{"user": "ann", "state": "offline"})
}

// Two chat pages in headless Chromium (interop/browser/chat.js): one says
// a line, the other shows it, the sender sees it pending then confirmed;
// the server restarts, both pages reconnect, restore their name and room,
// and talk again; one leaves the room with its button, then closes, and
// the other sees it leave and go offline. Set
// SWITCHBOARD_SCREENSHOT=path.png to keep a screenshot of the page.
func TestBrowserChat(t *testing.T) {
	chromium := testutil.Chromium(t)
	node, dir := testutil.Node(t)
	ts := startServer(t, nil)
	script := filepath.Join(testutil.RepoRoot(t), "interop", "browser", "chat.js")
	args := []string{script, ts.url + "/"}
	if shot := os.Getenv("SWITCHBOARD_SCREENSHOT"); shot != "" {
		args = append(args, shot)
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"), "CHROMIUM="+chromium,
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	killer := time.AfterFunc(90*time.Second, func() { cmd.Process.Kill() })
	var last string
	start := time.Now()
	for l := range lines {
		t.Logf("%5.2fs %s", time.Since(start).Seconds(), l)
		last = l
		if strings.Contains(l, `"step":"restart"`) {
			ts.restart()
			if _, err := io.WriteString(stdin, "restarted\n"); err != nil {
				t.Errorf("tell chat.js: %v", err)
			}
		}
	}
	stdin.Close()
	err = cmd.Wait()
	killer.Stop()
	if err != nil {
		t.Fatalf("chat.js: %v\nstderr: %s", err, stderr.String())
	}
	var res struct {
		OK         bool              `json:"ok"`
		Error      string            `json:"error"`
		States     []string          `json:"states"`
		Transports map[string]string `json:"transports"`
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("last line: %v", err)
	}
	if !res.OK {
		t.Fatalf("browser chat failed: %s", res.Error)
	}
	if want := []string{"pending", "confirmed"}; !reflect.DeepEqual(res.States, want) {
		t.Errorf("sent line's states: want %q, got %q", want, res.States)
	}
	if res.Transports["ada"] != "websocket" || res.Transports["bob"] != "websocket" {
		t.Errorf("transports: want both websocket (bob after upgrading from polling), got %v", res.Transports)
	}
}

// sb.js, the page's own client, in Node (no browser) against the hub: over
// WebSocket, long-polling only, polling upgraded to WebSocket, and falling
// back to polling when the server refuses WebSocket.
func TestSBClient(t *testing.T) {
	node, dir := testutil.Node(t)
	root := testutil.RepoRoot(t)
	// Node 20 has WebSocket behind a flag; later versions by default.
	var flags []string
	if out, err := exec.Command(node, "-p", "typeof WebSocket").Output(); err != nil || strings.TrimSpace(string(out)) != "function" {
		flags = []string{"--no-warnings", "--experimental-websocket"}
	}
	tests := []struct {
		name       string
		server     []string // engine transports; nil means both
		transports string
		want       string
	}{
		{"websocket", nil, "websocket", "websocket"},
		{"polling only", nil, "polling", "polling"},
		{"polling then upgrade", nil, "polling,websocket", "websocket"},
		{"fallback to polling", []string{"polling"}, "websocket,polling", "polling"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg *hub.ServerConfig
			if tt.server != nil {
				cfg = &hub.ServerConfig{SocketIO: &socketio.Config{Engine: &engineio.Config{Transports: tt.server}}}
			}
			ts := startServer(t, cfg)
			args := append(slices.Clone(flags), filepath.Join(root, "hub", "testdata", "sbclient.js"),
				ts.url, filepath.Join(root, "hub", "web", "sb.js"), tt.transports)
			cmd := exec.Command(node, args...)
			cmd.Dir = dir
			cmd.WaitDelay = 5 * time.Second
			timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
			out, err := cmd.CombinedOutput()
			timer.Stop()
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			var res struct {
				OK         bool     `json:"ok"`
				Error      string   `json:"error"`
				Transports []string `json:"transports"`
			}
			if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &res); jerr != nil || err != nil || !res.OK {
				t.Fatalf("sbclient.js: %v\n%s", err, out)
			}
			if want := []string{tt.want, tt.want}; !reflect.DeepEqual(res.Transports, want) {
				t.Errorf("transports: want %q, got %q", want, res.Transports)
			}
		})
	}
}
