package engineio

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard/switchboard/engineio/internal/packet"
)

// FuzzClientPayload feeds an arbitrary handshake and poll payload to the
// client's packet handling: a clear error or packets in order, never a
// panic; every message delivered is one the payload carried.
func FuzzClientPayload(f *testing.F) {
	for _, seed := range []string{
		"0{\"sid\":\"a\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}\x1e4hello\x1ebAAEC\x1e2\x1e6",
		"0{\"sid\":\"\"}",
		"0{\"sid\":\"a\",\"pingInterval\":-1,\"pingTimeout\":1}",
		"0[]\x1e1",
		"0{\"sid\":\"a\",\"pingInterval\":1,\"pingTimeout\":1}\x1e5\x1e0",
		"4x\x1e\x1e4y",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 || len(data) > clientRecvBuffer {
			return
		}
		d, _ := (*DialConfig)(nil).withDefaults()
		d.ReadLimit = 1 << 20
		c := &ClientConn{cfg: d, in: newInbox(d.ReadLimit), wake: make(chan struct{}, 1)}
		c.ctx, c.cancel = context.WithCancelCause(context.Background())
		defer c.cancel(nil)
		first := true
		want := 0
		err := packet.DecodePayload(data, func(p packet.Packet) error {
			if first {
				first = false
				return c.parseHandshake(p)
			}
			if p.Type == packet.Message {
				want++
			}
			if !c.onPacket(p) {
				return errStopPoll
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopPoll) {
			return
		}
		if !first && c.sid == "" {
			t.Fatal("handshake accepted without sid")
		}
		got, _ := c.in.held()
		if c.Err() == nil && got != want {
			t.Fatalf("%d messages delivered, %d sent", got, want)
		}
	})
}
