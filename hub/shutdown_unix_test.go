//go:build unix

package hub_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/socketio"
)

// A client that does not read cannot hold the shutdown past its deadline:
// Serve closes what is left and returns nil.
func TestShutdownDeadline(t *testing.T) {
	ts := startServer(t, &hub.ServerConfig{
		Hub:             &hub.Config{Rate: 1e6, Burst: 1e6, MaxTextLen: 60000},
		SocketIO:        &socketio.Config{Engine: &engineio.Config{MaxQueuedPackets: 1 << 20}},
		ShutdownTimeout: 300 * time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// stuck's receive buffer is small, so the server's queue holds most.
	small := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	stuck, ack, err := dialSIOWith(ctx, ts.url, "", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: small.DialContext}},
	})
	if err != nil || !strings.HasPrefix(ack, "40") {
		t.Fatalf("stuck: %v %q", err, ack)
	}
	defer stuck.CloseNow()
	for _, m := range []string{`421["nick","stuck"]`, `422["join","lobby"]`} {
		if err := stuck.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := stuck.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	writer := rawClient(t, ctx, ts.url, "writer")
	defer writer.CloseNow()
	go func() {
		for {
			if _, _, err := writer.Read(ctx); err != nil {
				return
			}
		}
	}()
	line := []byte(`42["say",{"room":"lobby","text":"` + strings.Repeat("x", 50000) + `"}]`)
	const lines = 120 // 6 MB for stuck, more than the socket buffers hold
	for range lines {
		if err := writer.Write(ctx, websocket.MessageText, line); err != nil {
			break
		}
	}
	waitFor(t, "the writer's lines in stuck's queue", func() bool {
		return ts.srv.Hub().Conns()[0].MsgsOut+ts.srv.Hub().Conns()[1].MsgsOut >= lines
	})
	start := time.Now()
	ts.cancel()
	ts.cancel = nil
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("Serve after the drain deadline: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	d := time.Since(start)
	t.Logf("shutdown took %v", d)
	if d > 5*time.Second {
		t.Errorf("shutdown took %v with a 300ms drain", d)
	}
}
