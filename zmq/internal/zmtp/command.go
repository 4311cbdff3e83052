package zmtp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Command names defined by ZMTP 3.0 and 3.1.
const (
	CmdReady     = "READY"
	CmdError     = "ERROR"
	CmdSubscribe = "SUBSCRIBE"
	CmdCancel    = "CANCEL"
	CmdPing      = "PING"
	CmdPong      = "PONG"
)

// MaxPingContext is the largest PING context a peer may send.
const MaxPingContext = 16

// Errors returned by the command decoders. They can be tested with errors.Is.
var (
	// ErrCommand reports a malformed command body.
	ErrCommand = errors.New("zmtp: malformed command")
	// ErrMetadata reports malformed READY metadata.
	ErrMetadata = errors.New("zmtp: malformed metadata")
)

// Command is a decoded command frame body. Name aliases nothing; Data
// aliases the decoded buffer.
type Command struct {
	Name string
	Data []byte
}

// AppendCommand appends a whole command frame (header and body) to b.
func AppendCommand(b []byte, name string, data []byte) []byte {
	size := 1 + len(name) + len(data)
	b = AppendFrameHeader(b, FlagCommand, size)
	b = append(b, byte(len(name)))
	b = append(b, name...)
	return append(b, data...)
}

// CommandSize returns the body size of a command frame.
func CommandSize(name string, data []byte) int { return 1 + len(name) + len(data) }

// ParseCommand decodes a command frame body.
func ParseCommand(body []byte) (Command, error) {
	if len(body) == 0 {
		return Command{}, fmt.Errorf("%w: empty", ErrCommand)
	}
	n := int(body[0])
	if n == 0 || 1+n > len(body) {
		return Command{}, fmt.Errorf("%w: name length %d", ErrCommand, n)
	}
	return Command{Name: commandName(body[1 : 1+n]), Data: body[1+n:]}, nil
}

// commandName interns the well-known names so decoding them allocates
// nothing.
func commandName(b []byte) string {
	for _, s := range [...]string{CmdPing, CmdPong, CmdSubscribe, CmdCancel, CmdReady, CmdError} {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}

// Property is one READY metadata entry. Names are case-insensitive on the
// wire's meaning but kept as sent.
type Property struct {
	Name  string
	Value []byte
}

// Metadata is the list of properties carried by READY (and by the
// handshake commands of PLAIN and CURVE).
type Metadata []Property

// Get returns the value of the first property named name (ASCII
// case-insensitive) and whether it exists.
func (m Metadata) Get(name string) ([]byte, bool) {
	for _, p := range m {
		if equalFold(p.Name, name) {
			return p.Value, true
		}
	}
	return nil, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// AppendMetadata appends the wire form of m: for each property a 1-byte
// name length, the name, a 4-byte big-endian value length and the value.
// Names must be 1 to 255 bytes.
func AppendMetadata(b []byte, m Metadata) []byte {
	for _, p := range m {
		b = append(b, byte(len(p.Name)))
		b = append(b, p.Name...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.Value)))
		b = append(b, p.Value...)
	}
	return b
}

// ParseMetadata decodes metadata. Values alias b. A truncated property is
// io.ErrUnexpectedEOF wrapped in ErrMetadata.
func ParseMetadata(b []byte) (Metadata, error) {
	var m Metadata
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 {
			return nil, fmt.Errorf("%w: empty property name", ErrMetadata)
		}
		if len(b) < 1+n+4 {
			return nil, fmt.Errorf("%w: %w", ErrMetadata, io.ErrUnexpectedEOF)
		}
		name := b[1 : 1+n]
		for _, c := range name {
			if !nameChar(c) {
				return nil, fmt.Errorf("%w: bad property name %q", ErrMetadata, name)
			}
		}
		vl := binary.BigEndian.Uint32(b[1+n:])
		b = b[1+n+4:]
		if uint64(vl) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: %w", ErrMetadata, io.ErrUnexpectedEOF)
		}
		m = append(m, Property{Name: string(name), Value: b[:vl:vl]})
		b = b[vl:]
	}
	return m, nil
}

// nameChar reports whether c may appear in a property name (RFC 37:
// alphanumerics and "-_.+").
func nameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '+'
}

// AppendReady appends a READY command frame carrying m.
func AppendReady(b []byte, m Metadata) []byte {
	size := 0
	for _, p := range m {
		size += 1 + len(p.Name) + 4 + len(p.Value)
	}
	b = AppendFrameHeader(b, FlagCommand, 1+len(CmdReady)+size)
	b = append(b, byte(len(CmdReady)))
	b = append(b, CmdReady...)
	return AppendMetadata(b, m)
}

// AppendError appends an ERROR command frame with the reason (truncated to
// 255 bytes).
func AppendError(b []byte, reason string) []byte {
	if len(reason) > 255 {
		reason = reason[:255]
	}
	b = AppendFrameHeader(b, FlagCommand, 1+len(CmdError)+1+len(reason))
	b = append(b, byte(len(CmdError)))
	b = append(b, CmdError...)
	b = append(b, byte(len(reason)))
	return append(b, reason...)
}

// ParseError decodes the body of an ERROR command into its reason.
func ParseError(data []byte) (string, error) {
	if len(data) == 0 || int(data[0]) != len(data)-1 {
		return "", fmt.Errorf("%w: ERROR reason length", ErrCommand)
	}
	return string(data[1:]), nil
}

// AppendPing appends a PING command frame: the TTL in tenths of a second
// (0 to 6553.5 s) and a context of at most MaxPingContext bytes.
func AppendPing(b []byte, ttlDeciseconds uint16, context []byte) []byte {
	if len(context) > MaxPingContext {
		context = context[:MaxPingContext]
	}
	b = AppendFrameHeader(b, FlagCommand, 1+len(CmdPing)+2+len(context))
	b = append(b, byte(len(CmdPing)))
	b = append(b, CmdPing...)
	b = binary.BigEndian.AppendUint16(b, ttlDeciseconds)
	return append(b, context...)
}

// ParsePing decodes the body of a PING command.
func ParsePing(data []byte) (ttlDeciseconds uint16, context []byte, err error) {
	if len(data) < 2 || len(data) > 2+MaxPingContext {
		return 0, nil, fmt.Errorf("%w: PING size %d", ErrCommand, len(data))
	}
	return binary.BigEndian.Uint16(data), data[2:], nil
}

// AppendPong appends a PONG command frame echoing context.
func AppendPong(b []byte, context []byte) []byte {
	if len(context) > MaxPingContext {
		context = context[:MaxPingContext]
	}
	return AppendCommand(b, CmdPong, context)
}

// AppendSubscribe appends a subscription for topic as the peer's minor
// version wants it: a SUBSCRIBE (or CANCEL) command for ZMTP 3.1 and
// later, or the ZMTP 3.0 data frame \x01topic (\x00topic to cancel).
func AppendSubscribe(b []byte, peerMinor byte, subscribe bool, topic []byte) []byte {
	if peerMinor >= 1 {
		name := CmdCancel
		if subscribe {
			name = CmdSubscribe
		}
		return AppendCommand(b, name, topic)
	}
	b = AppendFrameHeader(b, 0, 1+len(topic))
	if subscribe {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return append(b, topic...)
}
