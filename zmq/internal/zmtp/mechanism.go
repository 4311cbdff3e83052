package zmtp

import (
	"errors"
	"fmt"
)

// Errors of the handshake. They can be tested with errors.Is.
var (
	// ErrMechanism reports a peer offering a different security mechanism.
	ErrMechanism = errors.New("zmtp: security mechanism mismatch")
	// ErrHandshake reports an unexpected command during the handshake.
	ErrHandshake = errors.New("zmtp: unexpected handshake command")
)

// PeerError is the reason a peer gave in an ERROR command.
type PeerError struct{ Reason string }

// Error returns the reason with the package prefix.
func (e *PeerError) Error() string { return "zmtp: peer error: " + e.Reason }

// Mechanism runs the security handshake that follows the greeting, as a
// pure state machine: the caller writes what Start and Next return and
// feeds every command frame body it reads to Next until done.
//
// Implementations are used by one connection at a time.
type Mechanism interface {
	// Name is the mechanism's greeting name ("NULL", "PLAIN", "CURVE").
	Name() string
	// AsServer is the greeting's as-server flag.
	AsServer() bool
	// Start returns the bytes (whole frames) to send once greetings are
	// exchanged.
	Start() []byte
	// Next consumes one received command and returns bytes to send, and
	// when the handshake is over the peer's metadata and done=true.
	Next(cmd Command) (out []byte, peer Metadata, done bool, err error)
}

// Null is the NULL mechanism: both sides send READY with their metadata.
type Null struct {
	// Metadata is sent in READY (Socket-Type, Identity, ...).
	Metadata Metadata
}

// NewNull returns a NULL mechanism sending m in its READY.
func NewNull(m Metadata) *Null { return &Null{Metadata: m} }

// Name returns "NULL".
func (n *Null) Name() string { return "NULL" }

// AsServer returns false: NULL has no roles.
func (n *Null) AsServer() bool { return false }

// Start returns the READY command frame.
func (n *Null) Start() []byte { return AppendReady(nil, n.Metadata) }

// Next accepts the peer's READY (or ERROR, reported as *PeerError).
func (n *Null) Next(cmd Command) ([]byte, Metadata, bool, error) {
	switch cmd.Name {
	case CmdReady:
		m, err := ParseMetadata(cmd.Data)
		if err != nil {
			return nil, nil, false, err
		}
		return nil, m, true, nil
	case CmdError:
		reason, err := ParseError(cmd.Data)
		if err != nil {
			return nil, nil, false, err
		}
		return nil, nil, false, &PeerError{Reason: reason}
	}
	return nil, nil, false, fmt.Errorf("%w: %q", ErrHandshake, cmd.Name)
}
