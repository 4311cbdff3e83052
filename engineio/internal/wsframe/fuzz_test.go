package wsframe

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// FuzzReader: any input, read in chunks of any size, ends in one of the
// documented errors without a panic; no message is longer than the limit
// and no buffer grows past the limit; control payloads stay within 125
// bytes.
func FuzzReader(f *testing.F) {
	var in []byte
	in = clientFrame(in, true, OpText, []byte("4hello"), key)
	in = clientFrame(in, false, OpBinary, []byte{1, 2}, key)
	in = clientFrame(in, true, OpPing, []byte("x"), key)
	in = clientFrame(in, true, OpContinuation, []byte{3}, key)
	in = clientFrame(in, true, OpText, bytes.Repeat([]byte("z"), 300), key)
	f.Add(in, uint8(7), uint16(100))
	f.Add(clientFrame(nil, true, OpClose, []byte{0x03, 0xe8}, key), uint8(1), uint16(0))
	f.Add([]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, uint8(3), uint16(1000))
	f.Add([]byte{0x81, 0xfe, 0x01, 0x00, 1, 2, 3, 4}, uint8(2), uint16(300))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8, limit uint16) {
		rd := &tReader{src: &chunkReader{bytes.NewReader(in), int(chunk)%32 + 1}, limit: int64(limit)}
		if chunk&0x80 != 0 {
			rd.Attach(make([]byte, minBufSize), nil)
		}
		for {
			op, m, err := rd.read(nil, controlFunc(func(op byte, p []byte) error {
				if (op != OpPing && op != OpPong) || len(p) > maxControl {
					t.Fatalf("control frame op %d, %d bytes", op, len(p))
				}
				return nil
			}))
			if err != nil {
				var ce *CloseError
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrProtocol) &&
					!errors.Is(err, ErrTooBig) && !errors.Is(err, ErrInvalidUTF8) && !errors.As(err, &ce) {
					t.Fatalf("undocumented error %v", err)
				}
				if limit > 0 && cap(m) > max(int(limit), maxGrow) {
					t.Fatalf("buffer of %d bytes with limit %d", cap(m), limit)
				}
				return
			}
			if op != OpText && op != OpBinary {
				t.Fatalf("message op %d", op)
			}
			if op == OpText && !utf8.Valid(m) {
				t.Fatal("a text message that is not UTF-8 came through")
			}
			if limit > 0 && len(m) > int(limit) {
				t.Fatalf("message of %d bytes over limit %d", len(m), limit)
			}
			if cap(m) > max(len(m), 2*maxGrow) {
				t.Fatalf("message of %d bytes in a buffer of %d", len(m), cap(m))
			}
		}
	})
}

// FuzzRoundTrip: a message cut into frames at any points, with a ping in
// between, masked with any key, read in chunks of any size, comes back
// whole, and the ping with it; as text, only if it is UTF-8
// (ErrInvalidUTF8 otherwise).
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), uint32(0x01020304), uint8(2), uint8(3), true)
	f.Add(bytes.Repeat([]byte{0xff}, 70000), uint32(0xdeadbeef), uint8(100), uint8(0), false)
	f.Add([]byte{}, uint32(0), uint8(0), uint8(1), true)
	f.Fuzz(func(t *testing.T, msg []byte, k uint32, cut, chunk uint8, text bool) {
		key := [4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
		op := byte(OpBinary)
		if text {
			op = OpText
		}
		// Frames of cut+1 bytes (one frame for 0), a ping after the first.
		size := len(msg)
		if cut > 0 {
			size = int(cut)
		}
		var in []byte
		rest := msg
		first := true
		for {
			n := min(size, len(rest))
			fop := byte(OpContinuation)
			if first {
				fop = op
			}
			in = clientFrame(in, n == len(rest), fop, rest[:n], key)
			rest = rest[n:]
			if first {
				in = clientFrame(in, true, OpPing, []byte("p"), key)
				first = false
			}
			if len(rest) == 0 {
				break
			}
		}
		var src io.Reader = bytes.NewReader(in)
		if chunk > 0 {
			src = &chunkReader{src, int(chunk)}
		} else {
			src = iotest.OneByteReader(src)
		}
		rd := &tReader{src: src, limit: int64(len(msg))}
		pings := 0
		onPing := controlFunc(func(op byte, p []byte) error {
			if op == OpPing && string(p) == "p" {
				pings++
			}
			return nil
		})
		gotOp, got, err := rd.read(nil, onPing)
		if text && !utf8.Valid(msg) {
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("text that is not UTF-8: want ErrInvalidUTF8, got %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if gotOp != op || !bytes.Equal(got, msg) {
			t.Fatalf("round trip: op %d, %d bytes, want op %d, %d bytes", gotOp, len(got), op, len(msg))
		}
		if _, _, err := rd.read(nil, onPing); err != io.EOF {
			t.Fatalf("after the message: want EOF, got %v", err)
		}
		if pings != 1 {
			t.Fatalf("%d pings seen", pings)
		}
	})
}
