package socketio

import (
	"strings"
	"testing"
)

// FuzzServerInput feeds up to four arbitrary messages (text or binary) to
// one connection of a server with a few namespaces and handlers. Whatever
// the input, the server must not panic, and either keep the connection or
// close it and count the bad packet; a neighbour connection keeps working.
func FuzzServerInput(f *testing.F) {
	f.Add([]byte("0"), []byte(`21["echo",1]`), []byte("1"), []byte(""), uint8(0))
	f.Add([]byte(`0/chat,{"token":"x"}`), []byte(`51-/chat,3["echo",{"_placeholder":true,"num":0}]`), []byte{1, 2}, []byte("0/chat,"), uint8(4))
	f.Add([]byte("0"), []byte(`2["join","r"]`), []byte(`2["bcast","r"]`), []byte(`3/x,5[1]`), uint8(0))
	f.Add([]byte(`0{"pid":"p","offset":"o"}`), []byte(`4{}`), []byte("b"), []byte(`2[1,2]`), uint8(4))
	f.Fuzz(func(t *testing.T, m1, m2, m3, m4 []byte, binary uint8) {
		srv, err := newServer(&Config{ConnectionStateRecovery: &RecoveryConfig{}})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		handlers := func(s *Socket) {
			s.On("echo", func(args []any, ack AckFunc) {
				if ack != nil {
					ack(args...)
				}
			})
			s.On("join", func(args []any, _ AckFunc) {
				if r, ok := args[0].(string); ok {
					s.Join(r)
				}
			})
			s.On("bcast", func(args []any, _ AckFunc) {
				if r, ok := args[0].(string); ok {
					s.To(r).Emit("b", args...)
				}
			})
		}
		srv.Of("/").OnConnection(handlers)
		srv.Of("/chat").Use(func(s *Socket) error {
			if s.Handshake().Auth["token"] != "x" {
				return &ConnectError{Message: "no"}
			}
			return nil
		})
		srv.Of("/chat").OnConnection(handlers)
		neighbour := newFakeClient(t, srv, 64)
		nsid, _ := neighbour.connect("/", "")
		c := newFakeClient(t, srv, 64)
		for i, m := range [][]byte{m1, m2, m3, m4} {
			if c.closed() {
				break
			}
			if binary&(1<<i) != 0 {
				c.sendBin(m)
			} else {
				c.send(string(m))
			}
		}
		if c.closed() && srv.Stats().BadPackets == 0 && srv.Stats().SlowConsumers == 0 {
			t.Fatal("closed without counting")
		}
		if err := srv.Of("/").To(nsid).Emit("ok"); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			if i == 64 {
				t.Fatal("neighbour did not get its message")
			}
			if strings.HasPrefix(neighbour.recv(), `2["ok"`) {
				break
			}
		}
	})
}
