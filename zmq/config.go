package zmq

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/switchboard/switchboard/endpoint"
)

// Type is a ZeroMQ socket type.
type Type int

// Socket types, with libzmq's semantics (doc/zmq_socket.adoc).
const (
	Pair Type = iota
	Pub
	Sub
	Req
	Rep
	Dealer
	Router
	Pull
	Push
	XPub
	XSub
)

var typeNames = [...]string{"PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB"}

// String returns the ZMTP Socket-Type name ("PUSH", ...).
func (t Type) String() string {
	if t < 0 || int(t) >= len(typeNames) {
		return fmt.Sprintf("Type(%d)", int(t))
	}
	return typeNames[t]
}

// ParseType returns the Type named name ("PUSH", "push", ...).
func ParseType(name string) (Type, error) {
	for i, n := range typeNames {
		if strings.EqualFold(n, name) {
			return Type(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown socket type %q", ErrConfig, name)
}

func (t Type) valid() bool { return t >= 0 && int(t) < len(typeNames) }

// Defaults applied to zero Config fields.
const (
	DefaultHWM              = 1000
	DefaultLinger           = time.Second
	DefaultMaxMsgSize       = 64 << 20
	DefaultReconnectIvl     = 100 * time.Millisecond
	DefaultReconnectIvlMax  = 5 * time.Second
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultMaxConns         = 4096
)

// Config configures a Socket. The zero value of every field means its
// default, which the field's doc names. NewSocket copies the Config and
// never modifies the caller's.
type Config struct {
	// Inproc is the namespace in which inproc:// endpoints live; sockets
	// must share one to talk over inproc. nil: inproc endpoints fail with
	// ErrNoInproc.
	Inproc *Inproc

	// SendHWM bounds each peer's outgoing queue, in messages. Default
	// DefaultHWM; negative means no limit. At the limit PUB, XPUB and
	// ROUTER drop (counted in Stats), PUSH, DEALER, REQ and PAIR block
	// until the Send ctx ends.
	SendHWM int
	// RecvHWM bounds the messages queued from each peer before its
	// reader stops reading (TCP flow control pushes back). Default
	// DefaultHWM; negative means no limit. Over inproc the bound is
	// SendHWM+RecvHWM, as in libzmq.
	RecvHWM int

	// Linger is how long Close waits for queued messages to be written
	// and for each peer it sent messages to to close its side of the
	// connection after the last one (see Socket.Close). Default DefaultLinger; negative means
	// discard them and close at once.
	Linger time.Duration
	// MaxMsgSize is the largest message accepted from a peer, in bytes
	// over all frames; a peer sending more is disconnected. Default
	// DefaultMaxMsgSize; negative means no limit.
	MaxMsgSize int64
	// MaxConns bounds the connections accepted per bound endpoint.
	// Default DefaultMaxConns.
	MaxConns int

	// RoutingID is sent as the Identity property by REQ, DEALER and
	// ROUTER (the types a ROUTER talks to), as in libzmq; a ROUTER peer
	// routes to us by it. Default none: the Identity sent is empty and
	// the ROUTER makes one up. 1-255 bytes, not starting with a zero byte.
	RoutingID []byte
	// Metadata are extra READY properties sent to every peer.
	Metadata map[string]string

	// ReconnectIvl is the first wait before reconnecting. Default
	// DefaultReconnectIvl; negative disables reconnection.
	ReconnectIvl time.Duration
	// ReconnectIvlMax caps the doubling backoff. Default DefaultReconnectIvlMax.
	ReconnectIvlMax time.Duration
	// HandshakeTimeout bounds the ZMTP handshake. Default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// HeartbeatIvl, when positive, sends a ZMTP PING that often.
	// Default off.
	HeartbeatIvl time.Duration
	// HeartbeatTimeout drops a connection that received nothing for this
	// long while heartbeats are on. Default HeartbeatIvl.
	HeartbeatTimeout time.Duration
	// HeartbeatTTL is sent in PINGs: the peer drops us after this much
	// silence. Default none; rounded down to tenths of a second.
	HeartbeatTTL time.Duration

	// Immediate queues messages only to completed connections (libzmq
	// ZMQ_IMMEDIATE): a connecting endpoint takes no messages.
	Immediate bool
	// Conflate keeps only the last message in each queue (ZMQ_CONFLATE).
	Conflate bool
	// ProbeRouter sends an empty message on every new connection of a
	// DEALER, ROUTER or REQ (ZMQ_PROBE_ROUTER).
	ProbeRouter bool

	// RouterMandatory makes ROUTER's Send fail with ErrHostUnreachable
	// for an unknown routing id, and block at the HWM instead of dropping.
	RouterMandatory bool
	// RouterHandover lets a new peer take over a routing id in use (the
	// old connection is dropped); by default the newcomer is refused.
	RouterHandover bool

	// ReqRelaxed lets REQ send a new request without waiting for the
	// reply to the last one (ZMQ_REQ_RELAXED).
	ReqRelaxed bool
	// ReqCorrelate prefixes requests with an id and drops replies that
	// do not carry the last one (ZMQ_REQ_CORRELATE).
	ReqCorrelate bool

	// XPubVerbose passes every subscription up to Recv, not only the
	// first for a topic (ZMQ_XPUB_VERBOSE).
	XPubVerbose bool
	// XPubVerboser also passes every unsubscription up (ZMQ_XPUB_VERBOSER).
	XPubVerboser bool
	// XPubManual stops XPUB from applying subscriptions itself: the
	// application calls Subscribe/Unsubscribe after receiving one, and it
	// applies to the peer that sent the last (ZMQ_XPUB_MANUAL).
	XPubManual bool
	// XPubWelcome, when not nil, is sent to every new subscriber
	// (ZMQ_XPUB_WELCOME_MSG).
	XPubWelcome []byte

	// Plain, when not nil, secures every connection with the PLAIN
	// mechanism (clear-text user name and password, rfc.zeromq.org 24)
	// instead of NULL. Both peers must use it.
	Plain *PlainConfig
	// Curve, when not nil, secures every connection with the CURVE
	// mechanism (authenticated and encrypted, rfc.zeromq.org 25 and 26)
	// instead of NULL. Both peers must use it; it excludes Plain.
	Curve *CurveConfig

	// Endpoint, when not nil, configures the sockets of tcp://, ipc://
	// and tls:// endpoints, as in endpoint.Listen and endpoint.Dial:
	// typed socket options (Options), TLS (for tls://), an Admit check on
	// accepted connections, a Logger for socket-level records. Options in
	// an endpoint's query ("tcp://127.0.0.1:5555?tos=0x10") override these
	// field by field, and one that does not apply to the endpoint's
	// transport (keepalive on ipc://) makes Bind or Connect fail. Its
	// MaxConns is not used: MaxConns above bounds accepted connections.
	// TCP_NODELAY is set on tcp:// and tls:// connections, as libzmq
	// does, unless the endpoint's query says nodelay=0. nil: defaults.
	Endpoint *endpoint.Config

	// Logger receives debug logs. nil: silent.
	Logger *slog.Logger
	// Monitor, when not nil, is called with every Event. It runs
	// synchronously on the socket's goroutines, never under a lock, and
	// must not block; hand work to another goroutine.
	Monitor func(Event)
}

// PlainConfig configures the PLAIN security mechanism.
type PlainConfig struct {
	// Server makes this socket check credentials; otherwise it is a
	// client presenting Username and Password.
	Server bool
	// Username and Password are a client's credentials (at most 255
	// bytes each).
	Username, Password string
	// Authenticate checks a client's credentials on a server. It runs on
	// the connection's goroutine during the handshake. nil accepts all.
	Authenticate func(username, password string) bool
}

func (c *Config) withDefaults() (Config, error) {
	var n Config
	if c != nil {
		n = *c
	}
	n.RoutingID = append([]byte(nil), n.RoutingID...)
	n.XPubWelcome = append([]byte(nil), n.XPubWelcome...)
	if c != nil && c.XPubWelcome == nil {
		n.XPubWelcome = nil
	}
	if len(n.RoutingID) == 0 {
		n.RoutingID = nil
	}
	if len(n.RoutingID) > 255 || len(n.RoutingID) > 0 && n.RoutingID[0] == 0 {
		return n, fmt.Errorf("%w: RoutingID must be 1-255 bytes not starting with 0", ErrConfig)
	}
	for k, v := range n.Metadata {
		if len(k) == 0 || len(k) > 255 || len(v) > 1<<20 {
			return n, fmt.Errorf("%w: Metadata property %q", ErrConfig, k)
		}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&n.SendHWM, DefaultHWM)
	def(&n.RecvHWM, DefaultHWM)
	def(&n.MaxConns, DefaultMaxConns)
	defd(&n.Linger, DefaultLinger)
	defd(&n.ReconnectIvl, DefaultReconnectIvl)
	defd(&n.ReconnectIvlMax, DefaultReconnectIvlMax)
	defd(&n.HandshakeTimeout, DefaultHandshakeTimeout)
	if n.ReconnectIvlMax < n.ReconnectIvl {
		n.ReconnectIvlMax = n.ReconnectIvl
	}
	if n.MaxMsgSize == 0 {
		n.MaxMsgSize = DefaultMaxMsgSize
	}
	if n.HeartbeatIvl < 0 || n.HeartbeatTimeout < 0 || n.HeartbeatTTL < 0 {
		return n, fmt.Errorf("%w: negative heartbeat duration", ErrConfig)
	}
	if n.HeartbeatTimeout == 0 {
		n.HeartbeatTimeout = n.HeartbeatIvl
	}
	if n.HeartbeatTTL > 6553*time.Second {
		n.HeartbeatTTL = 6553 * time.Second
	}
	if n.Plain != nil {
		pc := *n.Plain
		n.Plain = &pc
		if len(pc.Username) > 255 || len(pc.Password) > 255 {
			return n, fmt.Errorf("%w: PLAIN user name or password over 255 bytes", ErrConfig)
		}
	}
	if n.Curve != nil {
		cc := *n.Curve
		n.Curve = &cc // checked by checkSecurity
	}
	if n.Endpoint != nil {
		ec := *n.Endpoint
		n.Endpoint = &ec
	}
	if n.XPubVerboser {
		n.XPubVerbose = true
	}
	return n, nil
}
