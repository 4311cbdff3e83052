package zmq

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
)

// FuzzConn feeds arbitrary bytes after a valid handshake to a live socket
// (PULL or PUB, which also parses subscriptions): it must drop the peer
// with an error value, never panic, and keep working.
func FuzzConn(f *testing.F) {
	f.Add(false, zmtp.AppendFrame(nil, 0, []byte("hello")))
	f.Add(false, zmtp.AppendFrame(zmtp.AppendFrame(nil, zmtp.FlagMore, []byte("a")), 0, make([]byte, 300)))
	f.Add(true, zmtp.AppendSubscribe(nil, 1, true, []byte("t")))
	f.Add(true, zmtp.AppendFrame(nil, 0, []byte("\x01t")))
	f.Add(false, zmtp.AppendPing(nil, 10, []byte("ctx")))
	f.Add(false, zmtp.AppendError(nil, "x"))
	f.Add(false, []byte{0xff, 0xff, 0xff})
	f.Add(true, []byte("raw\xff\x00\x00\x00\x00\x00\x00\x00\x00\x7f\x03\x01PLAIN"))
	f.Fuzz(func(t *testing.T, pub bool, data []byte) {
		typ, peer := Pull, "PUSH"
		if pub {
			typ, peer = Pub, "SUB"
		}
		// Inputs starting with "raw" replace the handshake too.
		raw := len(data) >= 3 && string(data[:3]) == "raw"
		s, err := NewSocket(typ, &Config{MaxMsgSize: 1 << 16, Linger: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		a, b := net.Pipe()
		defer b.Close()
		go io.Copy(io.Discard, b)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.serveConn(s.ctx, a, nil, "fuzz://", "fuzz")
		}()
		var in []byte
		if raw {
			data = data[3:]
		} else {
			in = zmtp.AppendGreeting(nil, zmtp.Greeting{Mechanism: "NULL"})
			in = zmtp.AppendReady(in, zmtp.Metadata{{Name: "Socket-Type", Value: []byte(peer)}})
		}
		b.SetWriteDeadline(time.Now().Add(2 * time.Second))
		b.Write(append(in, data...))
		b.Close()
		<-done
		if !pub {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			for range 1000 {
				if _, err := s.Recv(ctx); err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatal(err)
					}
					break
				}
			}
		}
	})
}
