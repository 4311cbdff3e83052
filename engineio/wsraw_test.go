package engineio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/engineio/internal/wsframe"
)

// rawWS is a hand-driven WebSocket client, to send what a well-behaved
// client library never would.
type rawWS struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

const rfcKey = "dGhlIHNhbXBsZSBub25jZQ=="

// rawDial sends the handshake request with the given header lines
// (CRLF-terminated) and then extra, in one write, and returns the
// response.
func (e *env) rawDial(t *testing.T, headers, extra string) (*rawWS, *http.Response) {
	t.Helper()
	addr := strings.TrimPrefix(e.ts.URL, "http://")
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(testTimeout))
	req := "GET " + e.srv.cfg.Path + "?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr + "\r\n" + headers + "\r\n" + extra
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	w := &rawWS{t: t, c: c, br: bufio.NewReader(c)}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w, resp
}

const goodHeaders = "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " + rfcKey + "\r\nSec-WebSocket-Version: 13\r\n"

// frame returns a masked client frame.
func frame(fin bool, op byte, payload string) string {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{1, 2, 3, 4}
	b = append(b, key[:]...)
	l := len(b)
	b = append(b, payload...)
	wsframe.Mask(key, 0, b[l:])
	return string(b)
}

func (w *rawWS) send(s string) {
	w.t.Helper()
	if _, err := io.WriteString(w.c, s); err != nil {
		w.t.Fatal(err)
	}
}

// next reads one (unmasked, unfragmented) server frame.
func (w *rawWS) next() (op byte, payload string, err error) {
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return 0, "", err
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		w.t.Fatalf("server frame header %x: want final and unmasked", h)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(w.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(w.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	if err != nil {
		return 0, "", err
	}
	p := make([]byte, n)
	_, err = io.ReadFull(w.br, p)
	return h[0] & 0x0f, string(p), err
}

// expect reads the next frame and checks it.
func (w *rawWS) expect(op byte, payload string) {
	w.t.Helper()
	gotOp, got, err := w.next()
	if err != nil || gotOp != op || got != payload {
		w.t.Fatalf("want frame op %d %q, got op %d %q, %v", op, payload, gotOp, got, err)
	}
}

// expectClose reads frames up to a close frame and checks its status.
func (w *rawWS) expectClose(code uint16) {
	w.t.Helper()
	for range 10 {
		op, p, err := w.next()
		if err != nil {
			w.t.Fatalf("want close %d, got %v", code, err)
		}
		if op != wsframe.OpClose {
			continue
		}
		if code == wsframe.StatusNoStatus {
			if p != "" {
				w.t.Fatalf("want empty close frame, got %x", p)
			}
			return
		}
		if len(p) < 2 || binary.BigEndian.Uint16([]byte(p)) != code {
			w.t.Fatalf("want close %d, got %x", code, p)
		}
		return
	}
	w.t.Fatal("no close frame")
}

func TestWebSocketHandshake(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	t.Run("ok", func(t *testing.T) {
		w, resp := e.rawDial(t, goodHeaders, "")
		if resp.StatusCode != http.StatusSwitchingProtocols ||
			resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ||
			!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
			!strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
			t.Fatalf("response: %d %v", resp.StatusCode, resp.Header)
		}
		if resp.Header.Get("Sec-WebSocket-Protocol") != "" || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
			t.Errorf("no subprotocol nor extension expected: %v", resp.Header)
		}
		op, open, err := w.next()
		if err != nil || op != wsframe.OpText || !strings.HasPrefix(open, `0{"sid":`) {
			t.Fatalf("open: %d %q %v", op, open, err)
		}
	})
	for _, tc := range []struct {
		name, headers string
		status        int
	}{
		{"no connection upgrade", "Upgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Key: " + rfcKey + "\r\nSec-WebSocket-Version: 13\r\n", http.StatusUpgradeRequired},
		{"version 8", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + rfcKey + "\r\nSec-WebSocket-Version: 8\r\n", http.StatusBadRequest},
		{"no key", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n", http.StatusBadRequest},
		{"short key", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhl\r\nSec-WebSocket-Version: 13\r\n", http.StatusBadRequest},
		{"two keys", goodHeaders + "Sec-WebSocket-Key: " + rfcKey + "\r\n", http.StatusBadRequest},
		{"upgrade list", "Upgrade: websocket, foo/1\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + rfcKey + "\r\nSec-WebSocket-Version: 13\r\n", http.StatusSwitchingProtocols},
		{"two upgrade lines", "Upgrade: foo/1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + rfcKey + "\r\nSec-WebSocket-Version: 13\r\n", http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := e.rawDial(t, tc.headers, "")
			if resp.StatusCode != tc.status {
				t.Fatalf("want %d, got %d", tc.status, resp.StatusCode)
			}
			if tc.name == "version 8" && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Errorf("Sec-WebSocket-Version: %q", resp.Header.Get("Sec-WebSocket-Version"))
			}
		})
	}
	if n := e.srv.Count(); n > 3 {
		t.Errorf("refused handshakes opened sockets: %d open, want the 3 accepted", n)
	}
}

// TestWebSocketFrames: the server side of RFC 6455 as the engine uses
// it: input sent along with the handshake, fragmented messages with
// control frames in between, ping answered with pong, the close
// handshake, and the close statuses of protocol errors and oversized
// messages.
func TestWebSocketFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, &Config{MaxPayload: 1000}, nil)
	var sid string // of the last socket opened
	open := func(t *testing.T, extra string) *rawWS {
		w, resp := e.rawDial(t, goodHeaders, extra)
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("status %d", resp.StatusCode)
		}
		op, p, err := w.next()
		if err != nil || op != wsframe.OpText {
			t.Fatalf("open: %v", err)
		}
		sid = parseOpen(t, p).SID
		return w
	}
	t.Run("with the handshake", func(t *testing.T) {
		w := open(t, frame(true, wsframe.OpText, "4early")+frame(true, wsframe.OpText, "4second"))
		w.expect(wsframe.OpText, "4early")
		w.expect(wsframe.OpText, "4second")
	})
	t.Run("fragmented", func(t *testing.T) {
		w := open(t, "")
		w.send(frame(false, wsframe.OpText, "4fr") + frame(true, wsframe.OpPing, "hi") +
			frame(false, wsframe.OpContinuation, "ag") + frame(true, wsframe.OpContinuation, "ment"))
		w.expect(wsframe.OpPong, "hi")
		w.expect(wsframe.OpText, "4fragment")
		w.send(frame(false, wsframe.OpBinary, "\x01") + frame(true, wsframe.OpContinuation, "\x02"))
		w.expect(wsframe.OpBinary, "\x01\x02")
	})
	t.Run("large", func(t *testing.T) {
		w := open(t, "")
		m := "4" + strings.Repeat("z", 999)
		w.send(frame(true, wsframe.OpText, m))
		w.expect(wsframe.OpText, m)
	})
	for _, tc := range []struct {
		name   string
		in     string
		status uint16
		reason string
		err    error
	}{
		{"close", frame(true, wsframe.OpClose, "\x03\xe8bye"), wsframe.StatusNormal, ReasonTransportClose, nil},
		{"close going away", frame(true, wsframe.OpClose, "\x03\xe9"), 1001, ReasonTransportClose, nil},
		{"close without status", frame(true, wsframe.OpClose, ""), wsframe.StatusNoStatus, ReasonTransportClose, nil},
		{"unmasked", "\x81\x024x", wsframe.StatusProtocolError, ReasonTransportError, wsframe.ErrProtocol},
		{"reserved opcode", frame(true, 0x3, "4x"), wsframe.StatusProtocolError, ReasonTransportError, wsframe.ErrProtocol},
		{"lone continuation", frame(true, wsframe.OpContinuation, "4x"), wsframe.StatusProtocolError, ReasonTransportError, wsframe.ErrProtocol},
		{"bad close status", frame(true, wsframe.OpClose, "\x00\x01"), wsframe.StatusProtocolError, ReasonTransportError, wsframe.ErrProtocol},
		{"text not UTF-8", frame(true, wsframe.OpText, "4\xff\xfe"), wsframe.StatusInvalidData, ReasonTransportError, wsframe.ErrInvalidUTF8},
		{"text not UTF-8 across fragments", frame(false, wsframe.OpText, "4\xe2\x82") + frame(true, wsframe.OpContinuation, "x"),
			wsframe.StatusInvalidData, ReasonTransportError, wsframe.ErrInvalidUTF8},
		{"too big", frame(true, wsframe.OpText, "4"+strings.Repeat("z", 1000)), wsframe.StatusTooBig, ReasonTransportError, ErrPayloadTooLarge},
		{"too big fragmented", frame(false, wsframe.OpText, "4"+strings.Repeat("z", 600)) + frame(true, wsframe.OpContinuation, strings.Repeat("z", 600)),
			wsframe.StatusTooBig, ReasonTransportError, ErrPayloadTooLarge},
		// Refused from the frame header, the payload never sent.
		{"too big announced", "\x81\xff\x00\x00\x00\x01\x00\x00\x00\x00\x01\x02\x03\x04", wsframe.StatusTooBig, ReasonTransportError, ErrPayloadTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := open(t, "")
			w.send(tc.in)
			w.expectClose(tc.status)
			ev := recv(t, e.closes, "close")
			for ev.sid != sid { // of an earlier subtest's socket
				ev = recv(t, e.closes, "close")
			}
			if ev.reason != tc.reason || !errors.Is(ev.err, tc.err) || (tc.err == nil && ev.err != nil) {
				t.Errorf("want %q %v, got %q %v", tc.reason, tc.err, ev.reason, ev.err)
			}
			if _, _, err := w.next(); err == nil {
				t.Error("the server must close the connection after its close frame")
			}
		})
	}
}

// TestWebSocketHandlerSends: what a handler sends on its own socket goes
// out when it returns, in order and in one write with the rest; a handler
// that sends more than its queue holds still gets them all out, because a
// flusher starts once a few are waiting.
func TestWebSocketHandlerSends(t *testing.T) {
	t.Parallel()
	const n = 50
	e := newEnv(t, &Config{MaxQueuedPackets: 8}, func(s *Socket) {
		s.OnMessage(func(m Message) {
			count := 1
			if string(m.Data) == "burst" {
				count = n
			}
			for i := range count {
				msg := Message{Data: []byte(fmt.Sprintf("%s %d", m.Data, i))}
				for try := 0; ; try++ {
					err := s.Send(msg)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrQueueFull) || try == 2000 {
						t.Errorf("send %d: %v", i, err)
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
		})
	})
	w, resp := e.rawDial(t, goodHeaders, "")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatal(resp.StatusCode)
	}
	if _, _, err := w.next(); err != nil { // open
		t.Fatal(err)
	}
	for i := range 3 {
		w.send(frame(true, wsframe.OpText, fmt.Sprintf("4echo%d", i)))
		w.expect(wsframe.OpText, fmt.Sprintf("4echo%d 0", i))
	}
	w.send(frame(true, wsframe.OpText, "4burst"))
	for i := range n {
		w.expect(wsframe.OpText, fmt.Sprintf("4burst %d", i))
	}
}
