package wsframe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// clientFrame appends a frame as a client sends it: masked with key.
func clientFrame(dst []byte, fin bool, op byte, payload []byte, key [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	dst = append(dst, b0)
	n := len(payload)
	switch {
	case n <= 125:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:]...)
	l := len(dst)
	dst = append(dst, payload...)
	Mask(key, 0, dst[l:])
	return dst
}

// tReader is a Reader with its source and limit.
type tReader struct {
	Reader
	src   io.Reader
	limit int64
}

func (rd *tReader) read(dst []byte, c Controller) (byte, []byte, error) {
	return rd.ReadMessage(rd.src, rd.limit, dst, c)
}

// controlFunc is a Controller.
type controlFunc func(op byte, p []byte) error

func (f controlFunc) Control(op byte, p []byte) error { return f(op, p) }

var key = [4]byte{0x12, 0x34, 0x56, 0x78}

type ctl struct {
	op byte
	p  string
}

// readAll reads messages until an error; it returns them and the error.
func readAll(rd *tReader) ([]string, []ctl, error) {
	var msgs []string
	var ctls []ctl
	for {
		op, m, err := rd.read(nil, controlFunc(func(op byte, p []byte) error {
			ctls = append(ctls, ctl{op, string(p)})
			return nil
		}))
		if err != nil {
			return msgs, ctls, err
		}
		msgs = append(msgs, string([]byte{"?tb"[op]})+string(m))
	}
}

func TestReadMessage(t *testing.T) {
	big := strings.Repeat("y", 70000)
	var in []byte
	in = clientFrame(in, true, OpText, []byte("hello"), key)
	in = clientFrame(in, true, OpBinary, []byte{0, 1, 2}, key)
	in = clientFrame(in, false, OpText, []byte("frag"), key)
	in = clientFrame(in, true, OpPing, []byte("p1"), key)
	in = clientFrame(in, false, OpContinuation, []byte("men"), key)
	in = clientFrame(in, true, OpContinuation, []byte("ted"), key)
	in = clientFrame(in, true, OpText, []byte(big), key)
	in = clientFrame(in, true, OpPong, nil, key)
	in = clientFrame(in, true, OpText, nil, key)
	in = clientFrame(in, true, OpClose, []byte{0x03, 0xe8, 'b', 'y', 'e'}, key)
	want := []string{"thello", "b\x00\x01\x02", "tfragmented", "t" + big, "t"}
	wantCtl := []ctl{{OpPing, "p1"}, {OpPong, ""}}
	for _, tc := range []struct {
		name string
		src  func() io.Reader
		buf  int
	}{
		{"whole", func() io.Reader { return bytes.NewReader(in) }, 0},
		{"one byte", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) }, 0},
		{"half", func() io.Reader { return iotest.HalfReader(bytes.NewReader(in)) }, 0},
		{"small buffer", func() io.Reader { return bytes.NewReader(in) }, 16},
		{"data err", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(in)) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := &tReader{src: tc.src(), limit: 1 << 20}
			if tc.buf > 0 {
				rd.Attach(make([]byte, tc.buf), nil)
			}
			msgs, ctls, err := readAll(rd)
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Code != StatusNormal {
				t.Fatalf("want close 1000, got %v", err)
			}
			if len(msgs) != len(want) {
				t.Fatalf("got %d messages, want %d", len(msgs), len(want))
			}
			for i := range want {
				if msgs[i] != want[i] {
					t.Errorf("message %d: got %.20q (%d), want %.20q (%d)", i, msgs[i], len(msgs[i]), want[i], len(want[i]))
				}
			}
			if len(ctls) != len(wantCtl) || ctls[0] != wantCtl[0] || ctls[1] != wantCtl[1] {
				t.Errorf("control frames: %v", ctls)
			}
		})
	}
}

func TestReadMessageErrors(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 126)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"eof", nil, io.EOF},
		{"partial header", []byte{0x81}, io.ErrUnexpectedEOF},
		{"partial payload", clientFrame(nil, true, OpText, []byte("hello"), key)[:8], io.ErrUnexpectedEOF},
		{"unmasked", []byte{0x81, 0x01, 'x'}, ErrProtocol},
		{"rsv", clientFrame(nil, true, OpText|0x40, []byte("x"), key), ErrProtocol},
		{"reserved opcode", clientFrame(nil, true, 0x3, []byte("x"), key), ErrProtocol},
		{"control opcode", clientFrame(nil, true, 0xb, nil, key), ErrProtocol},
		{"fragmented ping", clientFrame(nil, false, OpPing, nil, key), ErrProtocol},
		{"long ping", clientFrame(nil, true, OpPing, long, key), ErrProtocol},
		{"lone continuation", clientFrame(nil, true, OpContinuation, []byte("x"), key), ErrProtocol},
		{"text in text", clientFrame(clientFrame(nil, false, OpText, []byte("x"), key), true, OpText, []byte("y"), key), ErrProtocol},
		{"close one byte", clientFrame(nil, true, OpClose, []byte{3}, key), ErrProtocol},
		{"close 1005", clientFrame(nil, true, OpClose, []byte{0x03, 0xed}, key), ErrProtocol},
		{"close 999", clientFrame(nil, true, OpClose, []byte{0x03, 0xe7}, key), ErrProtocol},
		{"close bad utf8", clientFrame(nil, true, OpClose, []byte{0x03, 0xe8, 0xff}, key), ErrProtocol},
		{"length msb", []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, ErrProtocol},
		{"too big", clientFrame(nil, true, OpText, bytes.Repeat([]byte("x"), 101), key), ErrTooBig},
		{"too big fragmented", clientFrame(clientFrame(nil, false, OpText, bytes.Repeat([]byte("x"), 60), key), true, OpContinuation, bytes.Repeat([]byte("x"), 41), key), ErrTooBig},
		// Announced, never sent: refused from the header alone.
		{"too big announced", []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, ErrTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := &tReader{src: bytes.NewReader(tc.in), limit: 100}
			_, _, err := rd.read(nil, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
		})
	}
	t.Run("close without status", func(t *testing.T) {
		rd := &tReader{src: bytes.NewReader(clientFrame(nil, true, OpClose, nil, key))}
		_, _, err := rd.read(nil, nil)
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != StatusNoStatus {
			t.Fatalf("want close 1005, got %v", err)
		}
	})
	t.Run("control error", func(t *testing.T) {
		stop := errors.New("stop")
		rd := &tReader{src: bytes.NewReader(clientFrame(nil, true, OpPing, nil, key))}
		_, _, err := rd.read(nil, controlFunc(func(byte, []byte) error { return stop }))
		if err != stop {
			t.Fatalf("want the control callback's error, got %v", err)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		rd := &tReader{src: bytes.NewReader(clientFrame(nil, true, OpText, bytes.Repeat([]byte("x"), 100), key)), limit: 100}
		if _, m, err := rd.read(nil, nil); err != nil || len(m) != 100 {
			t.Fatalf("got %d bytes, %v", len(m), err)
		}
	})
}

// A peer announcing a long frame and sending little costs memory in
// proportion to what it sent, not to what it announced.
func TestReadMessageGrowsWithInput(t *testing.T) {
	in := []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 1, 2, 3, 4} // 1,000,000 bytes
	in = append(in, make([]byte, 10)...)
	rd := &tReader{src: bytes.NewReader(in), limit: 1e6}
	_, m, err := rd.read(nil, nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("want unexpected EOF, got %v", err)
	}
	if cap(m) > maxGrow {
		t.Errorf("buffer grew to %d bytes for 10 received", cap(m))
	}
}

func TestAttachDetach(t *testing.T) {
	in := clientFrame(clientFrame(nil, true, OpText, []byte("a"), key), true, OpText, []byte("b"), key)
	rd := &tReader{src: bytes.NewReader(in[7:])}
	rd.Attach(make([]byte, 64), in[:7]) // what the HTTP server had buffered
	if rd.Buffered() != 7 || rd.Detach() != nil {
		t.Fatal("Detach must keep a buffer holding input")
	}
	if _, m, err := rd.read(nil, nil); err != nil || string(m) != "a" {
		t.Fatalf("first: %q %v", m, err)
	}
	if b := rd.Detach(); b == nil || rd.Buffered() != 0 {
		t.Fatal("Detach of an empty buffer must give it back")
	}
	rd.Attach(make([]byte, 64), nil)
	if _, m, err := rd.read(nil, nil); err != nil || string(m) != "b" {
		t.Fatalf("second: %q %v", m, err)
	}
	// More already buffered than the buffer holds.
	rd = &tReader{src: bytes.NewReader(nil)}
	rd.Attach(make([]byte, 16), in)
	if msgs, _, err := readAll(rd); err != io.EOF || len(msgs) != 2 {
		t.Fatalf("got %q %v", msgs, err)
	}
}

func TestMask(t *testing.T) {
	for n := range 40 {
		for pos := range 4 {
			b := bytes.Repeat([]byte{0xaa}, n)
			Mask(key, pos, b)
			for i := range b {
				if b[i] != 0xaa^key[(pos+i)&3] {
					t.Fatalf("n %d pos %d: byte %d wrong", n, pos, i)
				}
			}
		}
	}
}

func TestAcceptKey(t *testing.T) {
	// RFC 6455 section 1.3.
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("AcceptKey: %q", got)
	}
	for k, want := range map[string]bool{
		"dGhlIHNhbXBsZSBub25jZQ==": true,
		"dGhlIHNhbXBsZSBub25jZQ":   false,
		"dGhlIHNhbXBsZSBub25jZQ=!": false,
		"dGhlIHNhbXBsZSBub25jZXg=": false, // 17 bytes
		"":                         false,
	} {
		if ValidKey(k) != want {
			t.Errorf("ValidKey(%q) != %v", k, want)
		}
	}
}

func TestAppendHeader(t *testing.T) {
	for _, n := range []int{0, 125, 126, 0xffff, 0x10000} {
		h := AppendHeader(nil, OpBinary, n)
		// Read it back as a masked frame would be.
		h[1] |= 0x80
		h = append(h, 0, 0, 0, 0)
		rd := &tReader{src: bytes.NewReader(h)}
		got, err := rd.readHeader(rd.src)
		if err != nil || got.length != int64(n) || got.op != OpBinary || !got.fin {
			t.Errorf("n %d: %+v %v", n, got, err)
		}
	}
	if c := AppendClose(nil, StatusTooBig); !bytes.Equal(c, []byte{0x88, 2, 0x03, 0xf1}) {
		t.Errorf("AppendClose: %x", c)
	}
	if c := AppendClose(nil, StatusNoStatus); !bytes.Equal(c, []byte{0x88, 0}) {
		t.Errorf("AppendClose without status: %x", c)
	}
}
