package socketio

import (
	"net/http"
	"runtime"
	"testing"

	"github.com/switchboard/switchboard/engineio"
)

// nopConn is an engineConn that drops what is sent: the smallest
// stand-in for an Engine.IO session.
type nopConn struct{ id string }

func (n *nopConn) ID() string                  { return n.id }
func (n *nopConn) Request() *http.Request      { return nil }
func (n *nopConn) Transport() string           { return "websocket" }
func (n *nopConn) Send(engineio.Message) error { return nil }
func (n *nopConn) Close() error                { return nil }
func (n *nopConn) RemoteAddr() string          { return "" }

// TestIdleSocketMemory locks in what an idle connection costs above its
// Engine.IO session: its conn, one Socket in the main namespace with two
// handlers, the namespace's and the adapter's entries. At most
// maxIdleHeap bytes each; it measures about 550 (it was about 1.1 KB with
// a namespace map and a stopped timer per connection and the larger
// Socket).
func TestIdleSocketMemory(t *testing.T) {
	const n, maxIdleHeap = 2000, 1024
	srv := newTestServer(t, nil)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("a", func([]any, AckFunc) {})
		s.On("b", func([]any, AckFunc) {})
	})
	ecs := make([]nopConn, n)
	for i := range ecs {
		ecs[i].id = string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
	}
	live := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	conns := make([]*conn, n)
	h0 := live()
	for i := range ecs {
		c := srv.newConn(&ecs[i])
		c.onMessage(engineio.Message{Data: []byte("0")})
		conns[i] = c
	}
	h1 := live()
	if got := srv.Of("/").Len(); got != n {
		t.Fatalf("want %d sockets, got %d", n, got)
	}
	per := (int64(h1) - int64(h0)) / n
	t.Logf("%d live heap bytes per idle connection", per)
	if per > maxIdleHeap {
		t.Errorf("an idle connection holds %d heap bytes, want at most %d", per, maxIdleHeap)
	}
	for _, c := range conns {
		c.onClose("transport close", nil)
	}
	runtime.KeepAlive(conns)
}
