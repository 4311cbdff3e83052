// Package wsframe is the server side of the WebSocket framing (RFC 6455,
// no extensions): a Reader that reads the messages a client sends (masked
// frames, fragmented messages, control frames in between) and the
// handshake's accept key. Writing is simple enough for the engine to do
// itself (AppendHeader).
//
// A Reader keeps no buffer of its own between messages when asked to
// (Detach), so that an idle connection holds none; sizes announced by the
// peer are checked against the limit before anything is allocated for
// them.
package wsframe

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Opcodes.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xa
)

// Close status codes the server sends.
const (
	StatusNormal        = 1000
	StatusProtocolError = 1002
	StatusNoStatus      = 1005 // none in the close frame (never sent)
	StatusInvalidData   = 1007
	StatusTooBig        = 1009
)

// Errors returned by Reader.ReadMessage; test them with errors.Is. The
// connection must be closed after any error.
var (
	// ErrProtocol reports frames the protocol does not allow: reserved
	// bits or opcodes, an unmasked frame, a fragmented or long control
	// frame, a continuation out of place, a bad close payload. Answer it
	// with close status 1002.
	ErrProtocol = errors.New("wsframe: protocol error")
	// ErrTooBig reports a message longer than the limit, found
	// from the frame headers before the payload is read. Answer it with
	// close status 1009.
	ErrTooBig = errors.New("wsframe: message too big")
	// ErrInvalidUTF8 reports a text message that is not UTF-8 (RFC 6455
	// section 8.1). Answer it with close status 1007.
	ErrInvalidUTF8 = errors.New("wsframe: text message is not valid UTF-8")
)

// CloseError is the error ReadMessage returns when the client sent a close
// frame: Code is its status (StatusNoStatus when it had none).
type CloseError struct {
	Code uint16
}

func (e *CloseError) Error() string {
	return "wsframe: close frame received, status " + strconv.Itoa(int(e.Code))
}

// protocolError wraps ErrProtocol with what was wrong.
type protocolError string

func (e protocolError) Error() string        { return "wsframe: protocol error: " + string(e) }
func (e protocolError) Is(target error) bool { return target == ErrProtocol }

// maxControl is the longest payload of a control frame.
const maxControl = 125

// DefaultBufSize is the size of the buffer a Reader allocates when it has
// none attached.
const DefaultBufSize = 4096

// minBufSize is the least buffer a Reader works with: it holds any frame
// header (at most 14 bytes).
const minBufSize = 16

// maxGrow bounds how far ahead of the bytes received a message's buffer
// grows: a peer that announces a long frame and sends nothing costs at
// most this much.
const maxGrow = 64 << 10

// Reader reads the messages of one client connection from the source
// given to ReadMessage, through a buffer. It is small (32 bytes) and not
// safe for concurrent use.
type Reader struct {
	buf  []byte // buffered input is buf[r:w]
	r, w int32
}

// Controller handles the control frames that a Reader reads: ping and
// pong, with their unmasked payload, valid only during the call. An error
// it returns ends the read.
type Controller interface {
	Control(op byte, payload []byte) error
}

// Attached reports whether the Reader holds a buffer.
func (rd *Reader) Attached() bool { return rd.buf != nil }

// Buffered returns how many bytes read from the source wait in the buffer.
func (rd *Reader) Buffered() int { return int(rd.w - rd.r) }

// Attach gives the Reader buf (its length is ignored) as its buffer when
// it has none; the bytes in pre, if any, are buffered input, read before
// the source (pre may be longer than buf, which is then not used).
func (rd *Reader) Attach(buf, pre []byte) {
	if rd.buf != nil {
		return
	}
	buf = buf[:cap(buf)]
	if len(buf) < minBufSize {
		buf = make([]byte, DefaultBufSize)
	}
	if len(pre) > len(buf) {
		buf = make([]byte, len(pre)+DefaultBufSize)
	}
	rd.buf = buf
	rd.r, rd.w = 0, int32(copy(buf, pre))
}

// Detach takes the Reader's buffer back when nothing is buffered in it,
// and returns it; it returns nil, keeping the buffer, when input waits
// in it or it has none.
func (rd *Reader) Detach() []byte {
	if rd.r != rd.w || rd.buf == nil {
		return nil
	}
	b := rd.buf
	rd.buf, rd.r, rd.w = nil, 0, 0
	return b[:0]
}

// Fill reads at least one byte from src into the buffer (allocating one
// when none is attached), keeping what is buffered; it returns src's
// error when nothing came.
func (rd *Reader) Fill(src io.Reader) error { return rd.fill(src, false) }

// fill reads more input into the buffer, keeping the unread bytes; it
// returns io.ErrUnexpectedEOF for an EOF after part of a frame when
// partial is true.
func (rd *Reader) fill(src io.Reader, partial bool) error {
	if rd.buf == nil {
		rd.buf = make([]byte, DefaultBufSize)
	}
	if rd.r > 0 {
		rd.w = int32(copy(rd.buf, rd.buf[rd.r:rd.w]))
		rd.r = 0
	}
	for range 100 {
		n, err := src.Read(rd.buf[rd.w:])
		rd.w += int32(n)
		if n > 0 {
			return nil
		}
		if err != nil {
			if err == io.EOF && (partial || rd.w > rd.r) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return io.ErrNoProgress
}

// header is a frame header.
type header struct {
	fin    bool
	op     byte
	length int64
	key    [4]byte
}

// readHeader reads the next frame header.
func (rd *Reader) readHeader(src io.Reader) (header, error) {
	var h header
	for rd.w-rd.r < 2 {
		if err := rd.fill(src, false); err != nil {
			return h, err
		}
	}
	b0, b1 := rd.buf[rd.r], rd.buf[rd.r+1]
	if b0&0x70 != 0 {
		return h, protocolError("reserved bits set")
	}
	if b1&0x80 == 0 {
		return h, protocolError("unmasked frame from the client")
	}
	need := int32(2 + 4)
	switch b1 & 0x7f {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	for rd.w-rd.r < need {
		if err := rd.fill(src, true); err != nil {
			return h, err
		}
	}
	p := rd.buf[rd.r+2 : rd.r+need]
	switch n := b1 & 0x7f; n {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(p))
		p = p[2:]
	case 127:
		v := binary.BigEndian.Uint64(p)
		if v>>63 != 0 {
			return h, protocolError("frame length over 2^63")
		}
		h.length = int64(v)
		p = p[8:]
	default:
		h.length = int64(n)
	}
	copy(h.key[:], p)
	h.fin = b0&0x80 != 0
	h.op = b0 & 0x0f
	rd.r += need
	return h, nil
}

// ReadMessage reads the next message from src, appending its payload to
// dst, and returns its opcode (OpText or OpBinary) and dst. Control frames
// that come before the message ends are handed to control (when not nil);
// a close frame ends the read with a *CloseError.
//
// The message's length (all its frames) is checked against limit (none
// when 0 or less) from each frame header,
// before its payload is read; memory for a payload grows with the bytes
// received. A text message that is not UTF-8 is ErrInvalidUTF8.
func (rd *Reader) ReadMessage(src io.Reader, limit int64, dst []byte, control Controller) (byte, []byte, error) {
	start := len(dst)
	var op byte // of the message, once its first frame came
	for {
		h, err := rd.readHeader(src)
		if err != nil {
			return 0, dst, err
		}
		switch h.op {
		case OpClose, OpPing, OpPong:
			if !h.fin {
				return 0, dst, protocolError("fragmented control frame")
			}
			if h.length > maxControl {
				return 0, dst, protocolError("control frame too long")
			}
			var cb [maxControl]byte
			p, err := rd.readPayload(src, cb[:0], int(h.length), h.key)
			if err != nil {
				return 0, dst, err
			}
			if h.op == OpClose {
				return 0, dst, parseClose(p)
			}
			if control != nil {
				if err := control.Control(h.op, p); err != nil {
					return 0, dst, err
				}
			}
			continue
		case OpText, OpBinary:
			if op != 0 {
				return 0, dst, protocolError("new message before the last one ended")
			}
			op = h.op
		case OpContinuation:
			if op == 0 {
				return 0, dst, protocolError("continuation frame without a message")
			}
		default:
			return 0, dst, protocolError("reserved opcode " + strconv.Itoa(int(h.op)))
		}
		if limit > 0 && h.length > limit-int64(len(dst)-start) {
			return 0, dst, ErrTooBig
		}
		if h.length > int64(^uint(0)>>1)-int64(len(dst)) {
			return 0, dst, ErrTooBig // cannot be held in memory
		}
		dst, err = rd.readPayload(src, dst, int(h.length), h.key)
		if err != nil {
			return 0, dst, err
		}
		if h.fin {
			if op == OpText && !utf8.Valid(dst[start:]) {
				return 0, dst, ErrInvalidUTF8
			}
			return op, dst, nil
		}
	}
}

// readPayload appends a frame's n payload bytes, unmasked, to dst.
func (rd *Reader) readPayload(src io.Reader, dst []byte, n int, key [4]byte) ([]byte, error) {
	pos := 0
	for n > 0 {
		if rd.r == rd.w {
			if rd.buf != nil && n >= len(rd.buf) {
				// Large: read straight into dst.
				if cap(dst)-len(dst) == 0 {
					dst = slices.Grow(dst, min(n, maxGrow))
				}
				m := min(n, cap(dst)-len(dst))
				k, err := src.Read(dst[len(dst) : len(dst)+m])
				if k > 0 {
					Mask(key, pos, dst[len(dst):len(dst)+k])
					dst = dst[:len(dst)+k]
					pos += k
					n -= k
					continue
				}
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				if err == nil {
					err = io.ErrNoProgress
				}
				return dst, err
			}
			if err := rd.fill(src, true); err != nil {
				return dst, err
			}
		}
		c := min(n, int(rd.w-rd.r))
		if cap(dst)-len(dst) < c {
			dst = slices.Grow(dst, max(c, min(n, maxGrow)))
		}
		l := len(dst)
		dst = append(dst, rd.buf[rd.r:int(rd.r)+c]...)
		Mask(key, pos, dst[l:])
		rd.r += int32(c)
		pos += c
		n -= c
	}
	return dst, nil
}

// parseClose returns the *CloseError of a close frame's payload, or
// ErrProtocol when the payload is malformed.
func parseClose(p []byte) error {
	switch {
	case len(p) == 0:
		return &CloseError{Code: StatusNoStatus}
	case len(p) == 1:
		return protocolError("close payload of one byte")
	}
	code := binary.BigEndian.Uint16(p)
	if !validCloseCode(code) {
		return protocolError("invalid close status " + strconv.Itoa(int(code)))
	}
	if !utf8.Valid(p[2:]) {
		return protocolError("close reason not UTF-8")
	}
	return &CloseError{Code: code}
}

// validCloseCode reports whether a peer may send code (RFC 6455 7.4).
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1014:
		return code != 1004 && code != 1005 && code != 1006
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// Mask applies the masking key, as if the first byte of b were at offset
// pos of the frame's payload.
func Mask(key [4]byte, pos int, b []byte) {
	var k [4]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	if len(b) >= 8 {
		k32 := binary.LittleEndian.Uint32(k[:])
		k64 := uint64(k32) | uint64(k32)<<32
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= k[i&3]
	}
}

// AppendHeader appends the header of an unmasked, final frame carrying n
// payload bytes.
func AppendHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xffff:
		return append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(n))
	}
}

// AppendClose appends a close frame with status code (none for
// StatusNoStatus).
func AppendClose(dst []byte, code uint16) []byte {
	if code == StatusNoStatus {
		return AppendHeader(dst, OpClose, 0)
	}
	dst = AppendHeader(dst, OpClose, 2)
	return binary.BigEndian.AppendUint16(dst, code)
}

// acceptGUID is the key suffix of RFC 6455 section 1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a client's
// Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// ValidKey reports whether key is a valid Sec-WebSocket-Key: the base64
// form of 16 bytes.
func ValidKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}
