package packet

import (
	"bytes"
	"testing"
)

func BenchmarkAppendText(b *testing.B) {
	for _, size := range []int{16, 1024} {
		data := bytes.Repeat([]byte("x"), size)
		for _, bin := range []bool{false, true} {
			name := "text"
			if bin {
				name = "base64"
			}
			b.Run(name+"/"+itoa(size), func(b *testing.B) {
				p := Packet{Type: Message, Binary: bin, Data: data}
				buf := make([]byte, 0, 4096)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					buf = AppendText(buf[:0], p)
				}
			})
		}
	}
}

func BenchmarkDecodePayload(b *testing.B) {
	ps := make([]Packet, 16)
	for i := range ps {
		ps[i] = Packet{Type: Message, Data: bytes.Repeat([]byte("x"), 64)}
	}
	payload := AppendPayload(nil, ps)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		_ = DecodePayload(payload, func(Packet) error { n++; return nil })
	}
}

func BenchmarkDecodeBase64(b *testing.B) {
	payload := AppendText(nil, Packet{Type: Message, Binary: true, Data: bytes.Repeat([]byte{7}, 1024)})
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Decode(payload)
	}
}

func itoa(n int) string {
	if n >= 1024 {
		return string(rune('0'+n/1024)) + "KiB"
	}
	return string(rune('0'+n/10)) + string(rune('0'+n%10)) + "B"
}
