package hub_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/internal/testutil"
)

// tokenShutdownScript is an official socket.io-client 4.8: a connection
// with a wrong token must get connect_error; one with the right token
// takes a name, joins lobby, and prints what it receives until the
// server's shutdown.
const tokenShutdownScript = `'use strict';
const { io } = require('socket.io-client');
const url = process.argv[2];
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const opts = (token, transports) => ({ transports, reconnection: false, forceNew: true, timeout: 5000, auth: { token } });
const bad = io(url, opts('wrong', ['websocket']));
bad.on('connect', () => { out({ ev: 'bad_connected' }); process.exit(1); });
bad.on('connect_error', (e) => {
  out({ ev: 'bad_error', data: e.message });
  bad.close();
  const s = io(url, opts('good', ['polling', 'websocket']));
  s.on('connect', async () => {
    try {
      await s.timeout(5000).emitWithAck('nick', 'nod');
      await s.timeout(5000).emitWithAck('join', 'lobby');
      out({ ev: 'ready' });
    } catch (e) { out({ ev: 'error', data: String(e) }); }
  });
  s.on('said', (d) => out({ ev: 'said', data: d.text }));
  s.on('shutdown', (d) => out({ ev: 'shutdown', data: d.reason }));
  s.on('disconnect', (r) => { out({ ev: 'disconnect', data: r }); process.exit(0); });
});
`

// The official client: a wrong token is refused with the hub's reason; on
// shutdown a connected client receives every line queued for it, then the
// "shutdown" event, then the disconnect.
func TestNodeClientTokenAndShutdown(t *testing.T) {
	node, dir := testutil.Node(t)
	ts := startServer(t, &hub.ServerConfig{Hub: &hub.Config{Rate: 1e6, Burst: 1e6}, Protect: &hub.ProtectConfig{Token: "good"}})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	script := filepath.Join(t.TempDir(), "token.js")
	if err := os.WriteFile(script, []byte(tokenShutdownScript), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, script, ts.url)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.WaitDelay = 5 * time.Second
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ev struct{ Ev, Data string }
	evs := make(chan ev, 1024)
	go func() {
		defer close(evs)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var e ev
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				evs <- e
			}
		}
	}()
	next := func() ev {
		t.Helper()
		select {
		case e, ok := <-evs:
			if !ok {
				t.Fatalf("node exited: %s", stderr.String())
			}
			return e
		case <-time.After(15 * time.Second):
			t.Fatalf("node said nothing: %s", stderr.String())
		}
		return ev{}
	}
	if e := next(); e.Ev != "bad_error" || !strings.Contains(e.Data, "hub: authentication failed") {
		t.Fatalf("wrong token: %+v", e)
	}
	if e := next(); e.Ev != "ready" {
		t.Fatalf("right token: %+v", e)
	}
	c, ack, err := dialSIO(ctx, ts.url, `{"token":"good"}`)
	if err != nil || !strings.HasPrefix(ack, "40") {
		t.Fatalf("go client: %v %q", err, ack)
	}
	defer c.CloseNow()
	for _, m := range []string{`421["nick","gopher"]`, `422["join","lobby"]`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	const n = 100
	for i := range n {
		say(t, ctx, c, 10+i, fmt.Sprintf("line %d", i))
	}
	ts.stop()
	got, sawShutdown := 0, false
	for {
		e := next()
		switch e.Ev {
		case "said":
			if e.Data != fmt.Sprintf("line %d", got) {
				t.Fatalf("said #%d: %q", got, e.Data)
			}
			got++
			continue
		case "shutdown":
			if got != n || e.Data != "server shutting down" {
				t.Errorf("shutdown %q after %d of %d lines", e.Data, got, n)
			}
			sawShutdown = true
			continue
		case "disconnect":
		default:
			continue
		}
		break
	}
	if got != n || !sawShutdown {
		t.Errorf("node client got %d of %d lines, shutdown event %v", got, n, sawShutdown)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("node: %v\n%s", err, stderr.String())
	}
}
