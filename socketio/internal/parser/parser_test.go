package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		want string
		atts int
	}{
		{"connect main", Packet{Type: Connect}, "0", 0},
		{"connect auth", Packet{Type: Connect, Namespace: "/admin", Data: map[string]any{"token": "123"}}, `0/admin,{"token":"123"}`, 0},
		{"connect reply", Packet{Type: Connect, Data: map[string]any{"sid": "oSO0OpakMV_3jnilAAAA"}}, `0{"sid":"oSO0OpakMV_3jnilAAAA"}`, 0},
		{"connect error", Packet{Type: ConnectError, Data: map[string]any{"message": "Not authorized"}}, `4{"message":"Not authorized"}`, 0},
		{"disconnect ns", Packet{Type: Disconnect, Namespace: "/admin"}, "1/admin,", 0},
		{"event", Packet{Type: Event, Data: []any{"foo"}}, `2["foo"]`, 0},
		{"event ns", Packet{Type: Event, Namespace: "/admin", Data: []any{"bar"}}, `2/admin,["bar"]`, 0},
		{"event id", Packet{Type: Event, ID: 12, HasID: true, Data: []any{"foo"}}, `212["foo"]`, 0},
		{"ack", Packet{Type: Ack, Namespace: "/admin", ID: 13, HasID: true, Data: []any{"bar"}}, `3/admin,13["bar"]`, 0},
		{"binary event", Packet{Type: Event, Data: []any{"baz", []byte{1, 2, 3, 4}}}, `51-["baz",{"_placeholder":true,"num":0}]`, 1},
		{"binary ack", Packet{Type: Ack, Namespace: "/admin", ID: 15, HasID: true, Data: []any{[]byte{1}}}, `61-/admin,15[{"_placeholder":true,"num":0}]`, 1},
		{"binary nested", Packet{Type: Event, Data: []any{"x", map[string]any{"a": []any{[]byte{1}, []byte{2}}}}}, `52-["x",{"a":[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]}]`, 2},
		{"binary type without binary", Packet{Type: BinaryEvent, Data: []any{"x"}}, `2["x"]`, 0},
		{"no html escape", Packet{Type: Event, Data: []any{"<&>"}}, `2["<&>"]`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, atts, err := Encode(&tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(text); got != tt.want {
				t.Errorf("text: want %s, got %s", tt.want, got)
			}
			if len(atts) != tt.atts {
				t.Errorf("attachments: want %d, got %d", tt.atts, len(atts))
			}
		})
	}
}

func TestEncodeDoesNotModifyInput(t *testing.T) {
	m := map[string]any{"b": []byte{1}}
	args := []any{"ev", m}
	if _, _, err := Encode(&Packet{Type: Event, Data: args}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["b"].([]byte); !ok {
		t.Fatal("Encode replaced the caller's []byte")
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		msgs []string // "b:" prefix = binary
		want *Packet
	}{
		{"connect", []string{"0"}, &Packet{Type: Connect, Namespace: "/"}},
		{"connect ns auth", []string{`0/admin,{"token":"123"}`}, &Packet{Type: Connect, Namespace: "/admin", Data: map[string]any{"token": "123"}}},
		{"disconnect", []string{"1/admin,"}, &Packet{Type: Disconnect, Namespace: "/admin"}},
		{"disconnect no comma", []string{"1/admin"}, &Packet{Type: Disconnect, Namespace: "/admin"}},
		{"event", []string{`2["foo",1,{"a":null}]`}, &Packet{Type: Event, Namespace: "/", Data: []any{"foo", 1.0, map[string]any{"a": nil}}}},
		{"event numeric name", []string{`2[1]`}, &Packet{Type: Event, Namespace: "/", Data: []any{1.0}}},
		{"event id ns", []string{`2/chat,456["a"]`}, &Packet{Type: Event, Namespace: "/chat", ID: 456, HasID: true, Data: []any{"a"}}},
		{"ack", []string{`3/admin,13["bar"]`}, &Packet{Type: Ack, Namespace: "/admin", ID: 13, HasID: true, Data: []any{"bar"}}},
		{"connect error string", []string{`4"nope"`}, &Packet{Type: ConnectError, Namespace: "/", Data: "nope"}},
		{"binary event", []string{`51-["baz",{"_placeholder":true,"num":0}]`, "b:\x01\x02"}, &Packet{Type: BinaryEvent, Namespace: "/", Data: []any{"baz", []byte{1, 2}}}},
		{"binary ack two", []string{`62-/admin,15[{"_placeholder":true,"num":1},{"x":{"_placeholder":true,"num":0}}]`, "b:a", "b:b"},
			&Packet{Type: BinaryAck, Namespace: "/admin", ID: 15, HasID: true, Data: []any{[]byte("b"), map[string]any{"x": []byte("a")}}}},
		{"binary zero attachments", []string{`50-["x"]`}, &Packet{Type: BinaryEvent, Namespace: "/", Data: []any{"x"}}},
		{"placeholder in plain event stays", []string{`2["x",{"_placeholder":true,"num":0}]`}, &Packet{Type: Event, Namespace: "/", Data: []any{"x", map[string]any{"_placeholder": true, "num": 0.0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			var got *Packet
			for i, m := range tt.msgs {
				var err error
				if b, ok := strings.CutPrefix(m, "b:"); ok {
					got, err = d.Binary([]byte(b))
				} else {
					got, err = d.Text([]byte(m))
				}
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if (got != nil) != (i == len(tt.msgs)-1) {
					t.Fatalf("message %d: packet %v early or late", i, got)
				}
			}
			if !reflect.DeepEqual(tt.want, got) {
				t.Errorf("want %#v\ngot  %#v", tt.want, got)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		msgs []string
		want error
	}{
		{"empty", []string{""}, ErrInvalidPacket},
		{"bad type", []string{"7"}, ErrInvalidPacket},
		{"letter type", []string{"a"}, ErrInvalidPacket},
		{"bad json", []string{`2["a"`}, ErrInvalidPacket},
		{"event not array", []string{`2{"a":1}`}, ErrInvalidPacket},
		{"event empty", []string{`2[]`}, ErrInvalidPacket},
		{"event name object", []string{`2[{}]`}, ErrInvalidPacket},
		{"reserved name", []string{`2["disconnect"]`}, ErrInvalidPacket},
		{"connect array", []string{`0[1]`}, ErrInvalidPacket},
		{"disconnect payload", []string{`1{}`}, ErrInvalidPacket},
		{"ack no id", []string{`3[1]`}, ErrInvalidPacket},
		{"ack not array", []string{`31"x"`}, ErrInvalidPacket},
		{"id too big", []string{`29999999999999999999["a"]`}, ErrInvalidPacket},
		{"no attachment count", []string{`5["a"]`}, ErrInvalidPacket},
		{"too many attachments", []string{`5999999999999999999999-["a"]`}, ErrTooManyAttachments},
		{"65 attachments", []string{`565-["a"]`}, ErrTooManyAttachments},
		{"bad placeholder index", []string{`51-["a",{"_placeholder":true,"num":1}]`, "b:x"}, ErrInvalidPacket},
		{"fractional placeholder", []string{`51-["a",{"_placeholder":true,"num":0.5}]`, "b:x"}, ErrInvalidPacket},
		{"placeholder without attachments", []string{`50-["a",{"_placeholder":true,"num":0}]`}, ErrInvalidPacket},
		{"binary unexpected", []string{"b:x"}, ErrUnexpectedBinary},
		{"text while pending", []string{`51-["a",{"_placeholder":true,"num":0}]`, `2["b"]`}, ErrUnexpectedText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			var err error
			for _, m := range tt.msgs {
				if b, ok := strings.CutPrefix(m, "b:"); ok {
					_, err = d.Binary([]byte(b))
				} else {
					_, err = d.Text([]byte(m))
				}
				if err != nil {
					break
				}
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
			if d.Pending() {
				t.Fatal("decoder still pending after error")
			}
		})
	}
}

func TestAttachmentBytesLimit(t *testing.T) {
	d := Decoder{MaxAttachmentBytes: 10}
	if _, err := d.Text([]byte(`52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Binary(make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Binary(make([]byte, 6)); !errors.Is(err, ErrAttachmentsTooLarge) {
		t.Fatalf("want ErrAttachmentsTooLarge, got %v", err)
	}
	if d.Pending() {
		t.Fatal("pending after error")
	}
}

func TestRoundTripBinary(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 65535, 65536} {
		blob := bytes.Repeat([]byte{0xab}, size)
		p := &Packet{Type: Event, Namespace: "/x", ID: 7, HasID: true, Data: []any{"up", blob, map[string]any{"k": []any{blob, "s"}}}}
		got := roundTrip(t, p, 0)
		want := &Packet{Type: BinaryEvent, Namespace: "/x", ID: 7, HasID: true, Data: []any{"up", blob, map[string]any{"k": []any{blob, "s"}}}}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("size %d: want %#v got %#v", size, want, got)
		}
	}
}

func TestRawMessagePassesThrough(t *testing.T) {
	text, _, err := Encode(&Packet{Type: Event, Data: []any{"e", json.RawMessage(`{"a":[1,2]}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `2["e",{"a":[1,2]}]`; string(text) != want {
		t.Fatalf("want %s got %s", want, text)
	}
}

// roundTrip encodes p and decodes the result with max attachments max.
func roundTrip(t testing.TB, p *Packet, max int) *Packet {
	t.Helper()
	text, atts, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	d := Decoder{MaxAttachments: max}
	got, err := d.Text(text)
	if err != nil {
		t.Fatalf("decode %q: %v", text, err)
	}
	for i, a := range atts {
		if got != nil {
			t.Fatalf("packet complete before attachment %d", i)
		}
		if got, err = d.Binary(a); err != nil {
			t.Fatal(err)
		}
	}
	if got == nil {
		t.Fatal("packet incomplete")
	}
	return got
}
