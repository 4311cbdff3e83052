// Package parser is the Socket.IO protocol 5 packet codec: the text header
// (type, attachment count, namespace, ack id), the JSON payload, and binary
// attachments replaced by {"_placeholder":true,"num":N} placeholders.
//
// It is shared by the server and the client of package socketio. It starts
// no goroutines, uses no clocks and does no I/O: Encode turns a Packet into
// one text message and zero or more binary messages; a Decoder turns the
// messages back into Packets, reassembling binary attachments.
//
// Spec: https://github.com/socketio/socket.io-protocol (version 5).
package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Type is a Socket.IO packet type.
type Type byte

// Packet types of protocol 5.
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

var typeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String returns the protocol's name of t.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// DefaultMaxAttachments bounds the attachments of one decoded packet when
// Decoder.MaxAttachments is zero.
const DefaultMaxAttachments = 64

// DefaultMaxAttachmentBytes bounds the total size of one packet's
// attachments when Decoder.MaxAttachmentBytes is zero.
const DefaultMaxAttachmentBytes = 8 << 20

// maxID is the largest ack id accepted: JavaScript's Number.MAX_SAFE_INTEGER.
const maxID = 1<<53 - 1

// Errors returned by Decode; test with errors.Is.
var (
	// ErrInvalidPacket reports a packet that does not follow protocol 5.
	ErrInvalidPacket = errors.New("socketio: invalid packet")
	// ErrTooManyAttachments reports a packet announcing more binary
	// attachments than the decoder accepts.
	ErrTooManyAttachments = errors.New("socketio: too many attachments")
	// ErrAttachmentsTooLarge reports attachments whose total size exceeds
	// the decoder's limit.
	ErrAttachmentsTooLarge = errors.New("socketio: attachments too large")
	// ErrUnexpectedBinary reports a binary message when no packet awaits
	// attachments.
	ErrUnexpectedBinary = errors.New("socketio: unexpected binary message")
	// ErrUnexpectedText reports a text message while a packet still awaits
	// its attachments.
	ErrUnexpectedText = errors.New("socketio: text message while awaiting attachments")
)

// Reserved event names a client may not emit (socket.io-parser 4.2).
var reserved = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

// Packet is one Socket.IO packet.
//
// Data is the payload: nil when absent (DISCONNECT); for EVENT and ACK a
// []any (the event name first, for EVENT), for CONNECT an object, for
// CONNECT_ERROR an object or a string. Decoded JSON follows encoding/json
// (float64, string, bool, nil, []any, map[string]any); decoded binary
// attachments are []byte. When encoding, []byte values found in Data, in
// nested []any and map[string]any, become attachments; other values are
// marshalled with encoding/json (json.RawMessage passes through).
type Packet struct {
	Type      Type
	Namespace string // "" or "/" is the main namespace
	ID        uint64 // ack id, valid when HasID
	HasID     bool
	Data      any
}

func (p *Packet) nsp() string {
	if p.Namespace == "" {
		return "/"
	}
	return p.Namespace
}

// Encode returns the text message of p followed by its binary attachments.
// EVENT and ACK packets carrying []byte are sent as BINARY_EVENT and
// BINARY_ACK.
func Encode(p *Packet) (text []byte, attachments [][]byte, err error) {
	return AppendEncode(nil, p)
}

// AppendEncode is Encode appending the text message to dst.
func AppendEncode(dst []byte, p *Packet) (text []byte, attachments [][]byte, err error) {
	if p.Type > BinaryAck {
		return dst, nil, fmt.Errorf("%w: type %d", ErrInvalidPacket, p.Type)
	}
	data := p.Data
	typ := p.Type
	if data != nil && hasBinary(data, 0) {
		data = deconstruct(data, &attachments, 0)
		switch typ {
		case Event:
			typ = BinaryEvent
		case Ack:
			typ = BinaryAck
		}
	} else if typ == BinaryEvent || typ == BinaryAck {
		typ -= BinaryEvent - Event // no attachments: plain EVENT / ACK
	}
	dst = append(dst, '0'+byte(typ))
	if typ == BinaryEvent || typ == BinaryAck {
		dst = strconv.AppendInt(dst, int64(len(attachments)), 10)
		dst = append(dst, '-')
	}
	if ns := p.nsp(); ns != "/" {
		dst = append(dst, ns...)
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendUint(dst, p.ID, 10)
	}
	if data != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(data); err != nil {
			return dst, nil, fmt.Errorf("socketio: encode %s payload: %w", p.Type, err)
		}
		b := buf.Bytes()
		dst = append(dst, b[:len(b)-1]...) // drop the Encoder's newline
	}
	return dst, attachments, nil
}

// maxDepth bounds the recursion of the binary walk, as encoding/json does.
const maxDepth = 10000

func hasBinary(v any, depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch x := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range x {
			if hasBinary(e, depth+1) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasBinary(e, depth+1) {
				return true
			}
		}
	}
	return false
}

type placeholder struct {
	Placeholder bool `json:"_placeholder"`
	Num         int  `json:"num"`
}

// deconstruct returns a copy of v with every []byte replaced by a
// placeholder, appending the bytes to atts. Containers are copied, never
// modified.
func deconstruct(v any, atts *[][]byte, depth int) any {
	if depth > maxDepth {
		return v
	}
	switch x := v.(type) {
	case []byte:
		*atts = append(*atts, x)
		return placeholder{true, len(*atts) - 1}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deconstruct(e, atts, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deconstruct(e, atts, depth+1)
		}
		return out
	}
	return v
}

// Decoder turns messages into packets. It holds the state of a binary packet
// awaiting its attachments. The zero value is ready to use. A Decoder is not
// safe for concurrent use.
type Decoder struct {
	// MaxAttachments bounds the attachments of one packet; 0 means
	// DefaultMaxAttachments. A larger count is refused before anything is
	// allocated.
	MaxAttachments int
	// MaxAttachmentBytes bounds the total size of one packet's
	// attachments; 0 means DefaultMaxAttachmentBytes.
	MaxAttachmentBytes int

	pending *Packet
	want    int
	size    int
	atts    [][]byte
}

// Pending reports whether a packet awaits attachments.
func (d *Decoder) Pending() bool { return d.pending != nil }

// Reset drops a partly received packet.
func (d *Decoder) Reset() { d.pending, d.atts, d.want, d.size = nil, nil, 0, 0 }

// Text decodes a text message. It returns nil, nil when the packet announced
// binary attachments still to come (feed them to Binary). After an error the
// decoder is reset; the connection should be dropped.
func (d *Decoder) Text(msg []byte) (*Packet, error) {
	if d.pending != nil {
		d.Reset()
		return nil, ErrUnexpectedText
	}
	p, n, err := decodeText(msg, d.maxAttachments())
	if err != nil {
		return nil, err
	}
	if (p.Type == BinaryEvent || p.Type == BinaryAck) && n > 0 {
		d.pending, d.want, d.atts = p, n, make([][]byte, 0, n)
		return nil, nil
	}
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		if err := reconstruct(p, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Binary adds a binary attachment to the pending packet and returns the
// packet once its last attachment arrived, nil, nil before. The decoder keeps
// msg (no copy).
func (d *Decoder) Binary(msg []byte) (*Packet, error) {
	if d.pending == nil {
		return nil, ErrUnexpectedBinary
	}
	d.size += len(msg)
	if d.size > d.maxAttachmentBytes() {
		d.Reset()
		return nil, ErrAttachmentsTooLarge
	}
	d.atts = append(d.atts, msg)
	if len(d.atts) < d.want {
		return nil, nil
	}
	p, atts := d.pending, d.atts
	d.Reset()
	if err := reconstruct(p, atts); err != nil {
		return nil, err
	}
	return p, nil
}

func (d *Decoder) maxAttachmentBytes() int {
	if d.MaxAttachmentBytes > 0 {
		return d.MaxAttachmentBytes
	}
	return DefaultMaxAttachmentBytes
}

func (d *Decoder) maxAttachments() int {
	if d.MaxAttachments > 0 {
		return d.MaxAttachments
	}
	return DefaultMaxAttachments
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidPacket}, a...)...)
}

// decodeText parses the header and JSON payload of msg; n is the number of
// announced attachments.
func decodeText(msg []byte, maxAtt int) (p *Packet, n int, err error) {
	if len(msg) == 0 {
		return nil, 0, invalid("empty message")
	}
	if msg[0] < '0' || msg[0] > '6' {
		return nil, 0, invalid("unknown type %q", msg[0])
	}
	p = &Packet{Type: Type(msg[0] - '0'), Namespace: "/"}
	i := 1
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		start := i
		for i < len(msg) && msg[i] >= '0' && msg[i] <= '9' {
			n = n*10 + int(msg[i]-'0')
			if n > maxAtt {
				return nil, 0, fmt.Errorf("%w: more than %d", ErrTooManyAttachments, maxAtt)
			}
			i++
		}
		if i == start || i >= len(msg) || msg[i] != '-' {
			return nil, 0, invalid("bad attachment count")
		}
		i++
	}
	if i < len(msg) && msg[i] == '/' {
		start := i
		for i < len(msg) && msg[i] != ',' {
			i++
		}
		p.Namespace = string(msg[start:i])
		if i < len(msg) {
			i++ // the comma
		}
	}
	if i < len(msg) && msg[i] >= '0' && msg[i] <= '9' {
		var id uint64
		for i < len(msg) && msg[i] >= '0' && msg[i] <= '9' {
			id = id*10 + uint64(msg[i]-'0')
			if id > maxID {
				return nil, 0, invalid("ack id too large")
			}
			i++
		}
		p.ID, p.HasID = id, true
	}
	payload := msg[i:]
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &p.Data); err != nil {
			return nil, 0, invalid("payload: %v", err)
		}
	}
	if err := validate(p); err != nil {
		return nil, 0, err
	}
	return p, n, nil
}

// validate checks the payload kind per type, as socket.io-parser's
// isPayloadValid does.
func validate(p *Packet) error {
	switch p.Type {
	case Connect:
		if p.Data == nil {
			return nil
		}
		if _, ok := p.Data.(map[string]any); !ok {
			return invalid("CONNECT payload is not an object")
		}
	case Disconnect:
		if p.Data != nil {
			return invalid("DISCONNECT with a payload")
		}
	case ConnectError:
		switch p.Data.(type) {
		case map[string]any, string:
		default:
			return invalid("CONNECT_ERROR payload is not an object or string")
		}
	case Event, BinaryEvent:
		a, ok := p.Data.([]any)
		if !ok || len(a) == 0 {
			return invalid("EVENT payload is not a non-empty array")
		}
		switch name := a[0].(type) {
		case float64:
		case string:
			if reserved[name] {
				return invalid("reserved event name %q", name)
			}
		default:
			return invalid("EVENT name is not a string")
		}
	case Ack, BinaryAck:
		if _, ok := p.Data.([]any); !ok {
			return invalid("ACK payload is not an array")
		}
		if !p.HasID {
			return invalid("ACK without id")
		}
	}
	return nil
}

// reconstruct replaces the placeholders of p.Data by atts. With no
// attachments, placeholders are an error too.
func reconstruct(p *Packet, atts [][]byte) error {
	v, err := fill(p.Data, atts, 0)
	if err != nil {
		return err
	}
	p.Data = v
	return nil
}

func fill(v any, atts [][]byte, depth int) (any, error) {
	if depth > maxDepth {
		return nil, invalid("too deeply nested")
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			r, err := fill(e, atts, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	case map[string]any:
		if ph, ok := x["_placeholder"].(bool); ok && ph {
			num, ok := x["num"].(float64)
			if !ok || num < 0 || num >= float64(len(atts)) || num != float64(int(num)) {
				return nil, invalid("illegal attachment placeholder")
			}
			return atts[int(num)], nil
		}
		for k, e := range x {
			r, err := fill(e, atts, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	}
	return v, nil
}
