package socketio

import (
	"bytes"
	"context"
	"testing"

	"github.com/switchboard/switchboard/socketio/internal/parser"
)

// FuzzClientPackets feeds arbitrary server messages (split on 0x1e; a
// message starting with 'b' is binary) through the client's decoder and
// packet handling: nothing may panic, whatever the server sends.
func FuzzClientPackets(f *testing.F) {
	for _, seed := range []string{
		"0{\"sid\":\"a\",\"pid\":\"p\"}\x1e2[\"e\",1,\"off\"]",
		"21[\"e\",{\"a\":[1,2]}]\x1e3[1]\x1e31[]",
		"4{\"message\":\"m\",\"data\":{\"code\":1}}\x1e4\"str\"",
		"1\x1e0/chat,{\"sid\":\"b\"}\x1e2/chat,[\"e\"]",
		"51-[\"e\",{\"_placeholder\":true,\"num\":0}]\x1ebxyz",
		"61-/chat,7[{\"_placeholder\":true,\"num\":0}]\x1eb\x00\x01",
		"2[1]\x1e2[null]\x1e3[\"x\"]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, _ := (*ClientConfig)(nil).withDefaults()
		m := &Manager{cfg: d, sockets: make(map[string]*ClientSocket)}
		m.ctx, m.cancel = context.WithCancel(context.Background())
		defer m.cancel()
		for _, nsp := range []string{"/", "/chat"} {
			s := m.Socket(nsp, nil)
			s.active = true
			s.pid = "p"
			s.On("e", func(args []any, ack AckFunc) {
				if ack != nil {
					ack(args...)
				}
			})
			s.OnAny(func(string, []any) {})
			// an ack awaited for ids 0 and 1
			for id := range uint64(2) {
				s.acks[id] = &clientAck{fn: func([]any, error) {}, sent: true}
			}
		}
		dec := parser.Decoder{MaxAttachments: 4, MaxAttachmentBytes: 1 << 10}
		for _, msg := range bytes.Split(data, []byte{0x1e}) {
			var p *parser.Packet
			var err error
			if len(msg) > 0 && msg[0] == 'b' {
				p, err = dec.Binary(msg[1:])
			} else {
				p, err = dec.Text(msg)
			}
			if err != nil {
				dec.Reset()
				continue
			}
			if p == nil {
				continue
			}
			if s := m.sockets[normNsp(p.Namespace)]; s != nil {
				s.onPacket(p)
			}
		}
	})
}
