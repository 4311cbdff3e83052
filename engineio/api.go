package engineio

// This file is the public contract of the Engine.IO server that package
// socketio builds on. Bodies marked "contract" are to be implemented.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Errors returned by Socket methods. They can be tested with errors.Is.
var (
	// ErrQueueFull is returned by Send when the socket's bounded outgoing
	// queue is full. The caller decides: drop (volatile) or Close.
	ErrQueueFull = errors.New("engineio: send queue full")
	// ErrClosed is returned by calls on a closed Socket or Server. It wraps
	// net.ErrClosed.
	ErrClosed error = closedError{}
	// ErrPayloadTooLarge reports a packet or payload over MaxPayload.
	ErrPayloadTooLarge = errors.New("engineio: payload too large")
)

// Message is one Engine.IO "message" packet (type 4) as the application sees
// it: text (a UTF-8 string on the wire) or binary.
//
// Data is never modified by the engine once handed to Send, so one Message
// may be sent to many sockets (a broadcast encodes its packet once).
// Data received in an OnMessage callback is owned by the callee.
type Message struct {
	Binary bool
	Data   []byte
}

// Config configures a Server. The zero value of each field means its
// default, which the field's doc names. A Config is copied by NewServer and
// never modified.
type Config struct {
	// Path the server answers on. Default "/engine.io/".
	Path string
	// PingInterval between server pings. Default 25s.
	PingInterval time.Duration
	// PingTimeout: how long after a ping the pong may come. Default 20s.
	PingTimeout time.Duration
	// UpgradeTimeout bounds a pending transport upgrade. Default 10s.
	UpgradeTimeout time.Duration
	// MaxPayload is maxHttpBufferSize: the largest HTTP body or WebSocket
	// message accepted, in bytes. Default 1e6.
	MaxPayload int64
	// Transports allowed, of "polling" and "websocket". Default both.
	Transports []string
	// DisableUpgrades stops polling clients from upgrading to WebSocket.
	DisableUpgrades bool
	// MaxQueuedPackets bounds each socket's outgoing queue. Default 1024.
	MaxQueuedPackets int
	// Cookie, when not nil, is the template of the sid cookie set on the
	// handshake (its Value is replaced). Default none.
	Cookie *http.Cookie
	// CORS, when not nil, answers preflights and sets CORS headers.
	CORS *CORS
	// AllowRequest, when not nil, runs before a handshake or upgrade; a
	// non-nil error refuses it (code 4 "Forbidden", with the error's text).
	AllowRequest func(r *http.Request) error
	// AllowEIO3 accepts Engine.IO protocol 3 clients too.
	AllowEIO3 bool
	// Logger receives debug and error records. nil means silent.
	Logger *slog.Logger
}

// CORS holds the CORS settings of a Server.
type CORS struct {
	// Origins allowed; "*" allows any. Empty means reflect the request's
	// Origin.
	Origins []string
	// Credentials sets Access-Control-Allow-Credentials.
	Credentials bool
	// Headers allowed in requests (Access-Control-Allow-Headers).
	Headers []string
}

// Server is an Engine.IO protocol 4 server. It implements http.Handler.
// All methods are safe for concurrent use. Callers must call Close.
//
// contract: NewServer(cfg *Config, onConnect func(*Socket)) (*Server, error)
// contract: (*Server).ServeHTTP(w http.ResponseWriter, r *http.Request)
// contract: (*Server).Close() error — closes every socket and waits for
// every goroutine the server started.
// contract: (*Server).Shutdown(ctx context.Context) error — stops new
// handshakes, closes sockets with reason "server shutting down", waits.
// contract: (*Server).Count() int — open sockets.
// contract: (*Server).Stats() Stats — counters (handshakes, refused,
// closed by reason, packets/bytes in and out, bad requests by code).
//
// onConnect is called once per new socket, before any of its messages is
// delivered. Handlers (OnMessage, OnClose) must be installed inside
// onConnect; they run synchronously on the engine's goroutines, in order,
// and must not block.
var _ = context.Background

// Socket is one Engine.IO session. Its methods are safe for concurrent use.
//
// contract: (*Socket).ID() string — the sid.
// contract: (*Socket).Request() *http.Request — the handshake request
// (headers, URL query, RemoteAddr); its body is consumed.
// contract: (*Socket).Transport() string — "polling" or "websocket", the
// current one.
// contract: (*Socket).Protocol() int — 4 (or 3 with AllowEIO3).
// contract: (*Socket).OnMessage(func(Message)) — set once, in onConnect.
// contract: (*Socket).OnClose(func(reason string, err error)) — set once,
// in onConnect; called exactly once. Reasons as in Engine.IO: "transport
// close", "transport error", "ping timeout", "parse error", "forced close",
// "server shutting down".
// contract: (*Socket).Send(m Message) error — enqueue without blocking;
// ErrQueueFull when the bounded queue is full; ErrClosed after close.
// Writes are coalesced: everything queued goes out in one poll response or
// in back-to-back WebSocket frames with one flush.
// contract: (*Socket).Close() error — forced close, idempotent; flushes
// what is queued first if it can do so without blocking.
// contract: (*Socket).Done() <-chan struct{} — closed once the socket is.
// contract: (*Socket).LocalAddr(), RemoteAddr() string.
// contract: (*Socket).Stats() SocketStats — messages and bytes in and out,
// queue depth.

type closedError struct{}

func (closedError) Error() string { return "engineio: socket closed" }
