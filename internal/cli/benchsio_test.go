package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/socketio"
)

func TestBenchSIO(t *testing.T) {
	srv, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(args []any, ack socketio.AckFunc) { ack(args...) })
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = runBenchSIO(ctx, Stdio{Out: &out, Err: &errOut}, []string{"--clients", "3", ts.URL, "--mode", "echo", "--duration", "200ms", "--client", "full"})
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	kv := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		kv[k] = v
	}
	if kv["client"] != "full" || kv["mode"] != "echo" || kv["connected"] != "3" || kv["rtt_p99_us"] == "" || kv["deliveries"] == "0" {
		t.Fatalf("output:\n%s", out.String())
	}
	if err := runBenchSIO(ctx, Stdio{Out: &out, Err: &errOut}, []string{"--mode", "echo"}); !errors.Is(err, ErrUsage) {
		t.Fatalf("no URL: %v", err)
	}
}

// TestBenchSIOThroughRun reaches the generator through the command tree.
func TestBenchSIOThroughRun(t *testing.T) {
	srv, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	if err := Run(ctx, []string{"bench", "sio", ts.URL, "--mode", "idle", "--clients", "2", "--duration", "100ms"}, Stdio{Out: &out, Err: &errOut}); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "connected: 2\n") {
		t.Fatalf("output:\n%s", out.String())
	}
}
