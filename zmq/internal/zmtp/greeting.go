package zmtp

import (
	"errors"
	"fmt"
	"io"
)

// GreetingSize is the size in bytes of a ZMTP 3.x greeting.
const GreetingSize = 64

// SignatureSize is the size of the greeting's signature (0xFF, 8 padding
// bytes, 0x7F). A peer may read it before deciding how to go on.
const SignatureSize = 10

// Version of ZMTP this package speaks.
const (
	VersionMajor = 3
	VersionMinor = 1
)

// Errors returned by the greeting decoder. They can be tested with errors.Is.
var (
	// ErrSignature reports bytes that do not start a ZMTP greeting.
	ErrSignature = errors.New("zmtp: bad greeting signature")
	// ErrVersion reports a peer speaking ZMTP before 3.0.
	ErrVersion = errors.New("zmtp: unsupported protocol version")
	// ErrMechanismName reports a mechanism field that is not NUL-padded
	// printable ASCII.
	ErrMechanismName = errors.New("zmtp: bad mechanism name")
)

// Greeting is the decoded ZMTP greeting.
type Greeting struct {
	Major, Minor byte
	// Mechanism is the security mechanism's name, such as "NULL" (at most
	// 20 bytes).
	Mechanism string
	// AsServer is the as-server flag (meaningful for PLAIN and CURVE).
	AsServer bool
}

// AppendGreeting appends the 64-byte greeting for g to b. A zero Major
// means this package's version (3.1). The padding and filler are zeros.
func AppendGreeting(b []byte, g Greeting) []byte {
	if g.Major == 0 {
		g.Major, g.Minor = VersionMajor, VersionMinor
	}
	b = append(b, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, g.Major, g.Minor)
	var mech [20]byte
	copy(mech[:], g.Mechanism)
	b = append(b, mech[:]...)
	as := byte(0)
	if g.AsServer {
		as = 1
	}
	b = append(b, as)
	var filler [31]byte
	return append(b, filler[:]...)
}

// CheckSignature checks the first bytes of a greeting: 0xFF, eight bytes
// that are never checked (libzmq fills them), then 0x7F. It needs at least
// SignatureSize bytes.
func CheckSignature(b []byte) error {
	if len(b) < SignatureSize {
		if len(b) == 0 {
			return io.EOF
		}
		if b[0] != 0xff {
			return ErrSignature
		}
		return io.ErrUnexpectedEOF
	}
	if b[0] != 0xff || b[9]&1 != 1 {
		return ErrSignature
	}
	return nil
}

// ParseGreeting decodes a greeting from the first GreetingSize bytes of b.
// Peers of major version 3 and later minor versions are accepted (the
// caller picks the lowest common minor version); earlier majors are
// ErrVersion.
func ParseGreeting(b []byte) (Greeting, error) {
	if err := CheckSignature(b); err != nil {
		return Greeting{}, err
	}
	if len(b) > SignatureSize && b[SignatureSize] < 3 {
		return Greeting{}, fmt.Errorf("%w: major %d", ErrVersion, b[SignatureSize])
	}
	if len(b) < GreetingSize {
		return Greeting{}, io.ErrUnexpectedEOF
	}
	g := Greeting{Major: b[10], Minor: b[11], AsServer: b[32] == 1}
	mech := b[12:32]
	n := 0
	for n < len(mech) && mech[n] != 0 {
		c := mech[n]
		if c < 0x20 || c > 0x7e {
			return Greeting{}, ErrMechanismName
		}
		n++
	}
	for _, c := range mech[n:] {
		if c != 0 {
			return Greeting{}, ErrMechanismName
		}
	}
	g.Mechanism = string(mech[:n])
	return g, nil
}
