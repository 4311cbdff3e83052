package socketio

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// nodeServer runs interop/node/client/server.js (official socket.io 4.8
// servers) on the given ports (0: any) and returns the ports it bound and
// a stop function that ends the process and waits.
func nodeServer(t *testing.T, plain, recovery int) (int, int, func()) {
	t.Helper()
	node, dir := testutil.Node(t)
	cmd := exec.Command(node, filepath.Join("client", "server.js"), fmt.Sprint(plain), fmt.Sprint(recovery))
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		stdin.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	lines := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
	}()
	var ports struct{ Plain, Recovery int }
	select {
	case l := <-lines:
		if err := json.Unmarshal([]byte(l), &ports); err != nil {
			stop()
			t.Fatalf("node server said %q: %v", l, err)
		}
	case <-time.After(20 * time.Second):
		stop()
		t.Fatal("node server did not start")
	}
	t.Cleanup(stop)
	return ports.Plain, ports.Recovery, stop
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("node: %s", p)
	return len(p), nil
}

func nodePeer(t *testing.T) *clPeer {
	plain, recovery, stop := nodeServer(t, 0, 0)
	p := &clPeer{plain: fmt.Sprintf("http://127.0.0.1:%d", plain), recovery: fmt.Sprintf("http://127.0.0.1:%d", recovery)}
	p.stop = func() { stop() }
	p.start = func() {
		var err error
		for range 50 { // the ports may still be held briefly
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("%v", r)
					}
				}()
				_, _, stop = nodeServer(t, plain, recovery)
				err = nil
			}()
			if err == nil {
				break
			}
		}
	}
	return p
}

// TestClientNodeServer runs every client scenario against the official
// socket.io 4.8 server, for each transport choice.
func TestClientNodeServer(t *testing.T) {
	clScenarios(t, nodePeer(t))
}
