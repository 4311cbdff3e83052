package hub_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// line is one JSON line printed by testdata/sioclient.js.
type line struct {
	ID        string          `json:"id"`
	Ev        string          `json:"ev"`
	Ack       string          `json:"ack"`
	Err       string          `json:"err"`
	Error     string          `json:"error"`
	Sid       string          `json:"sid"`
	Transport string          `json:"transport"`
	Data      json.RawMessage `json:"data"`
}

func (l line) String() string {
	b, _ := json.Marshal(l)
	return string(b)
}

// nodeClients drives official socket.io-client connections in one node
// process (testdata/sioclient.js).
type nodeClients struct {
	t      *testing.T
	stdin  io.WriteCloser
	lines  chan line
	buf    []line
	tag    int
	wait   time.Duration
	stderr *lockedBuffer
}

// startNode starts testdata/sioclient.js against url. The process and its
// reader goroutine stop in t.Cleanup.
func startNode(t *testing.T, url string) *nodeClients {
	t.Helper()
	node, dir := testutil.Node(t)
	script, err := filepath.Abs(filepath.Join("testdata", "sioclient.js"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, url)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	nc := &nodeClients{t: t, stdin: stdin, lines: make(chan line, 256), wait: 10 * time.Second, stderr: &lockedBuffer{}}
	cmd.Stderr = nc.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(nc.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = line{Error: "unparsable line: " + sc.Text()}
			}
			nc.lines <- l
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		exited := make(chan error, 1)
		go func() {
			for range nc.lines { // unblock the reader
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
	})
	return nc
}

func (nc *nodeClients) send(cmd map[string]any) {
	nc.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		nc.t.Fatal(err)
	}
	if _, err := nc.stdin.Write(append(b, '\n')); err != nil {
		nc.t.Fatalf("node: write command: %v (stderr: %s)", err, nc.stderr)
	}
}

// await returns the first line (buffered or new) that match accepts,
// keeping the others for later.
func (nc *nodeClients) await(what string, match func(line) bool) line {
	nc.t.Helper()
	for i, l := range nc.buf {
		if match(l) {
			nc.buf = append(nc.buf[:i:i], nc.buf[i+1:]...)
			return l
		}
	}
	deadline := time.After(nc.wait)
	for {
		select {
		case l, ok := <-nc.lines:
			if !ok {
				nc.t.Fatalf("node exited while waiting for %s (stderr: %s)", what, nc.stderr)
			}
			if l.Error != "" {
				nc.t.Fatalf("node: %s", l.Error)
			}
			if match(l) {
				return l
			}
			nc.buf = append(nc.buf, l)
		case <-deadline:
			nc.t.Fatalf("timed out waiting for %s; unmatched lines: %v (stderr: %s)", what, nc.buf, nc.stderr)
		}
	}
}

// connect opens connection id and waits until it is connected.
func (nc *nodeClients) connect(id string, transports ...string) line {
	nc.t.Helper()
	cmd := map[string]any{"op": "connect", "id": id}
	if len(transports) > 0 {
		cmd["transports"] = transports
	}
	nc.send(cmd)
	l := nc.await(id+" connect", func(l line) bool { return l.ID == id && (l.Ev == "connect" || l.Ev == "connect_error") })
	if l.Ev != "connect" {
		nc.t.Fatalf("%s: connect_error %s", id, l.Data)
	}
	return l
}

// emit sends an event with an ack and returns the ack's first argument.
func (nc *nodeClients) emit(id, ev string, args ...any) map[string]any {
	nc.t.Helper()
	nc.tag++
	tag := fmt.Sprint("t", nc.tag)
	nc.send(map[string]any{"op": "emit", "id": id, "ev": ev, "args": args, "tag": tag})
	l := nc.await(id+" ack of "+ev, func(l line) bool { return l.ID == id && l.Ack == tag })
	if l.Err != "" {
		nc.t.Fatalf("%s %s: ack error %s", id, ev, l.Err)
	}
	var m map[string]any
	if err := json.Unmarshal(l.Data, &m); err != nil {
		nc.t.Fatalf("%s %s: ack is not an object: %s", id, ev, l.Data)
	}
	return m
}

// event waits for the next event ev on connection id and returns its data.
func (nc *nodeClients) event(id, ev string) map[string]any {
	nc.t.Helper()
	l := nc.await(id+" event "+ev, func(l line) bool { return l.ID == id && l.Ev == ev })
	var m map[string]any
	if err := json.Unmarshal(l.Data, &m); err != nil {
		nc.t.Fatalf("%s %s: data is not an object: %s", id, ev, l.Data)
	}
	return m
}

// none fails if connection id has received any of evs (among the lines
// read so far). Call it after an ack of id: everything the server sent id
// before that ack has been read by then.
func (nc *nodeClients) none(id string, evs ...string) {
	nc.t.Helper()
	for _, l := range nc.buf {
		for _, ev := range evs {
			if l.ID == id && l.Ev == ev {
				nc.t.Errorf("%s: unexpected %s", id, l)
			}
		}
	}
}

// close disconnects connection id.
func (nc *nodeClients) close(id string) {
	nc.t.Helper()
	nc.send(map[string]any{"op": "close", "id": id})
	nc.await(id+" closed", func(l line) bool { return l.ID == id && l.Ev == "closed" })
}
