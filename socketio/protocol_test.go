package socketio

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// The cases of socket.io-protocol's test-suite (Socket.IO part), over a
// raw WebSocket against the real engine, with the suite's reference server
// behaviour: "message" echoes as "message-back", "message-with-ack" acks
// its arguments.
func TestProtocolSuite(t *testing.T) {
	srv, url := interopServer(t, nil)
	handlers := func(s *Socket) {
		s.On("message", func(args []any, _ AckFunc) { s.Emit("message-back", args...) })
		s.On("message-with-ack", func(args []any, ack AckFunc) { ack(args...) })
		s.On("close-me", func([]any, AckFunc) { s.Disconnect(true) })
	}
	srv.Of("/").OnConnection(handlers)
	srv.Of("/custom").OnConnection(handlers)
	wsURL := "ws" + strings.TrimPrefix(url, "http") + "/socket.io/?EIO=4&transport=websocket"

	type msg struct {
		bin  bool
		data string
	}
	dial := func(t *testing.T) (*websocket.Conn, context.Context) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		t.Cleanup(cancel)
		c, _, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		if _, b, err := c.Read(ctx); err != nil || b[0] != '0' {
			t.Fatalf("engine handshake %q %v", b, err)
		}
		return c, ctx
	}
	send := func(t *testing.T, ctx context.Context, c *websocket.Conn, ms ...msg) {
		for _, m := range ms {
			typ := websocket.MessageText
			if m.bin {
				typ = websocket.MessageBinary
			}
			if err := c.Write(ctx, typ, []byte(m.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// read returns the next non-ping message.
	read := func(t *testing.T, ctx context.Context, c *websocket.Conn) (msg, error) {
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return msg{}, err
			}
			if typ == websocket.MessageText && string(b) == "2" {
				send(t, ctx, c, msg{data: "3"})
				continue
			}
			return msg{typ == websocket.MessageBinary, string(b)}, nil
		}
	}
	connectMain := func(t *testing.T, ctx context.Context, c *websocket.Conn) {
		send(t, ctx, c, msg{data: "40"})
		if m, err := read(t, ctx, c); err != nil || !strings.HasPrefix(m.data, `40{"sid":"`) {
			t.Fatalf("connect: %q %v", m.data, err)
		}
	}

	tests := []struct {
		name    string
		connect bool // to the main namespace first
		send    []msg
		want    []msg // nil: the server closes the connection
	}{
		{"connect main with payload", false, []msg{{data: `40{"token":"123"}`}}, []msg{{data: `40{"sid":"`}}},
		{"connect custom", false, []msg{{data: "40/custom,"}}, []msg{{data: `40/custom,{"sid":"`}}},
		{"connect custom with payload", false, []msg{{data: `40/custom,{"token":"abc"}`}}, []msg{{data: `40/custom,{"sid":"`}}},
		{"unknown namespace", false, []msg{{data: "40/random"}}, []msg{{data: `44/random,{"message":"Invalid namespace"}`}}},
		{"invalid handshake", false, []msg{{data: "4abc"}}, nil},
		{"disconnect custom then message main", true, []msg{{data: "40/custom"}, {data: "41/custom"}, {data: `42["message","message to main namespace"]`}},
			[]msg{{data: `40/custom,{"sid":"`}, {data: `42["message-back","message to main namespace"]`}}},
		{"plain-text packet", true, []msg{{data: `42["message",1,"2",{"3":[true]}]`}}, []msg{{data: `42["message-back",1,"2",{"3":[true]}]`}}},
		{"binary attachments", true,
			[]msg{{data: `452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`}, {true, "\x01\x02\x03"}, {true, "\x04\x05\x06"}},
			[]msg{{data: `452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`}, {true, "\x01\x02\x03"}, {true, "\x04\x05\x06"}}},
		{"ack", true, []msg{{data: `42456["message-with-ack",1,"2",{"3":[false]}]`}}, []msg{{data: `43456[1,"2",{"3":[false]}]`}}},
		{"binary ack", true,
			[]msg{{data: `452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`}, {true, "\x01\x02\x03"}, {true, "\x04\x05\x06"}},
			[]msg{{data: `462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`}, {true, "\x01\x02\x03"}, {true, "\x04\x05\x06"}}},
		{"server closes from a handler", true, []msg{{data: `42["close-me"]`}}, []msg{{data: "41"}}},
		{"unknown packet type", true, []msg{{data: "4abc"}}, nil},
		{"invalid payload format", true, []msg{{data: "42{}"}}, nil},
		{"invalid ack id", true, []msg{{data: `42abc["message-with-ack",1,"2",{"3":[false]}]`}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ctx := dial(t)
			if tt.connect {
				connectMain(t, ctx, c)
			}
			send(t, ctx, c, tt.send...)
			if tt.want == nil {
				for {
					m, err := read(t, ctx, c)
					if err != nil {
						if errors.Is(err, context.DeadlineExceeded) {
							t.Fatal("connection not closed")
						}
						return
					}
					if m.data == "1" { // engine close packet
						return
					}
				}
			}
			for _, w := range tt.want {
				m, err := read(t, ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				if m.bin != w.bin || !strings.HasPrefix(m.data, w.data) {
					t.Fatalf("want %q (binary %v), got %q (binary %v)", w.data, w.bin, m.data, m.bin)
				}
			}
		})
	}
}
