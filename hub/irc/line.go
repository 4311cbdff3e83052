package irc

import (
	"errors"
	"fmt"
)

// MaxParams is the most parameters a line may carry (RFC 2812: 14
// middle parameters and a trailing one).
const MaxParams = 15

// Errors of Parse.
var (
	// ErrEmpty reports a line holding nothing but white space; servers
	// ignore such lines silently.
	ErrEmpty = errors.New("irc: empty line")
	// ErrMalformed reports a line that is not an IRC message.
	ErrMalformed = errors.New("irc: malformed line")
)

// Message is one IRC line: an optional prefix, a command (upper case for
// words, three digits for numerics) and its parameters, the last of which
// may contain spaces.
type Message struct {
	Prefix  string
	Command string
	Params  []string
}

// Param returns parameter i, or "" when there are fewer.
func (m *Message) Param(i int) string {
	if i < len(m.Params) {
		return m.Params[i]
	}
	return ""
}

// Parse parses one line, with or without its "\r\n" or "\n". Runs of
// spaces separate parameters; a parameter starting with ':' takes the
// rest of the line. Commands are letters (returned in upper case) or
// three digits. NUL, CR and LF inside the line are refused. Parse does not
// retain line.
func Parse(line []byte) (Message, error) {
	for n := len(line); n > 0 && (line[n-1] == '\n' || line[n-1] == '\r'); n = len(line) {
		line = line[:n-1]
	}
	for _, b := range line {
		if b == 0 || b == '\r' || b == '\n' {
			return Message{}, fmt.Errorf("%w: control character %#x", ErrMalformed, b)
		}
	}
	i := skipSpaces(line, 0)
	if i == len(line) {
		return Message{}, ErrEmpty
	}
	var m Message
	if line[i] == ':' {
		j := i + 1
		for j < len(line) && line[j] != ' ' {
			j++
		}
		if j == i+1 {
			return Message{}, fmt.Errorf("%w: empty prefix", ErrMalformed)
		}
		m.Prefix = string(line[i+1 : j])
		i = skipSpaces(line, j)
		if i == len(line) {
			return Message{}, fmt.Errorf("%w: prefix without command", ErrMalformed)
		}
	}
	j := i
	for j < len(line) && line[j] != ' ' {
		j++
	}
	cmd, err := command(line[i:j])
	if err != nil {
		return Message{}, err
	}
	m.Command = cmd
	for i = skipSpaces(line, j); i < len(line); i = skipSpaces(line, j) {
		if len(m.Params) == MaxParams {
			return Message{}, fmt.Errorf("%w: more than %d parameters", ErrMalformed, MaxParams)
		}
		if line[i] == ':' || len(m.Params) == MaxParams-1 {
			if line[i] == ':' {
				i++
			}
			m.Params = append(m.Params, string(line[i:]))
			break
		}
		j = i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		m.Params = append(m.Params, string(line[i:j]))
	}
	return m, nil
}

func skipSpaces(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}

// command checks and upper-cases a command word.
func command(w []byte) (string, error) {
	if len(w) == 3 && isDigit(w[0]) && isDigit(w[1]) && isDigit(w[2]) {
		return string(w), nil
	}
	if len(w) > 32 {
		return "", fmt.Errorf("%w: command longer than 32 bytes", ErrMalformed)
	}
	out := make([]byte, len(w))
	for i, b := range w {
		switch {
		case b >= 'A' && b <= 'Z':
			out[i] = b
		case b >= 'a' && b <= 'z':
			out[i] = b - 'a' + 'A'
		default:
			return "", fmt.Errorf("%w: bad command %q", ErrMalformed, w)
		}
	}
	return string(out), nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// Append appends m as a line ending in "\r\n" to b. The last parameter is
// written with ':' when there are several, or when it is empty, holds a
// space or starts with ':' (as servers write trailing text).
// Parameters must not hold CR, LF or NUL (callers split text first).
func (m *Message) Append(b []byte) []byte {
	if m.Prefix != "" {
		b = append(b, ':')
		b = append(b, m.Prefix...)
		b = append(b, ' ')
	}
	b = append(b, m.Command...)
	for i, p := range m.Params {
		b = append(b, ' ')
		if i == len(m.Params)-1 && (i > 0 || needsColon(p)) {
			b = append(b, ':')
		}
		b = append(b, p...)
	}
	return append(b, '\r', '\n')
}

// String returns m as a line without "\r\n".
func (m *Message) String() string {
	b := m.Append(nil)
	return string(b[:len(b)-2])
}

func needsColon(p string) bool {
	if p == "" || p[0] == ':' {
		return true
	}
	for i := 0; i < len(p); i++ {
		if p[i] == ' ' {
			return true
		}
	}
	return false
}
