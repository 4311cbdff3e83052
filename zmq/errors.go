package zmq

import (
	"errors"
	"net"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
)

// PeerError is the reason a peer gave in a ZMTP ERROR command (during the
// handshake, or later). Find it with errors.As in monitor events.
type PeerError = zmtp.PeerError

// Handshake errors from the wire layer, testable with errors.Is.
var (
	// ErrAuth: a PLAIN server refused the client's credentials.
	ErrAuth = zmtp.ErrAuth
	// ErrMechanism: the peer uses another security mechanism.
	ErrMechanism = zmtp.ErrMechanism
	// ErrVersion: the peer speaks a ZMTP older than 3.0.
	ErrVersion = zmtp.ErrVersion
)

// Errors returned by sockets. They can be tested with errors.Is.
var (
	// ErrClosed is returned by calls on a closed Socket. It wraps
	// net.ErrClosed, so errors.Is(err, net.ErrClosed) holds.
	ErrClosed error = closedError{}
	// ErrNotSupported is returned for an operation the socket type does
	// not have (Recv on PUB, Send on SUB, Subscribe on PUSH, ...).
	ErrNotSupported = errors.New("zmq: operation not supported by socket type")
	// ErrState is returned when REQ or REP calls Send and Recv out of
	// their strict alternation (libzmq's EFSM).
	ErrState = errors.New("zmq: operation not valid in the socket's current state")
	// ErrHostUnreachable is returned by a ROUTER with RouterMandatory set
	// when no peer has the message's routing id.
	ErrHostUnreachable = errors.New("zmq: host unreachable")
	// ErrEndpoint reports a malformed or unsupported endpoint.
	ErrEndpoint = errors.New("zmq: invalid endpoint")
	// ErrAddrInUse reports an inproc name that is already bound.
	ErrAddrInUse = errors.New("zmq: address in use")
	// ErrNoInproc reports an inproc endpoint used without Config.Inproc.
	ErrNoInproc = errors.New("zmq: inproc endpoint needs Config.Inproc")
	// ErrIncompatible reports a peer whose socket type cannot talk to
	// ours; the connection is refused at the handshake.
	ErrIncompatible = errors.New("zmq: incompatible socket type")
	// ErrMsgTooLarge reports a message over Config.MaxMsgSize; the
	// connection that sent it is dropped.
	ErrMsgTooLarge = errors.New("zmq: message too large")
	// ErrProtocol reports a peer breaking ZMTP; its connection is dropped.
	ErrProtocol = errors.New("zmq: protocol error")
	// ErrHeartbeat reports a peer silent for longer than the heartbeat
	// timeout (or the TTL it asked for); its connection is dropped.
	ErrHeartbeat = errors.New("zmq: heartbeat timeout")
	// ErrEmptyMsg is returned by Send for a message with no frames.
	ErrEmptyMsg = errors.New("zmq: message has no frames")
	// ErrNotFound is returned by Unbind and Disconnect for an endpoint
	// that is not bound or connected.
	ErrNotFound = errors.New("zmq: endpoint not found")
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("zmq: invalid config")
)

type closedError struct{}

// Error returns "zmq: socket closed".
func (closedError) Error() string { return "zmq: socket closed" }

// Unwrap returns net.ErrClosed.
func (closedError) Unwrap() error { return net.ErrClosed }

// Is matches net.ErrClosed.
func (closedError) Is(target error) bool { return target == net.ErrClosed }
