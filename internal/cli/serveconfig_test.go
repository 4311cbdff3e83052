package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/monitor"
)

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []configEntry
		err  bool
	}{
		{"empty", "", nil, false},
		{"comments", "# a\n\n  # b\n", nil, false},
		{"pairs", "http = 127.0.0.1:9000\n--rate=5\r\ndeny = 10.0.0.0/8 \nv = true\n", []configEntry{
			{1, "http", "127.0.0.1:9000"}, {2, "rate", "5"}, {3, "deny", "10.0.0.0/8"}, {4, "v", "true"},
		}, false},
		{"quoted", `token = "a # b\t\"c\""` + "\n", []configEntry{{1, "token", "a # b\t\"c\""}}, false},
		{"empty value", "token =\n", []configEntry{{1, "token", ""}}, false},
		{"repeat", "allow = 10.0.0.0/8\nallow = ::1\n", []configEntry{{1, "allow", "10.0.0.0/8"}, {2, "allow", "::1"}}, false},
		{"no equals", "http 127.0.0.1:9000\n", nil, true},
		{"bad key", "ht tp = x\n", nil, true},
		{"bad quote", `token = "abc` + "\n", nil, true},
		{"long line", "token = " + strings.Repeat("x", maxConfigLine) + "\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(strings.NewReader(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err != nil {
				if !errors.Is(err, ErrConfig) {
					t.Errorf("%v is not ErrConfig", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	big := strings.Repeat("# "+strings.Repeat("x", 1000)+"\n", maxConfigBytes/1000+2)
	if _, err := parseConfig(strings.NewReader(big)); !errors.Is(err, ErrConfig) {
		t.Errorf("file over the limit: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"", "http = 127.0.0.1:0\n", "token = \"a\\nb\"\n# x\n", "a=b\r\nc = d", "x = \"\\xff\"", "=", "a = \"\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		entries, err := parseConfig(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v is not ErrConfig", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := formatConfig(&buf, entries); err != nil {
			t.Fatal(err)
		}
		again, err := parseConfig(&buf)
		if err != nil {
			t.Fatalf("formatted config does not parse: %v\n%s", err, buf.String())
		}
		if len(again) != len(entries) {
			t.Fatalf("round trip: %d entries, want %d", len(again), len(entries))
		}
		for i := range entries {
			if again[i].Key != entries[i].Key || again[i].Value != entries[i].Value {
				t.Fatalf("round trip %d: %+v, want %+v", i, again[i], entries[i])
			}
		}
	})
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "serve.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		args []string
		ok   bool
		want string
	}{
		{"good", "http = 127.0.0.1:0\nallow = 127.0.0.0/8, ::1\ndeny = 10.0.0.0/8\ntoken = \"t k\"\nmax-conns-per-addr = 3\ndrain = 2s\n", nil, true, "configuration ok"},
		{"unknown key", "htp = 127.0.0.1:0\n", nil, false, `line 1: unknown key "htp"`},
		{"bad value", "\nrate = fast\n", nil, false, "line 2: rate"},
		{"bad network", "allow = 10.0.0.0/40\n", nil, false, "--allow"},
		{"flag wins", "rate = -1\n", []string{"--rate", "5"}, true, "configuration ok"},
		{"file checked", "rate = -1\n", nil, false, "must be positive"},
		{"no nesting", "config = other\n", nil, false, "cannot be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"serve", "--config", writeConfig(t, tc.file), "--check-config"}, tc.args...)
			err := Run(context.Background(), args, Stdio{Out: &out, Err: &errb})
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v; stderr %s", err, tc.ok, errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s%s", tc.want, out.String(), errb.String())
			}
		})
	}
	err := Run(context.Background(), []string{"serve", "--config", filepath.Join(t.TempDir(), "missing"), "--check-config"}, Stdio{})
	if !errors.Is(err, ErrUsage) {
		t.Errorf("missing file: %v", err)
	}
}

// startServe runs "switchboard serve" with args on 127.0.0.1:0 and returns
// its base URL ("http://127.0.0.1:PORT") and a stop that cancels it (as
// SIGTERM does) and returns its error.
func startServe(t *testing.T, args ...string) (string, func() error, *syncBuffer) {
	t.Helper()
	out := &lineWriter{lines: make(chan string, 8)}
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"serve", "--http", "127.0.0.1:0", "--zmq-pub", "off", "--zmq-in", "off", "--zmq-rpc", "off", "--udp", "off"}, args...), Stdio{Out: out, Err: stderr})
	}()
	stopped := false
	var stopErr error
	stop := func() error {
		if stopped {
			return stopErr
		}
		stopped = true
		cancel()
		select {
		case stopErr = <-done:
		case <-time.After(15 * time.Second):
			stopErr = errors.New("serve did not stop")
		}
		return stopErr
	}
	t.Cleanup(func() { stop() })
	select {
	case line := <-out.lines:
		m := regexp.MustCompile(`^switchboard: chat on (http://127\.0\.0\.1:\d+)/$`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("first line: %q", line)
		}
		return m[1], stop, stderr
	case err := <-done:
		t.Fatalf("serve returned early: %v\n%s", err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("no URL printed")
	}
	return "", nil, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// wsChat connects a raw Socket.IO client over WebSocket, sends CONNECT
// with auth, then nick and join lobby.
func wsChat(t *testing.T, ctx context.Context, base, auth, name string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ send, reply string }{
		{"", "0"}, {"40" + auth, "40"}, {`421["nick","` + name + `"]`, "431"}, {`422["join","lobby"]`, "432"},
	} {
		if m.send != "" {
			if err := c.Write(ctx, websocket.MessageText, []byte(m.send)); err != nil {
				t.Fatal(err)
			}
		}
		for {
			_, got, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(string(got), "44") {
				t.Fatalf("refused: %s", got)
			}
			if strings.HasPrefix(string(got), m.reply) {
				break
			}
		}
	}
	return c
}

// serve with a config file: token and admin token apply, the control
// socket lets "switchboard stat" list the connection, /api/conns and
// /metrics answer with the admin token, and a cancel (SIGTERM) returns nil.
func TestServeWatchAndProtect(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	conf := writeConfig(t, "token = chat-token\nadmin-token = \"adm in\"\ncontrol-dir = "+dir+"\ndrain = 3s\n")
	base, stop, stderr := startServe(t, "--config", conf)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Without the token: connect_error.
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Read(ctx)
	c.Write(ctx, websocket.MessageText, []byte("40"))
	if _, m, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(m), "44") {
		t.Errorf("no token: %q %v, want connect_error", m, err)
	}
	c.CloseNow()

	alice := wsChat(t, ctx, base, `{"token":"chat-token"}`, "alice")
	defer alice.CloseNow()

	var out bytes.Buffer
	if err := Run(ctx, []string{"stat", "--once", "--control-dir", dir, "--json"}, Stdio{Out: &out}); err != nil {
		t.Fatal(err)
	}
	var snaps []monitor.Snapshot
	if err := json.Unmarshal(out.Bytes(), &snaps); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(snaps) != 1 || len(snaps[0].Conns) != 1 || snaps[0].Conns[0].User != "alice" || snaps[0].Conns[0].Rooms[0] != "lobby" {
		t.Fatalf("stat: %s", out.String())
	}

	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer adm in", 200}} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/conns", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want || (tc.want == 200 && !strings.Contains(string(body), `"user": "alice"`)) {
			t.Errorf("/api/conns auth %q: %d %s", tc.auth, res.StatusCode, body)
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
	sawShutdown := false
	for {
		_, m, err := alice.Read(ctx)
		if err != nil {
			break
		}
		if strings.HasPrefix(string(m), `42["shutdown"`) {
			sawShutdown = true
		}
	}
	if !sawShutdown {
		t.Error("client not told about the shutdown")
	}
	log := stderr.String()
	for _, want := range []string{`msg=bind audit=true`, `msg="auth failure" audit=true door=socket.io`, `msg=join audit=true`, `msg=shutdown audit=true`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("control socket left behind: %v", ents)
	}
}
