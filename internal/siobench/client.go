package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// conn is a lean Socket.IO-over-WebSocket client: raw TCP, the WebSocket
// framing written by hand (RFC 6455, client frames masked with a zero key,
// no extensions), so that the load client costs as little CPU as possible
// and the same for both servers.
type conn struct {
	c   net.Conn
	r   *bufio.Reader
	wmu sync.Mutex
	buf []byte // payload of the last message read

	ackID int // last acknowledgement id used by echo
}

var errProtocol = errors.New("siobench: unexpected WebSocket data")

// dial opens a WebSocket to the Socket.IO server at addr (host:port),
// reads the Engine.IO handshake and connects to the main namespace.
func dial(ctx context.Context, addr string) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	c := &conn{c: nc, r: bufio.NewReaderSize(nc, 4096)}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return nil, fmt.Errorf("siobench: handshake status %d", resp.StatusCode)
	}
	if m, err := c.next(); err != nil || len(m) == 0 || m[0] != '0' {
		nc.Close()
		return nil, fmt.Errorf("siobench: engine handshake %q: %v", m, err)
	}
	if err := c.write("40"); err != nil {
		nc.Close()
		return nil, err
	}
	if m, err := c.next(); err != nil || !bytes.HasPrefix(m, []byte("40")) {
		nc.Close()
		return nil, fmt.Errorf("siobench: connect %q: %v", m, err)
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

// write sends one text message.
func (c *conn) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := make([]byte, 0, 14+len(s))
	b = append(b, 0x81)
	switch n := len(s); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, 0, 0, 0, 0) // mask key 0: payload unchanged
	b = append(b, s...)
	_, err := c.c.Write(b)
	return err
}

// next returns the payload of the next data message; it answers the
// Engine.IO ping ("2") and WebSocket pings itself. The slice is valid until
// the next call.
func (c *conn) next() ([]byte, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return nil, err
		}
		if h[1]&0x80 != 0 || h[0]&0x80 == 0 {
			return nil, errProtocol // masked or fragmented server frame
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(c.r, e[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(c.r, e[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		if n > 1<<20 {
			return nil, errProtocol
		}
		if uint64(cap(c.buf)) < n {
			c.buf = make([]byte, n)
		}
		c.buf = c.buf[:n]
		if _, err := io.ReadFull(c.r, c.buf); err != nil {
			return nil, err
		}
		switch h[0] & 0x0f {
		case 1, 2:
			if n == 1 && c.buf[0] == '2' {
				if err := c.write("3"); err != nil {
					return nil, err
				}
				continue
			}
			return c.buf, nil
		case 8:
			return nil, io.EOF
		case 9:
			c.wmu.Lock()
			_, err := c.c.Write([]byte{0x8a, 0x80, 0, 0, 0, 0})
			c.wmu.Unlock()
			if err != nil {
				return nil, err
			}
		}
	}
}

// Close closes the TCP connection.
func (c *conn) Close() error { return c.c.Close() }
