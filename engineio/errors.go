package engineio

import (
	"errors"
	"net"

	"github.com/switchboard/switchboard/engineio/internal/packet"
)

// Errors returned by Socket and Server methods; test them with errors.Is.
var (
	// ErrQueueFull is returned by Send when the socket's bounded outgoing
	// queue is full. The caller decides: drop (volatile) or Close.
	ErrQueueFull = errors.New("engineio: send queue full")
	// ErrClosed is returned by calls on a closed Socket or Server. It
	// satisfies errors.Is(err, net.ErrClosed).
	ErrClosed error = closedError{}
	// ErrPayloadTooLarge reports a packet or payload over MaxPayload.
	ErrPayloadTooLarge = packet.ErrTooLarge
	// ErrParse reports a packet the protocol does not allow: an unknown
	// type, bad base64, or a packet in the wrong direction. It wraps the
	// codec's error.
	ErrParse = errors.New("engineio: parse error")
	// ErrPingTimeout is the error given to OnClose when no pong came in
	// time.
	ErrPingTimeout = errors.New("engineio: ping timeout")
	// ErrTransport reports a failed or misused transport: a duplicate poll
	// or post, a write that timed out, a broken connection.
	ErrTransport = errors.New("engineio: transport error")
)

type closedError struct{}

func (closedError) Error() string        { return "engineio: socket closed" }
func (closedError) Is(target error) bool { return target == net.ErrClosed }

// Close reasons given to Socket.OnClose, as named by Engine.IO.
const (
	ReasonTransportClose = "transport close"
	ReasonTransportError = "transport error"
	ReasonPingTimeout    = "ping timeout"
	ReasonParseError     = "parse error"
	ReasonForcedClose    = "forced close"
	ReasonServerShutdown = "server shutting down"
)

// reasons indexes the per-reason close counters of Stats.
var reasons = [...]string{ReasonTransportClose, ReasonTransportError, ReasonPingTimeout,
	ReasonParseError, ReasonForcedClose, ReasonServerShutdown}

func reasonIndex(r string) int {
	for i, s := range reasons {
		if s == r {
			return i
		}
	}
	return 1
}

// Error codes of the protocol's JSON error body {"code":N,"message":"..."}.
const (
	CodeUnknownTransport   = 0
	CodeUnknownSID         = 1
	CodeBadHandshakeMethod = 2
	CodeBadRequest         = 3
	CodeForbidden          = 4
	CodeUnsupportedVersion = 5
)

var codeMessages = [...]string{
	"Transport unknown",
	"Session ID unknown",
	"Bad handshake method",
	"Bad request",
	"Forbidden",
	"Unsupported protocol version",
}
