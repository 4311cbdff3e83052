package packet

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		in      string
		want    Packet
		wantErr error
	}{
		{"0{}", Packet{Type: Open, Data: []byte("{}")}, nil},
		{"1", Packet{Type: Close, Data: []byte{}}, nil},
		{"2probe", Packet{Type: Ping, Data: []byte("probe")}, nil},
		{"3", Packet{Type: Pong, Data: []byte{}}, nil},
		{"4hello", Packet{Type: Message, Data: []byte("hello")}, nil},
		{"4€", Packet{Type: Message, Data: []byte("€")}, nil},
		{"5", Packet{Type: Upgrade, Data: []byte{}}, nil},
		{"6", Packet{Type: Noop, Data: []byte{}}, nil},
		{"bAQIDBA==", Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}}, nil},
		{"bAQIDBA", Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}}, nil},
		{"b", Packet{Type: Message, Binary: true, Data: []byte{}}, nil},
		{"", Packet{}, ErrEmpty},
		{"7", Packet{}, ErrUnknownType},
		{"abc", Packet{}, ErrUnknownType},
		{"b!!!!", Packet{}, ErrBase64},
		{"bA", Packet{}, ErrBase64},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error: want %v, got %v", tt.wantErr, err)
			}
			if err != nil {
				return
			}
			if got.Type != tt.want.Type || got.Binary != tt.want.Binary || !bytes.Equal(got.Data, tt.want.Data) {
				t.Errorf("want %+v, got %+v", tt.want, got)
			}
		})
	}
}

func TestAppendText(t *testing.T) {
	tests := []struct {
		p    Packet
		want string
	}{
		{Packet{Type: Ping}, "2"},
		{Packet{Type: Ping, Data: []byte("probe")}, "2probe"},
		{Packet{Type: Message, Data: []byte("hello")}, "4hello"},
		{Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}}, "bAQIDBA=="},
		{Packet{Type: Message, Binary: true}, "b"},
	}
	for _, tt := range tests {
		got := AppendText(nil, tt.p)
		if string(got) != tt.want {
			t.Errorf("%+v: want %q, got %q", tt.p, tt.want, got)
		}
		if len(got) != tt.p.Len() {
			t.Errorf("%+v: Len %d, wrote %d", tt.p, tt.p.Len(), len(got))
		}
	}
}

func TestTypeString(t *testing.T) {
	if Message.String() != "message" || Noop.String() != "noop" || Type(9).String() != "Type(9)" {
		t.Error("Type.String")
	}
}

func TestPayload(t *testing.T) {
	ps := []Packet{
		{Type: Message, Data: []byte("hello")},
		{Type: Ping},
		{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}},
		{Type: Message, Data: []byte("world")},
	}
	const want = "4hello\x1e2\x1ebAQIDBA==\x1e4world"
	b := AppendPayload(nil, ps)
	if string(b) != want {
		t.Fatalf("want %q, got %q", want, b)
	}
	if PayloadLen(ps) != len(b) {
		t.Errorf("PayloadLen %d, wrote %d", PayloadLen(ps), len(b))
	}
	var got []Packet
	if err := DecodePayload(b, func(p Packet) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ps) {
		t.Fatalf("want %d packets, got %d", len(ps), len(got))
	}
	for i := range ps {
		if got[i].Type != ps[i].Type || got[i].Binary != ps[i].Binary || !bytes.Equal(got[i].Data, ps[i].Data) {
			t.Errorf("packet %d: want %+v, got %+v", i, ps[i], got[i])
		}
	}
}

func TestDecodePayloadErrors(t *testing.T) {
	for _, in := range []string{"", "\x1e", "4a\x1e", "\x1e4a", "4a\x1e\x1e4b", "4a\x1ex"} {
		err := DecodePayload([]byte(in), func(Packet) error { return nil })
		if err == nil {
			t.Errorf("%q: want error", in)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := DecodePayload([]byte("4a\x1e4b\x1e4c"), func(Packet) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("callback error: want stop after 1, got %v after %d", err, n)
	}
}

func TestReadPayload(t *testing.T) {
	const body = "4hello\x1ebAQIDBA=="
	tests := []struct {
		name    string
		r       io.Reader
		size    int64
		max     int64
		wantErr error
	}{
		{"sized", strings.NewReader(body), int64(len(body)), 100, nil},
		{"unsized", strings.NewReader(body), -1, 100, nil},
		{"one byte reads", iotest.OneByteReader(strings.NewReader(body)), -1, 100, nil},
		{"exactly max", strings.NewReader(body), -1, int64(len(body)), nil},
		{"size over max", strings.NewReader(body), int64(len(body)), int64(len(body)) - 1, ErrTooLarge},
		{"body over max", strings.NewReader(body), -1, int64(len(body)) - 1, ErrTooLarge},
		{"lying size", strings.NewReader(body), 2, int64(len(body)) - 1, ErrTooLarge},
		{"read error", iotest.ErrReader(io.ErrUnexpectedEOF), -1, 100, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := ReadPayload(tt.r, tt.size, tt.max, func(Packet) error { n++; return nil })
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("want %v, got %v", tt.wantErr, err)
			}
			if err == nil && n != 2 {
				t.Errorf("want 2 packets, got %d", n)
			}
		})
	}
}

// TestReadPayloadBoundedAllocation checks that a huge body is refused
// after reading at most max+1 bytes.
func TestReadPayloadBoundedAllocation(t *testing.T) {
	r := &countingReader{}
	err := ReadPayload(r, -1, 1000, func(Packet) error { return nil })
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	if r.n > 1001+512 {
		t.Errorf("read %d bytes for a max of 1000", r.n)
	}
}

type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '4'
	}
	r.n += len(p)
	return len(p), nil
}
