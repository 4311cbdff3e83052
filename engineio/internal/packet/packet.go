// Package packet is the Engine.IO protocol 4 codec: single packets (one per
// WebSocket frame) and HTTP long-polling payloads (packets joined by the
// record separator 0x1e, binary packets base64-encoded behind a 'b').
//
// It starts no goroutines, uses no clock, and its only I/O is []byte and
// io.Reader, so every decoder is fuzzed. Decoded Data aliases the input
// unless the packet is a base64 binary one, which is decoded into a new
// slice.
//
// Spec: https://github.com/socketio/engine.io-protocol (protocol 4).
package packet

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// Type is an Engine.IO packet type.
type Type byte

// The Engine.IO packet types, in wire order ('0' to '6').
const (
	Open Type = iota
	Close
	Ping
	Pong
	Message
	Upgrade
	Noop
)

var typeNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String returns the protocol's name of t ("open", "message", ...).
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", byte(t))
}

// Separator joins the packets of an HTTP long-polling payload.
const Separator = 0x1e

// Errors returned by the decoders; test them with errors.Is.
var (
	// ErrEmpty reports a packet with no type byte.
	ErrEmpty = errors.New("engineio: empty packet")
	// ErrUnknownType reports a type byte outside '0'..'6' (and not 'b').
	ErrUnknownType = errors.New("engineio: unknown packet type")
	// ErrBase64 reports a 'b' packet whose body is not valid base64.
	ErrBase64 = errors.New("engineio: bad base64 in binary packet")
	// ErrTooLarge reports a payload over the configured maximum.
	ErrTooLarge = errors.New("engineio: payload too large")
)

// Packet is one Engine.IO packet. Binary is only meaningful for Message
// packets; a binary packet carries raw bytes in Data.
type Packet struct {
	Type   Type
	Binary bool
	// Alone, on a packet queued for sending, ends the WebSocket write
	// that carries it: what is queued after it goes out in a later write.
	// It is not part of the encoding.
	Alone bool
	Data  []byte
}

// Len returns the length of p's text form (AppendText) in bytes.
func (p Packet) Len() int {
	if p.Binary {
		return 1 + base64.StdEncoding.EncodedLen(len(p.Data))
	}
	return 1 + len(p.Data)
}

// AppendText appends p's text form to dst: the type digit then Data, or for
// a binary packet 'b' then Data in padded standard base64 (the form used in
// polling payloads).
func AppendText(dst []byte, p Packet) []byte {
	if p.Binary {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}

// Decode decodes one packet in text form: a WebSocket text frame or one
// record of a polling payload. Data aliases b, except for a 'b' (base64
// binary) packet whose Data is freshly allocated.
func Decode(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, ErrEmpty
	}
	c := b[0]
	if c == 'b' {
		data, err := decodeBase64(b[1:])
		if err != nil {
			return Packet{}, err
		}
		return Packet{Type: Message, Binary: true, Data: data}, nil
	}
	if c < '0' || c > '6' {
		return Packet{}, ErrUnknownType
	}
	return Packet{Type: Type(c - '0'), Data: b[1:len(b):len(b)]}, nil
}

// DecodeBinary returns the packet carried by a WebSocket binary frame: a
// binary message whose Data is b itself.
func DecodeBinary(b []byte) Packet {
	return Packet{Type: Message, Binary: true, Data: b}
}

func decodeBase64(s []byte) ([]byte, error) {
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	out := make([]byte, 0, enc.DecodedLen(len(s)))
	out, err := enc.AppendDecode(out, s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBase64, err)
	}
	return out, nil
}
