package parser

import "testing"

func BenchmarkEncode(b *testing.B) {
	cases := []struct {
		name string
		p    Packet
	}{
		{"event", Packet{Type: Event, Data: []any{"chat", "hello world", map[string]any{"user": "ann", "n": 42}}}},
		{"binary1KiB", Packet{Type: Event, Data: []any{"blob", make([]byte, 1024)}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				if _, _, err := AppendEncode(buf[:0], &c.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name string
		p    Packet
	}{
		{"event", Packet{Type: Event, Namespace: "/chat", ID: 12, HasID: true, Data: []any{"chat", "hello world", map[string]any{"user": "ann", "n": 42}}}},
		{"binary1KiB", Packet{Type: Event, Data: []any{"blob", make([]byte, 1024)}}},
	}
	for _, c := range cases {
		text, atts, err := Encode(&c.p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			var d Decoder
			for b.Loop() {
				p, err := d.Text(text)
				for _, a := range atts {
					p, err = d.Binary(a)
				}
				if err != nil || p == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
