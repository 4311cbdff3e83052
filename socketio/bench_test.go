package socketio

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/switchboard/switchboard/engineio"
)

// nullConn is an engine conn that accepts and discards everything.
type nullConn struct {
	req   *http.Request
	sent  atomic.Int64
	bytes atomic.Int64
}

func (n *nullConn) ID() string             { return "null" }
func (n *nullConn) Request() *http.Request { return n.req }
func (n *nullConn) Transport() string      { return "websocket" }
func (n *nullConn) RemoteAddr() string     { return "127.0.0.1:1" }
func (n *nullConn) Close() error           { return nil }
func (n *nullConn) Send(m engineio.Message) error {
	n.sent.Add(1)
	n.bytes.Add(int64(len(m.Data)))
	return nil
}

func benchServer(b *testing.B, n int) (*Server, []*Socket) {
	srv, err := newServer(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	var ss []*Socket
	srv.Of("/").OnConnection(func(s *Socket) { ss = append(ss, s) })
	req := httptest.NewRequest("GET", "/socket.io/", nil)
	for range n {
		c := srv.newConn(&nullConn{req: req})
		c.onMessage(engineio.Message{Data: []byte("0")})
	}
	if len(ss) != n {
		b.Fatalf("%d sockets", len(ss))
	}
	return srv, ss
}

// BenchmarkBroadcast emits one event to N in-memory sockets: "once" is the
// broadcast (one encoding handed to every socket), "perSocket" emits to each
// socket in turn (one encoding each), for comparison.
func BenchmarkBroadcast(b *testing.B) {
	payload := map[string]any{"room": "lobby", "from": "ann", "text": "hello, world", "at": 1700000000000}
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("once/N=%d", n), func(b *testing.B) {
			srv, _ := benchServer(b, n)
			ns := srv.Of("/")
			b.ReportAllocs()
			for b.Loop() {
				if err := ns.Emit("said", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("perSocket/N=%d", n), func(b *testing.B) {
			_, ss := benchServer(b, n)
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range ss {
					if err := s.Emit("said", payload); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkBroadcastRoom emits to a room holding 10% of 1000 sockets.
func BenchmarkBroadcastRoom(b *testing.B) {
	srv, ss := benchServer(b, 1000)
	for i, s := range ss {
		if i%10 == 0 {
			s.Join("r")
		}
	}
	op := srv.Of("/").To("r")
	b.ReportAllocs()
	for b.Loop() {
		if err := op.Emit("said", "hello"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIncomingEvent decodes and dispatches one client event with an
// ack request.
func BenchmarkIncomingEvent(b *testing.B) {
	srv, ss := benchServer(b, 1)
	ss[0].On("say", func(args []any, ack AckFunc) { ack("ok") })
	c := ss[0].conn
	_ = srv
	msg := engineio.Message{Data: []byte(`2123["say",{"room":"lobby","text":"hello, world"}]`)}
	b.ReportAllocs()
	for b.Loop() {
		c.onMessage(msg)
	}
}
