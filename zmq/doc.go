// Package zmq is a pure-Go ZeroMQ implementation, wire-compatible with
// libzmq over ZMTP 3.1 (rfc.zeromq.org 37/ZMTP, and 23/ZMTP 3.0 peers):
// the PAIR, PUB, SUB, XPUB, XSUB, REQ, REP, DEALER, ROUTER, PUSH and PULL
// socket types with libzmq's semantics (doc/zmq_socket.adoc), over tcp://,
// ipc:// (paths and @abstract names), inproc:// and tls://.
//
// Entry points, one line each (the CLI and the interop tests use these):
//   - NewSocket(typ, *Config): a socket; nil Config means defaults.
//   - ParseType("push"): a Type from its name, for command lines.
//   - (*Socket).Bind(endpoint) / Connect(endpoint): any number of each;
//     Connect returns at once and (re)connects in the background.
//   - (*Socket).LastEndpoint(): the address a "tcp://127.0.0.1:*" bind got.
//   - (*Socket).Send(ctx, Msg) / Recv(ctx): whole multipart messages.
//   - (*Socket).Subscribe(prefix) / Unsubscribe(prefix): SUB and XSUB.
//   - (*Socket).Stats(): a snapshot of every peer; Config.Monitor: events.
//   - NewInproc(): the namespace inproc endpoints live in (Config.Inproc).
//   - NewPoller(): wait for several sockets to become readable.
//   - Proxy(ctx, frontend, backend, capture) and NewProxy: zmq_proxy.
//   - (*Socket).Close(): linger, then stop every goroutine.
//
// A minimal pipeline:
//
//	pull, _ := zmq.NewSocket(zmq.Pull, nil)
//	defer pull.Close()
//	pull.Bind("tcp://127.0.0.1:*")
//	push, _ := zmq.NewSocket(zmq.Push, nil)
//	defer push.Close()
//	push.Connect(pull.LastEndpoint())
//	push.Send(ctx, zmq.NewMsgString("hello"))
//	msg, _ := pull.Recv(ctx)
//
// The examples are the best way to understand how to use this package.
//
// # Endpoints and socket options
//
// tcp://, ipc:// and tls:// endpoints listen and dial through the project's
// endpoint package; inproc:// stays in-process (no copies, no syscalls).
// ZeroMQ's forms work as in libzmq: "tcp://127.0.0.1:5555",
// "tcp://[::1]:5555", "tcp://*:5555" (every interface, IPv4 and IPv6),
// "tcp://127.0.0.1:*" (a free port; LastEndpoint reports it),
// "ipc:///tmp/x.sock", "ipc://@abstract", and the source-address form
// "tcp://10.0.0.1:0;10.0.0.2:5555" (connect from 10.0.0.1, any port).
// A host left empty ("tcp://:5555") binds loopback, as endpoint does.
//
// Socket options ride in the query, with endpoint's names and checks:
// "tcp://127.0.0.1:5555?tos=0x10&keepalive=30s&sndbuf=262144",
// "ipc:///run/x.sock?rcvbuf=1048576", "tcp://0.0.0.0:5555?bindtodevice=eth0".
// Config.Endpoint gives the same options typed, plus a *tls.Config and an
// Admit callback; the query wins field by field. An unknown option, one
// that does not apply to the transport or to the direction (backlog on a
// Connect), or a bad value is an error from Bind or Connect matching
// ErrEndpoint and, with errors.As, an *endpoint.OptionError naming it.
// TCP_NODELAY is on, as in libzmq (the endpoint package leaves Nagle on by
// default); "nodelay=0" turns it off. Keep-alive is off unless asked for
// (libzmq's default), and TCP is plain TCP, never MPTCP.
//
// tls:// is TLS over TCP: "tls://127.0.0.1:*?cert=c.pem&key=k.pem" binds,
// "tls://host:5555?ca=ca.pem" connects ("selfsigned=1" for development,
// see the endpoint package). Only this library speaks it: libzmq has no
// such transport. LastEndpoint of a tls:// bind carries no options.
//
// Binding an ipc:// path removes a socket file left by a dead process, but
// not one a live process listens on: that Bind fails (libzmq would take
// the path over).
//
// Monitor events and Stats carry the endpoint as bound (LastEndpoint's
// form) or as given to Connect, and each connection's local and remote
// addresses. Unbind and Disconnect take the endpoint as given (or, for
// Unbind, as LastEndpoint reports it).
//
// # Concurrency
//
// Every Socket method is safe for concurrent use. Send and Recv take a
// context and block at most until it ends. Each connection has one
// reader goroutine and one writer goroutine, owned by the socket; Close
// stops and waits for all of them.
//
// # Mute state
//
// At the high-water mark (Config.SendHWM), PUB, XPUB and ROUTER drop
// messages (counted in Stats), while PUSH, DEALER, REQ and PAIR block
// until there is room or the ctx ends. Messages sent before a connecting
// peer is up are queued for it, unless Config.Immediate is set.
//
// # Slow and dead peers
//
// Each connection has a bounded queue (SendHWM) and a bounded share of the
// receive queue (RecvHWM); a peer that stops reading only fills its own
// queue. Set Config.HeartbeatIvl (and HeartbeatTimeout) to detect such a
// peer, or a dead one: it is dropped with ErrHeartbeat, reported to
// Config.Monitor as EventDisconnected, and the other peers are unaffected.
// A malformed peer (bad greeting, bad frames, oversize messages, wrong
// socket type) is dropped the same way, with ErrProtocol, ErrMsgTooLarge
// or ErrIncompatible, and counted in Stats.
//
// # Messages
//
// Send does not copy frames: the caller must not modify them afterwards
// (sending the same unmodified frame again is fine). Received frames may
// share memory with other messages (small frames share the connection's
// read buffer; inproc passes the sender's frames as they are), so treat
// them as read-only. A program that receives large messages at a high
// rate can give each one back with Socket.Recycle once done with it, as
// a libzmq program calls zmq_msg_close: the socket then receives into
// that memory rather than allocating.
//
// Large frames travel without copies: a sender writes them straight
// from the caller's memory, and a receiver reads them straight into
// their own buffer. REQ and REP write each message from the goroutine
// that calls Send when the connection is idle, and, when Recv waits on
// one connection over a plain tcp or ipc socket (REQ: the peer of its
// request; REP: its only peer), Recv reads that connection itself, so
// a request and its reply cross no goroutine hand-off on the way out or
// in. The connection's reader goroutine lends its read side to Recv
// between messages and takes it back a few milliseconds after the last
// Recv, to watch the connection (heartbeats, disconnection) while the
// program does not receive.
//
// # Errors
//
// Errors are values testable with errors.Is: ErrClosed (which also
// matches net.ErrClosed), ErrState, ErrNotSupported, ErrHostUnreachable,
// ErrEndpoint, ErrIncompatible, ErrMsgTooLarge, ErrProtocol,
// ErrHeartbeat, and the ctx's error for a Send or Recv that timed out.
//
// # Wire
//
// The ZMTP codec is in zmq/internal/zmtp: a pure codec with no goroutines
// or clocks. Security is NULL by default, PLAIN (Config.Plain,
// rfc.zeromq.org 24), or CURVE (Config.Curve, rfc.zeromq.org 25 and 26):
// Curve25519 keys authenticate both ends, transient keys give forward
// secrecy, and every frame after the handshake travels encrypted in a
// MESSAGE, as libzmq's. Keys are [32]byte; CurveKey reads the 40-character
// Z85 text pyzmq's zmq.curve_keypair returns, NewCurveKeypair makes new
// ones, and CurveConfig.Authorize decides which client keys a server
// takes (ErrAuth when it refuses; ErrCurve for keys that do not verify,
// such as a client's wrong ServerKey). CURVE secures tcp:// and ipc://;
// inproc:// has no handshake. A libzmq PLAIN or CURVE server needs a ZAP
// handler (pyzmq's ThreadAuthenticator) or it drops every client.
package zmq
