package zmqdoor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/zmqdoor"
	"github.com/switchboard/switchboard/internal/testutil"
)

// TestInteropPyzmqAndSocketIO: a pyzmq service (SUB on the XPUB door, PUSH
// into the PULL door, a DEALER worker), a Go DEALER worker, and the
// official socket.io-client meet in "lobby". Each hears the other's lines
// exactly once and never its own; the browser's RPCs reach both workers,
// and a missing or silent worker is a clear error.
func TestInteropPyzmqAndSocketIO(t *testing.T) {
	py := testutil.Python(t, "zmq")
	node, nodeDir := testutil.Node(t)
	root := testutil.RepoRoot(t)

	srv, err := hub.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := zmqdoor.Listen(srv.Hub(), &zmqdoor.Config{
		Pub: "tcp://127.0.0.1:*", In: "tcp://127.0.0.1:*", RPC: "tcp://127.0.0.1:*",
		RPCTimeout: time.Second,
	})
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	d.ServeSocketIO(srv.SocketIO().Of("/"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srvDone, doorDone := make(chan error, 1), make(chan error, 1)
	go func() { srvDone <- srv.Serve(ctx, ln) }()
	go func() { doorDone <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, ch := range []chan error{srvDone, doorDone} {
			if err := <-ch; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	worker(t, d.RPCAddr(), "upper", func(s string) []string {
		var v string
		json.Unmarshal([]byte(s), &v)
		return []string{`"` + strings.ToUpper(v) + `"`}
	})
	worker(t, d.RPCAddr(), "ignored", func(string) []string { return nil })

	pyCmd := exec.Command(py, filepath.Join(root, "interop", "hub", "zmq_service.py"), d.PubAddr(), d.InAddr(), d.RPCAddr())
	pyOut, pyErr := &bytes.Buffer{}, &bytes.Buffer{}
	pyCmd.Stdout, pyCmd.Stderr = pyOut, pyErr
	if err := pyCmd.Start(); err != nil {
		t.Fatal(err)
	}
	pyDone := make(chan error, 1)
	go func() { pyDone <- pyCmd.Wait() }()
	defer func() {
		select {
		case <-pyDone:
		default:
			pyCmd.Process.Kill()
			<-pyDone
		}
	}()
	waitFor(t, "the pyzmq service to subscribe and announce its worker", func() bool {
		return contains(srv.Hub().Members("lobby"), "zmq") && d.Workers("reverse") == 1 && d.Workers("upper") == 1
	})

	nodeCmd := exec.Command(node, filepath.Join(root, "interop", "hub", "sio_chat.js"), "http://"+ln.Addr().String())
	nodeCmd.Dir = nodeDir
	nodeCmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(nodeDir, "node_modules"))
	nodeOut, nodeErr := &bytes.Buffer{}, &bytes.Buffer{}
	nodeCmd.Stdout, nodeCmd.Stderr = nodeOut, nodeErr
	if err := nodeCmd.Start(); err != nil {
		t.Fatal(err)
	}
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- nodeCmd.Wait() }()
	for _, p := range []struct {
		name string
		done chan error
		kill func() error
	}{{"node", nodeDone, nodeCmd.Process.Kill}, {"python", pyDone, pyCmd.Process.Kill}} {
		select {
		case err := <-p.done:
			p.done <- err // for the deferred cleanup
			if err != nil {
				t.Errorf("%s: %v", p.name, err)
			}
		case <-time.After(40 * time.Second):
			p.kill()
			t.Fatalf("%s did not finish", p.name)
		}
	}
	t.Logf("python: %s%s", pyOut, pyErr)
	t.Logf("node: %s%s", nodeOut, nodeErr)

	var pyRes struct {
		Heard  []string
		Bad    []string
		Served int
		Error  string
	}
	if err := json.Unmarshal(pyOut.Bytes(), &pyRes); err != nil {
		t.Fatalf("python output %q: %v", pyOut, err)
	}
	if want := []string{"web: hello from web", "web: bye"}; !reflect.DeepEqual(pyRes.Heard, want) || len(pyRes.Bad) > 0 || pyRes.Served != 1 {
		t.Errorf("pyzmq heard %q (bad %q, served %d), want %q and one request served", pyRes.Heard, pyRes.Bad, pyRes.Served, want)
	}
	var nodeRes struct {
		Heard []string
		RPCs  []map[string]any
		Error string
	}
	if err := json.Unmarshal(nodeOut.Bytes(), &nodeRes); err != nil {
		t.Fatalf("node output %q: %v", nodeOut, err)
	}
	if want := []string{"py: hello from py", "py: done"}; !reflect.DeepEqual(nodeRes.Heard, want) {
		t.Errorf("socket.io-client heard %q, want %q", nodeRes.Heard, want)
	}
	wantRPC := []string{`{"body":"ABC","ok":true}`, `{"body":"cba","ok":true}`, `"code":"timeout"`, `"code":"no_worker"`}
	if len(nodeRes.RPCs) != len(wantRPC) {
		t.Fatalf("rpc acks %v", nodeRes.RPCs)
	}
	for i, r := range nodeRes.RPCs {
		b, _ := json.Marshal(r)
		if !strings.Contains(string(b), wantRPC[i]) {
			t.Errorf("rpc %d: ack %s, want %s", i, b, wantRPC[i])
		}
	}
}

// TestInteropPyzmqPub: a pyzmq PUB connected to the XSUB door speaks into
// the room.
func TestInteropPyzmqPub(t *testing.T) {
	py := testutil.Python(t, "zmq")
	h := newHub(t)
	d := serve(t, h, zmqdoor.Config{InSub: "tcp://127.0.0.1:*"})
	_, annEv := user(t, h, "ann", "lobby")
	cmd := exec.Command(py, filepath.Join(testutil.RepoRoot(t), "interop", "hub", "zmq_pub.py"), d.InSubAddr())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ev := annEv.next(t, hub.EventSaid)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("python: %v %s", err, out.String())
	}
	if ev.User != "pypub" || ev.Text != "from a pyzmq publisher" || ev.Room != "lobby" {
		t.Fatalf("said %+v", ev)
	}
}
