package socketio

import (
	"errors"

	"github.com/switchboard/switchboard/socketio/internal/parser"
)

// Errors returned by the package; test them with errors.Is.
var (
	// ErrAckTimeout is returned by EmitWithAck when the acknowledgement did
	// not come in time (the ctx deadline or the operator's Timeout). The
	// error also wraps the ctx error when the ctx expired.
	ErrAckTimeout = errors.New("socketio: operation has timed out")
	// ErrDisconnected is returned by emits on a disconnected socket, and by
	// EmitWithAck when the socket disconnected before acknowledging.
	ErrDisconnected = errors.New("socketio: socket disconnected")
	// ErrServerClosed is returned after Close or Shutdown.
	ErrServerClosed = errors.New("socketio: server closed")
	// ErrInvalidPacket reports a malformed packet from a peer; the peer is
	// dropped and counted in Stats.BadPackets.
	ErrInvalidPacket = parser.ErrInvalidPacket
	// ErrTooManyAttachments reports a binary packet announcing more
	// attachments than Config.MaxAttachments.
	ErrTooManyAttachments = parser.ErrTooManyAttachments
	// ErrAttachmentsTooLarge reports a binary packet whose attachments
	// exceed Config.MaxAttachmentBytes.
	ErrAttachmentsTooLarge = parser.ErrAttachmentsTooLarge
	// ErrReservedEvent is returned when emitting a reserved event name
	// ("connect", "connect_error", "disconnect", "disconnecting",
	// "newListener", "removeListener").
	ErrReservedEvent = errors.New("socketio: reserved event name")
)

// ConnectError is the error a middleware returns to refuse a connection
// with data: the client receives CONNECT_ERROR {"message": Message, "data":
// Data}, an Error with message and data in socket.io-client's
// "connect_error" event. Any other error refuses with its Error() as the
// message and no data.
type ConnectError struct {
	Message string
	Data    any
}

// Error returns the message.
func (e *ConnectError) Error() string { return e.Message }

func connectErrorPayload(err error) map[string]any {
	var ce *ConnectError
	if errors.As(err, &ce) {
		m := map[string]any{"message": ce.Message}
		if ce.Data != nil {
			m["data"] = ce.Data
		}
		return m
	}
	return map[string]any{"message": err.Error()}
}
