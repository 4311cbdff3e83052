package zmq

import "time"

// EventType names what happened in a monitor Event.
type EventType int

// Monitor event types (libzmq's zmq_socket_monitor events, by name).
const (
	// EventListening: a Bind succeeded; Endpoint is the bound address.
	EventListening EventType = iota + 1
	// EventBindFailed: a listener stopped with an error.
	EventBindFailed
	// EventAccepted: a bound endpoint accepted a connection.
	EventAccepted
	// EventConnected: a connect attempt reached the peer (before the
	// handshake).
	EventConnected
	// EventConnectRetried: a connect attempt failed; Retry is the wait
	// before the next one and Err the reason.
	EventConnectRetried
	// EventHandshakeSucceeded: the ZMTP handshake completed; the peer
	// may now exchange messages.
	EventHandshakeSucceeded
	// EventHandshakeFailed: the handshake failed; Err says why
	// (ErrIncompatible, ErrProtocol, a *zmtp peer error, a timeout...).
	EventHandshakeFailed
	// EventDisconnected: an established connection ended; Err says why
	// (io.EOF for a clean close by the peer, ErrHeartbeat, ...).
	EventDisconnected
	// EventClosed: a bound endpoint stopped listening.
	EventClosed
	// EventRefused: an accepted connection was closed at once (MaxConns,
	// or Config.Endpoint.Admit, whose error is Err).
	EventRefused
)

var eventNames = [...]string{"", "listening", "bind-failed", "accepted", "connected", "connect-retried",
	"handshake-succeeded", "handshake-failed", "disconnected", "closed", "refused"}

// String returns a short lower-case name, such as "handshake-failed".
func (t EventType) String() string {
	if t <= 0 || int(t) >= len(eventNames) {
		return "unknown"
	}
	return eventNames[t]
}

// Event is one monitor event, passed to Config.Monitor.
type Event struct {
	Type EventType
	// Endpoint is the endpoint as bound or connected ("tcp://127.0.0.1:5555").
	Endpoint string
	// Local and Remote are the connection's addresses, when there is one.
	Local, Remote string
	// PeerType is the peer's socket type after a handshake.
	PeerType string
	// Err is the reason of failures and disconnections.
	Err error
	// Retry is the wait before the next connect attempt.
	Retry time.Duration
}

// Stats is a snapshot of a socket and its connections.
type Stats struct {
	Type Type
	// Dropped counts messages dropped at the high-water mark (PUB, XPUB,
	// ROUTER) or because no peer matched a ROUTER routing id.
	Dropped uint64
	// Refused counts peers refused at the handshake or at MaxConns.
	Refused uint64
	// RecvQueue is the number of messages waiting for Recv.
	RecvQueue int
	// Endpoints lists the bound endpoints (resolved) and connected ones.
	Bound, Connected []string
	// Conns has one entry per peer pipe (connected or not yet).
	Conns []ConnStats
}

// ConnStats describes one peer: a connection, or a pipe waiting for one.
type ConnStats struct {
	// ID is unique within the socket.
	ID uint64
	// Endpoint is the bound or connected endpoint this peer came from.
	Endpoint string
	// Transport is "tcp", "ipc" or "inproc".
	Transport string
	// Local and Remote addresses ("" for inproc or when not connected).
	Local, Remote string
	// Connected is false for a connecting pipe that queues messages.
	Connected bool
	// PeerType is the peer's socket type ("" before the handshake).
	PeerType string
	// RoutingID is the peer's routing id as a ROUTER sees it.
	RoutingID []byte
	// Counters since the pipe was created.
	MsgsIn, MsgsOut, BytesIn, BytesOut, Dropped uint64
	// SendQueue is the number of messages waiting to be written.
	SendQueue int
	// RecvQueue is the number of messages from this peer waiting for Recv.
	RecvQueue int
}
