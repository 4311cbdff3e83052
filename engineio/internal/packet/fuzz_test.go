package packet

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func seeds(f *testing.F) {
	for _, ps := range [][]Packet{
		{{Type: Message, Data: []byte("hello")}},
		{{Type: Ping, Data: []byte("probe")}, {Type: Pong}},
		{{Type: Message, Binary: true, Data: []byte{0, 1, 2, 255}}, {Type: Message, Data: []byte("€")}},
		{{Type: Open, Data: []byte(`{"sid":"x"}`)}, {Type: Noop}, {Type: Upgrade}, {Type: Close}},
	} {
		f.Add(AppendPayload(nil, ps))
	}
	f.Add([]byte("abc"))
	f.Add([]byte("bAQ"))
	f.Add([]byte("\x1e\x1e"))
}

// FuzzDecode: a packet that decodes re-encodes to a form that decodes to
// the same packet.
func FuzzDecode(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		enc := AppendText(nil, p)
		if len(enc) != p.Len() {
			t.Fatalf("Len %d, encoded %d", p.Len(), len(enc))
		}
		q, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode %q: %v", enc, err)
		}
		if p.Type != q.Type || p.Binary != q.Binary || !bytes.Equal(p.Data, q.Data) {
			t.Fatalf("round trip: %+v != %+v", p, q)
		}
	})
}

// FuzzPayload: decoding a payload whole, read in chunks, or after a
// re-encode gives the same packets; limits are enforced.
func FuzzPayload(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var whole []Packet
		errWhole := DecodePayload(b, func(p Packet) error { whole = append(whole, p); return nil })

		for _, chunk := range []int{1, 3, 7} {
			var got []Packet
			err := ReadPayload(&chunkReader{b: b, n: chunk}, -1, int64(len(b)), func(p Packet) error { got = append(got, p); return nil })
			if (err == nil) != (errWhole == nil) {
				t.Fatalf("chunk %d: error %v, whole %v", chunk, err, errWhole)
			}
			if !equal(got, whole) {
				t.Fatalf("chunk %d: packets differ", chunk)
			}
		}
		if len(b) > 0 {
			err := ReadPayload(bytes.NewReader(b), -1, int64(len(b)-1), func(Packet) error { return nil })
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("max len-1: want ErrTooLarge, got %v", err)
			}
		}
		if errWhole != nil {
			return
		}
		enc := AppendPayload(nil, whole)
		if len(enc) != PayloadLen(whole) {
			t.Fatalf("PayloadLen %d, encoded %d", PayloadLen(whole), len(enc))
		}
		var again []Packet
		if err := DecodePayload(enc, func(p Packet) error { again = append(again, p); return nil }); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !equal(again, whole) {
			t.Fatal("round trip differs")
		}
	})
}

func equal(a, b []Packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[n:]
	return n, nil
}
