package socketio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// interopServer starts a server on loopback through httptest and returns
// its URL; both are closed at cleanup.
func interopServer(t *testing.T, cfg *Config) (*Server, string) {
	t.Helper()
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return srv, ts.URL
}

// mainScenarios installs the handlers the scenarios of scenarios.js use on
// the server without recovery; reasons receives /bye's disconnect reasons.
func mainScenarios(srv *Server, reasons chan<- string) {
	root := srv.Of("/")
	root.OnConnection(func(s *Socket) {
		s.On("echo", func(args []any, ack AckFunc) { ack(args...) })
		s.On("bin", func(args []any, ack AckFunc) {
			m, _ := args[0].(map[string]any)
			blob, _ := m["blob"].([]byte)
			list, _ := m["list"].([]any)
			if len(list) != 1 || !bytes.Equal(list[0].([]byte), []byte("ab")) {
				ack(map[string]any{"error": "list"})
				return
			}
			rev := slices.Clone(blob)
			slices.Reverse(rev)
			ack(map[string]any{"blob": rev})
		})
		s.On("pleaseAsk", func(args []any, ack AckFunc) {
			n := args[0]
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				res, err := s.EmitWithAck(ctx, "ask", n, []byte{1, 2, 3})
				out := map[string]any{}
				if err != nil {
					out["error"] = err.Error()
				} else if len(res) == 2 {
					b, _ := res[1].([]byte)
					out["n"], out["blobHex"] = res[0], hex.EncodeToString(b)
				}
				s.Emit("askResult", out)
			}()
		})
	})

	rooms := srv.Of("/rooms")
	rooms.OnConnection(func(s *Socket) {
		if r, ok := s.Handshake().Auth["room"].(string); ok {
			s.Join(r)
		}
		s.On("toRoom", func(args []any, ack AckFunc) {
			s.To(args[0].(string)).Emit("msg", args[1])
			ack()
		})
		s.On("shout", func(args []any, ack AckFunc) {
			s.Broadcast().Emit("shout", args[0])
			ack()
		})
		s.On("poll", func(args []any, ack AckFunc) {
			go func() {
				res, err := rooms.Timeout(10*time.Second).EmitWithAck(context.Background(), "vote", "q")
				var votes []float64
				for _, r := range res {
					votes = append(votes, r[0].(float64))
				}
				slices.Sort(votes)
				if err != nil {
					ack(err.Error())
					return
				}
				ack(votes)
			}()
		})
	})

	srv.Of("/private").Use(func(s *Socket) error {
		if s.Handshake().Auth["token"] == "good" {
			return nil
		}
		return &ConnectError{Message: "not authorized", Data: map[string]any{"code": 401}}
	})

	srv.OfRegexp(regexp.MustCompile(`^/dyn-\d+$`)).OnConnection(func(s *Socket) {
		s.On("whoami", func(_ []any, ack AckFunc) { ack(s.Namespace().Name()) })
	})

	srv.Of("/bye").OnConnection(func(s *Socket) {
		s.OnDisconnect(func(reason string) { reasons <- reason })
		s.On("kick", func([]any, AckFunc) { s.Disconnect(false) })
	})
}

// recoveryScenario installs the handlers of the recovery scenario.
func recoveryScenario(srv *Server, recovered chan<- bool) {
	ns := srv.Of("/")
	var once sync.Once
	ns.OnConnection(func(s *Socket) {
		auth := s.Handshake().Auth
		if auth["watcher"] == true {
			s.Join("watchers")
			return
		}
		recovered <- s.Recovered()
		s.On("ready", func([]any, AckFunc) { ns.To("a").Emit("tick", 1) })
		s.On("sync", func(_ []any, ack AckFunc) { ack("synced") })
		s.OnDisconnect(func(reason string) {
			if reason != "transport close" {
				return
			}
			once.Do(func() {
				ns.To("a").Emit("tick", 2, []byte{0xbe, 0xef})
				ns.Except("a").Emit("tick", 99) // not for the lost socket
				ns.To("a").Emit("tick", 3)
				ns.To("watchers").Emit("missedSent")
			})
		})
		if r, ok := auth["room"].(string); ok {
			s.Join(r)
		}
	})
}

type scenarioLine struct {
	S string          `json:"s"`
	K string          `json:"k"`
	V json.RawMessage `json:"v"`
}

// TestInteropNodeClient runs scenarios.js (official socket.io-client 4.8)
// against two servers: one plain, one with connection state recovery.
func TestInteropNodeClient(t *testing.T) {
	t.Parallel()
	node, dir := testutil.Node(t)
	srv, url := interopServer(t, nil)
	reasons := make(chan string, 4)
	mainScenarios(srv, reasons)
	rsrv, rurl := interopServer(t, &Config{ConnectionStateRecovery: &RecoveryConfig{}})
	recovered := make(chan bool, 4)
	recoveryScenario(rsrv, recovered)

	results, stdout, stderr := runNode(t, node, dir, filepath.Join("sio", "scenarios.js"), url, rurl)
	scenario := func(name string, fn func(t *testing.T, r map[string]json.RawMessage)) {
		t.Run(name, func(t *testing.T) { fn(t, scenarioResult(t, results, name)) })
	}
	for _, tr := range []struct{ name, transport string }{
		{"basic-polling", "polling"}, {"basic-websocket", "websocket"}, {"basic-upgrade", "websocket"},
	} {
		scenario(tr.name, func(t *testing.T, r map[string]json.RawMessage) {
			checkValue(t, r, "echo", 1)
			checkValue(t, r, "bin", map[string]any{"blob": "030201", "kind": true})
			checkValue(t, r, "asked", "010203")
			checkValue(t, r, "askResult", map[string]any{"n": 42, "blobHex": "030201"})
			checkValue(t, r, "transport", tr.transport)
		})
	}
	scenario("rooms", func(t *testing.T, r map[string]json.RawMessage) {
		checkValue(t, r, "votes", []int{0, 1, 2, 3, 4})
		checkValue(t, r, "got", [][]string{
			{"shout:all-but-1"},
			{},
			{"msg:hi-even", "shout:all-but-1"},
			{"shout:all-but-1"},
			{"msg:hi-even", "shout:all-but-1"},
		})
	})
	scenario("middleware", func(t *testing.T, r map[string]json.RawMessage) {
		checkValue(t, r, "refused", map[string]any{"message": "not authorized", "data": map[string]any{"code": 401}})
		checkValue(t, r, "accepted", true)
	})
	scenario("dynamic", func(t *testing.T, r map[string]json.RawMessage) {
		checkValue(t, r, "whoami", "/dyn-42")
		checkValue(t, r, "invalid", "Invalid namespace")
	})
	scenario("disconnects", func(t *testing.T, r map[string]json.RawMessage) {
		checkValue(t, r, "kicked", "io server disconnect")
		got := []string{recvChan(t, reasons), recvChan(t, reasons)}
		slices.Sort(got)
		if want := []string{"client namespace disconnect", "server namespace disconnect"}; !slices.Equal(want, got) {
			t.Fatalf("server reasons: want %v, got %v", want, got)
		}
	})
	scenario("malformed", func(t *testing.T, r map[string]json.RawMessage) {
		checkValue(t, r, "dropped", "transport close")
		checkValue(t, r, "neighbour", "still here")
		if n := srv.Stats().BadPackets; n != 1 {
			t.Fatalf("bad packets: want 1, got %d", n)
		}
	})
	scenario("recovery", func(t *testing.T, r map[string]json.RawMessage) {
		checkValue(t, r, "first", map[string]any{"recovered": false})
		checkValue(t, r, "second", map[string]any{"recovered": true, "sameID": true, "ticks": []any{1, "2:beef", 3}, "last": "synced"})
		if first, second := recvChan(t, recovered), recvChan(t, recovered); first || !second {
			t.Fatalf("server side recovered: %v then %v", first, second)
		}
	})
	if t.Failed() {
		t.Logf("node stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

// runNode runs a scenario script and returns its results by scenario and
// key, with its raw output.
func runNode(t *testing.T, node, dir string, args ...string) (results map[string]map[string]json.RawMessage, stdout []byte, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s\n%s", err, stdout, errb.String())
	}
	results = map[string]map[string]json.RawMessage{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var l scenarioLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		if results[l.S] == nil {
			results[l.S] = map[string]json.RawMessage{}
		}
		results[l.S][l.K] = l.V
	}
	return results, stdout, errb.String()
}

// scenarioResult returns the values of a finished scenario.
func scenarioResult(t *testing.T, results map[string]map[string]json.RawMessage, name string) map[string]json.RawMessage {
	t.Helper()
	r := results[name]
	if e, ok := r["error"]; ok {
		t.Fatalf("scenario failed: %s", e)
	}
	if _, ok := r["done"]; !ok {
		t.Fatalf("scenario did not finish: %v", r)
	}
	return r
}

// checkValue compares a scenario's value for key with want, as JSON.
func checkValue(t *testing.T, r map[string]json.RawMessage, key string, want any) {
	t.Helper()
	raw, ok := r[key]
	if !ok {
		t.Fatalf("%s: missing", key)
	}
	wantJSON, _ := json.Marshal(want)
	var g, w any
	json.Unmarshal(raw, &g)
	json.Unmarshal(wantJSON, &w)
	if !reflect.DeepEqual(w, g) {
		t.Errorf("%s: want %s, got %s", key, wantJSON, raw)
	}
}

const browserPage = `<!doctype html><meta charset="utf-8"><title>socketio</title><script src="/socket.io.min.js"></script>`

// TestInteropBrowser runs the official browser client (socket.io.min.js
// 4.8) in headless Chromium: acks both ways and binary (ArrayBuffer) over
// polling, WebSocket and the upgrade.
func TestInteropBrowser(t *testing.T) {
	t.Parallel()
	node, dir := testutil.Node(t)
	testutil.Chromium(t)
	srv, err := NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	mainScenarios(srv, make(chan string, 4))
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.HandleFunc("/socket.io.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, "node_modules", "socket.io-client", "dist", "socket.io.min.js"))
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, browserPage)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	results, stdout, stderr := runNode(t, node, dir, filepath.Join("sio", "browser.js"), ts.URL)
	for _, tr := range []struct{ name, transport string }{
		{"browser-polling", "polling"}, {"browser-websocket", "websocket"}, {"browser-upgrade", "websocket"},
	} {
		t.Run(tr.name, func(t *testing.T) {
			r := scenarioResult(t, results, tr.name)
			checkValue(t, r, "echo", 1)
			checkValue(t, r, "bin", map[string]any{"blob": "030201", "kind": true})
			checkValue(t, r, "asked", "010203")
			checkValue(t, r, "askResult", map[string]any{"n": 42, "blobHex": "030201"})
			checkValue(t, r, "transport", tr.transport)
		})
	}
	if t.Failed() {
		t.Logf("node stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}
