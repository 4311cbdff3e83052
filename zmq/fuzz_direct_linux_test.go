package zmq

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
	"golang.org/x/sys/unix"
)

// socketPair returns the two ends of a connected Unix stream socket, as
// bare *net.UnixConn (the kind direct receive reads).
func socketPair(t testing.TB) (a, b net.Conn) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

// FuzzDirectRecv feeds arbitrary bytes, in pieces that arrive apart,
// after a valid handshake to a REP whose Recv reads the connection itself
// (direct.go) and echoes each request: whatever the bytes, Recv keeps
// returning messages or the ctx's error, the peer is dropped with an
// error, nothing panics or hangs, and Close stops every goroutine.
func FuzzDirectRecv(f *testing.F) {
	req := func(body string) []byte {
		return zmtp.AppendFrame(zmtp.AppendFrame(nil, zmtp.FlagMore, nil), 0, []byte(body))
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	f.Add(uint8(0), cat(req("a"), req("bb"), req("ccc"), req("dddd")))
	f.Add(uint8(3), cat(req("a"), req("bb"), req("ccc")))
	f.Add(uint8(2), cat(req("split"), zmtp.AppendPing(nil, 1, []byte("p")), req("x")))
	f.Add(uint8(1), cat(req("split"), zmtp.AppendPing(nil, 1, []byte("p")), req("x")))
	f.Add(uint8(6), cat(req(string(make([]byte, 3000))), req("after")))
	f.Add(uint8(2), cat(zmtp.AppendFrame(nil, zmtp.FlagMore, []byte("env")), req("y")))
	f.Add(uint8(5), cat(req("ok"), zmtp.AppendError(nil, "bye"), req("never")))
	f.Add(uint8(4), cat(req("ok"), []byte{0x02, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 9}))
	f.Add(uint8(0), []byte{0xff})
	f.Fuzz(func(t *testing.T, piece uint8, data []byte) {
		s, err := NewSocket(Rep, &Config{MaxMsgSize: 1 << 16, Linger: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		a, b := socketPair(t)
		defer b.Close()
		go io.Copy(io.Discard, b)
		served := make(chan struct{})
		go func() {
			defer close(served)
			s.serveConn(s.ctx, a, nil, "fuzz://", "ipc")
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		echoed := make(chan error, 1)
		go func() {
			for {
				m, err := s.Recv(ctx)
				if err != nil {
					echoed <- err
					return
				}
				if err := s.Send(ctx, m); err != nil {
					echoed <- err
					return
				}
			}
		}()
		hello := zmtp.AppendGreeting(nil, zmtp.Greeting{Mechanism: "NULL"})
		hello = zmtp.AppendReady(hello, zmtp.Metadata{{Name: "Socket-Type", Value: []byte("REQ")}})
		b.SetWriteDeadline(time.Now().Add(2 * time.Second))
		b.Write(hello)
		// Odd piece: chunks of a size; even: a chunk per whole frame
		// (then most requests are read directly), as far as the bytes
		// parse as frames.
		var chunks [][]byte
		if piece%2 == 1 {
			for n := 1 + int(piece)*4; len(data) > 0; {
				k := min(n, len(data))
				chunks, data = append(chunks, data[:k]), data[k:]
			}
		} else {
			for len(data) > 0 {
				k := len(data)
				if _, size, hl, err := zmtp.ParseFrameHeader(data, 1<<20); err == nil && int64(len(data)-hl) >= size {
					k = hl + int(size)
				}
				chunks, data = append(chunks, data[:k]), data[k:]
			}
		}
		for _, c := range chunks {
			if _, err := b.Write(c); err != nil {
				break
			}
			time.Sleep(200 * time.Microsecond) // Recv gets ahead
		}
		b.Close()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Fatal("the connection is still served after the peer left")
		}
		cancel()
		if err := <-echoed; !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Recv: %v", err)
		}
	})
}
