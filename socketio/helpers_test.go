package socketio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/engineio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitTime = 5 * time.Second

// fakeConn is an in-memory Engine.IO session: Send queues into a bounded
// channel the test reads; Close calls the conn's onClose synchronously.
type fakeConn struct {
	id  string
	req *http.Request
	out chan engineio.Message

	mu     sync.Mutex
	closed bool
	c      *conn
	reason string
	done   chan struct{}
	cset   chan struct{} // closed once c is set
}

func (f *fakeConn) ID() string             { return f.id }
func (f *fakeConn) Request() *http.Request { return f.req }
func (f *fakeConn) Transport() string      { return "websocket" }
func (f *fakeConn) RemoteAddr() string     { return "127.0.0.1:1234" }

func (f *fakeConn) Send(m engineio.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return engineio.ErrClosed
	}
	select {
	case f.out <- m:
		return nil
	default:
		return engineio.ErrQueueFull
	}
}

func (f *fakeConn) Close() error { f.closeWith("forced close"); return nil }

func (f *fakeConn) closeWith(reason string) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.reason = reason
	close(f.done)
	f.mu.Unlock()
	<-f.cset
	f.c.onClose(reason, nil)
}

// fakeClient is the test's side of a fakeConn.
type fakeClient struct {
	t *testing.T
	f *fakeConn
}

var connSeq struct {
	sync.Mutex
	n int
}

func newFakeClient(t *testing.T, srv *Server, queue int) *fakeClient {
	t.Helper()
	connSeq.Lock()
	connSeq.n++
	id := fmt.Sprintf("eio%d", connSeq.n)
	connSeq.Unlock()
	f := &fakeConn{id: id, req: httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket&x=1", nil), out: make(chan engineio.Message, queue), done: make(chan struct{}), cset: make(chan struct{})}
	f.c = srv.newConn(f)
	close(f.cset)
	t.Cleanup(func() { f.Close() })
	return &fakeClient{t: t, f: f}
}

func (c *fakeClient) send(text string) { c.f.c.onMessage(engineio.Message{Data: []byte(text)}) }

func (c *fakeClient) sendBin(b []byte) { c.f.c.onMessage(engineio.Message{Binary: true, Data: b}) }

// recv returns the next message: text as is, binary as "b:" + bytes.
func (c *fakeClient) recv() string {
	c.t.Helper()
	select {
	case m := <-c.f.out:
		if m.Binary {
			return "b:" + string(m.Data)
		}
		return string(m.Data)
	case <-time.After(waitTime):
		c.t.Fatal("no message")
		return ""
	}
}

func (c *fakeClient) noMessage() {
	c.t.Helper()
	select {
	case m := <-c.f.out:
		c.t.Fatalf("unexpected message %q", m.Data)
	default:
	}
}

func (c *fakeClient) waitClosed() string {
	c.t.Helper()
	select {
	case <-c.f.done:
	case <-time.After(waitTime):
		c.t.Fatal("connection not closed")
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return c.f.reason
}

func (c *fakeClient) closed() bool {
	select {
	case <-c.f.done:
		return true
	default:
		return false
	}
}

// connect joins nsp ("/" for main) with auth (JSON or ""), returns the sid
// and the CONNECT payload.
func (c *fakeClient) connect(nsp, auth string) (sid string, reply map[string]any) {
	c.t.Helper()
	prefix := ""
	if nsp != "/" {
		prefix = nsp + ","
	}
	c.send("0" + prefix + auth)
	msg := c.recv()
	if !strings.HasPrefix(msg, "0"+prefix+"{") {
		c.t.Fatalf("want CONNECT for %s, got %q", nsp, msg)
	}
	if err := json.Unmarshal([]byte(msg[1+len(prefix):]), &reply); err != nil {
		c.t.Fatal(err)
	}
	sid, _ = reply["sid"].(string)
	return sid, reply
}

func newTestServer(t *testing.T, cfg *Config) *Server {
	t.Helper()
	srv, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func recvChan[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTime):
		t.Fatal("timed out waiting")
		var zero T
		return zero
	}
}
