package engineio

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/switchboard/switchboard/internal/testutil"
)

type eioResult struct {
	Scenario    string           `json:"scenario"`
	SID         string           `json:"sid"`
	Messages    []map[string]any `json:"messages"`
	Upgraded    bool             `json:"upgraded"`
	Transport   string           `json:"transport"`
	Pings       int              `json:"pings"`
	CloseReason string           `json:"closeReason"`
	Error       string           `json:"error"`
	SocketError string           `json:"socketError"`
}

// runEIOClient runs the official engine.io-client (Node) against e.
func runEIOClient(t *testing.T, e *env, scenario string) eioResult {
	t.Helper()
	node, dir := testutil.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout+5e9)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(testutil.RepoRoot(t), "engineio", "testdata", "eio_client.js"), e.ts.URL, scenario)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("engine.io-client %s: %v\n%s", scenario, err, out)
	}
	var r eioResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("engine.io-client %s output %q: %v", scenario, out, err)
	}
	if r.Error != "" {
		t.Fatalf("engine.io-client %s: %s (%+v)", scenario, r.Error, r)
	}
	return r
}

func TestInteropEngineIOClient(t *testing.T) {
	testutil.Interop(t)
	t.Parallel()
	text := func(s string) map[string]any { return map[string]any{"text": s} }
	bin := func(h string) map[string]any { return map[string]any{"binary": h} }
	tests := []struct {
		scenario      string
		cfg           *Config
		wantTransport string
		wantMessages  []map[string]any
	}{
		{"upgrade", nil, "websocket", []map[string]any{text("hello"), bin("01020304"), text("€ ☃")}},
		{"websocket", nil, "websocket", []map[string]any{text("hello"), bin("01020304"), text("€ ☃"), text(repeat("x", 1000))}},
		{"polling", nil, "polling", []map[string]any{text("hello"), bin("01020304"), text("€ ☃"), text(repeat("x", 1000))}},
		{"large", nil, "polling", []map[string]any{{"textLen": float64(200000)}, {"binaryLen": float64(100000)}}},
		{"heartbeat", fastHeartbeat(), "websocket", nil},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.cfg, nil)
			r := runEIOClient(t, e, tt.scenario)
			if r.SID == "" || r.Transport != tt.wantTransport {
				t.Errorf("want transport %s, got %+v", tt.wantTransport, r)
			}
			if tt.scenario == "upgrade" && !r.Upgraded {
				t.Error("no upgrade event")
			}
			if tt.scenario == "heartbeat" && r.Pings != 3 {
				t.Errorf("want 3 pings, got %d", r.Pings)
			}
			if tt.wantMessages != nil {
				got, _ := json.Marshal(r.Messages)
				want, _ := json.Marshal(tt.wantMessages)
				if string(got) != string(want) {
					t.Errorf("messages:\nwant %s\ngot  %s", want, got)
				}
			}
			if r.SocketError != "" {
				t.Errorf("client error: %s", r.SocketError)
			}
		})
	}
	t.Run("server-close", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil, func(s *Socket) {
			s.OnMessage(func(Message) { s.Close() })
		})
		r := runEIOClient(t, e, "server-close")
		if r.CloseReason != "transport close" {
			t.Errorf("want close reason transport close, got %+v", r)
		}
	})
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}
