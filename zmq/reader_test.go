package zmq

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"testing/iotest"
)

// frameStream returns a stream of one header byte (the index) and a body
// of each size, filled with its own index plus one, so that a misplaced
// byte shows.
func frameStream(sizes []int) ([]byte, [][]byte) {
	var all []byte
	var bodies [][]byte
	for i, n := range sizes {
		b := bytes.Repeat([]byte{byte(i + 1)}, n)
		bodies = append(bodies, b)
		all = append(all, byte(i))
		all = append(all, b...)
	}
	return all, bodies
}

// readBodies reads len(want) bodies through r as readLoop does: a
// one-byte Peek/Discard standing for a header, then the body with Take
// when it is small and buffered, else with ReadFull. Taken bodies are
// checked again at the end: the reader must not have reused their memory.
func readBodies(t *testing.T, r *connReader, want [][]byte) {
	t.Helper()
	got := make([][]byte, len(want))
	for i, w := range want {
		h, err := r.Peek(1)
		if err != nil {
			t.Fatalf("body %d: peek: %v", i, err)
		}
		if h[0] != byte(i) {
			t.Fatalf("body %d: header byte %d", i, h[0])
		}
		r.Discard(1)
		if len(w) <= slabMax && r.Buffered() >= len(w) {
			got[i] = r.Take(len(w))
		} else {
			got[i] = make([]byte, len(w))
			if err := r.ReadFull(got[i]); err != nil {
				t.Fatalf("body %d (%d bytes): %v", i, len(w), err)
			}
		}
		if !bytes.Equal(got[i], w) {
			t.Fatalf("body %d (%d bytes) differs", i, len(w))
		}
	}
	for i, w := range want {
		if !bytes.Equal(got[i], w) {
			t.Fatalf("body %d (%d bytes) was overwritten", i, len(w))
		}
	}
}

func TestConnReader(t *testing.T) {
	sizes := []int{1, 9, 100, 8 << 10, 64 << 10, 3, 200 << 10, 16<<10 + 1, 5, 70 << 10, 64 << 10, 1, 0, 1024, 1025}
	for i := range 300 {
		sizes = append(sizes, i%7*100, 1000+i)
	}
	stream, bodies := frameStream(sizes)
	for _, tt := range []struct {
		name string
		src  func() io.Reader
	}{
		{"whole", func() io.Reader { return bytes.NewReader(stream) }},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) }},
		{"half reads", func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) }},
		{"data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, bufSize := range []int{16, 4096, readBufSize} {
				r := newConnReader(tt.src(), bufSize)
				readBodies(t, r, bodies)
				if _, err := r.Peek(1); err != io.EOF {
					t.Fatalf("after the stream: %v, want io.EOF", err)
				}
			}
		})
	}
}

// TestConnReaderSocket reads through real sockets, where large bodies go
// through readv, with the writer sending in random chunks.
func TestConnReaderSocket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var sizes []int
	for range 250 {
		switch rng.IntN(4) {
		case 0, 3:
			sizes = append(sizes, rng.IntN(1100))
		case 1:
			sizes = append(sizes, 1+rng.IntN(20<<10))
		default:
			sizes = append(sizes, 1+rng.IntN(150<<10))
		}
	}
	stream, bodies := frameStream(sizes)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = t.TempDir() + "/r.sock"
			}
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			errc := make(chan error, 1)
			go func() {
				c, err := net.Dial(network, ln.Addr().String())
				if err != nil {
					errc <- err
					return
				}
				defer c.Close()
				rest := stream
				for len(rest) > 0 {
					n := min(len(rest), 1+rng.IntN(100<<10))
					if _, err := c.Write(rest[:n]); err != nil {
						errc <- err
						return
					}
					rest = rest[n:]
				}
				errc <- nil
			}()
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := newConnReader(c, readBufSize)
			if r.rv == nil && testing.Verbose() {
				t.Log("no readv on this platform")
			}
			readBodies(t, r, bodies)
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if _, err := r.Peek(1); err != io.EOF {
				t.Fatalf("after the stream: %v, want io.EOF", err)
			}
		})
	}
}

// TestConnReaderTruncated: a stream that ends inside a body is
// io.ErrUnexpectedEOF, also on the direct path.
func TestConnReaderTruncated(t *testing.T) {
	for _, n := range []int{10, 20 << 10} {
		r := newConnReader(bytes.NewReader(make([]byte, n-1)), 4096)
		if err := r.ReadFull(make([]byte, n)); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%d bytes: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

func TestRecycle(t *testing.T) {
	ctx := testCtx(t)
	pull, push := pairUp(t, Pull, Push, "tcp://127.0.0.1:*", nil, nil)
	const size = 64 << 10
	send := func(b byte) {
		t.Helper()
		if err := push.Send(ctx, Msg{bytes.Repeat([]byte{b}, size)}); err != nil {
			t.Fatal(err)
		}
	}
	send(1)
	m, err := pull.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cap(m[0]) != size {
		t.Fatalf("before Recycle: cap %d, want exact %d", cap(m[0]), size)
	}
	first := &m[0][:1][0]
	pull.Recycle(m)
	send(2)
	m, err = pull.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if &m[0][:1][0] != first {
		t.Fatal("the recycled buffer was not reused")
	}
	if !bytes.Equal(m[0], bytes.Repeat([]byte{2}, size)) {
		t.Fatal("reused buffer holds the wrong bytes")
	}
	// Odd sizes come in class-sized buffers once recycling is on.
	push.Send(ctx, Msg{make([]byte, 5000), make([]byte, 100)})
	m, err = pull.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cap(m[0]) != 8192 || len(m[0]) != 5000 {
		t.Fatalf("5000-byte frame: len %d cap %d, want 5000 in 8192", len(m[0]), cap(m[0]))
	}
	pull.Recycle(m) // the small frame, carved from a slab, is ignored
	c8k, _ := poolClass(8192)
	if n := len(pull.pool.free[c8k]); n != 1 {
		t.Fatalf("8 KiB class holds %d buffers, want 1", n)
	}
	for c := range poolClasses {
		if c != c8k && len(pull.pool.free[c]) != 0 {
			t.Fatalf("class %d holds %d buffers", c, len(pull.pool.free[c]))
		}
	}
}

// TestRecycleBounded: the pool keeps at most poolBytes, all classes
// together.
func TestRecycleBounded(t *testing.T) {
	s := newSock(t, Pull, nil)
	for range 100 {
		s.Recycle(Msg{make([]byte, 64<<10), make([]byte, 1<<20), make([]byte, 2<<20)})
	}
	total := 0
	for c := range poolClasses {
		for _, b := range s.pool.free[c] {
			total += cap(b)
		}
	}
	if total != s.pool.bytes || total > poolBytes || total < poolBytes-(1<<20) {
		t.Fatalf("pool keeps %d bytes (counted %d), want at most %d and near it", total, s.pool.bytes, poolBytes)
	}
	if _, ok := poolClass(2 << 20); ok {
		t.Fatal("frames above 1 MiB have a class")
	}
}

// TestRecycleInproc: over inproc the receiver gets the sender's memory,
// which it must never reuse.
func TestRecycleInproc(t *testing.T) {
	ctx := context.Background()
	pull, push := pairUp(t, Pull, Push, "inproc://recycle", nil, nil)
	body := make([]byte, 64<<10)
	if err := push.Send(ctx, Msg{body}); err != nil {
		t.Fatal(err)
	}
	m, err := pull.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pull.Recycle(m)
	for c := range poolClasses {
		if len(pull.pool.free[c]) != 0 {
			t.Fatal("a frame received over inproc was kept for reuse")
		}
	}
}
