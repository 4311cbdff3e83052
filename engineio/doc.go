// Package engineio is an Engine.IO protocol 4 server and client: the
// transport layer under Socket.IO, compatible with the official JavaScript
// clients (engine.io-client 6, socket.io-client 4) and servers (engine.io 6).
//
// Spec: https://github.com/socketio/engine.io-protocol (protocol 4). It
// implements HTTP long-polling (payloads joined by 0x1e, binary as base64
// behind 'b'), WebSocket (one packet per frame, binary frames without
// prefix; RFC 6455 written here on the server side, in internal/wsframe,
// and github.com/coder/websocket on the client side), the upgrade from polling to
// WebSocket (2probe, 3probe, noop, upgrade), WebSocket-only sessions, and
// server-sent heartbeats.
//
// Entry points:
//
//   - NewServer(cfg, onConnect) builds a Server, an http.Handler to mount on
//     the engine's path ("/engine.io/" by default).
//   - onConnect receives each new *Socket; install Socket.OnMessage and
//     Socket.OnClose there.
//   - Socket.Send queues a Message without blocking; Socket.Close ends it.
//   - Server.Close and Server.Shutdown stop everything and wait.
//   - Server.Stats and Socket.Stats are counters for monitoring.
//   - Dial(ctx, url, cfg) is the client side: a *ClientConn that starts on
//     long-polling and upgrades to WebSocket (or uses one transport, by
//     DialConfig.Transports), answers heartbeats and fails on silence;
//     ClientConn.Send, Recv and Close.
//
// The examples are the best way to understand how to use this package.
//
// # Concurrency and memory
//
// The engine keeps no goroutine per idle socket. A polling socket has
// none between requests. An idle WebSocket (plain TCP or Unix, on Linux)
// is parked in one epoll set per Server; when it becomes readable a read
// goroutine starts, delivers what arrived and parks it again. Elsewhere
// (TLS, other systems) a WebSocket keeps its read goroutine. Outgoing
// packets go into a bounded per-socket queue (MaxQueuedPackets); a
// short-lived flusher goroutine writes everything queued in one batch (one
// poll response, or back-to-back WebSocket frames in one write) and exits.
// What an OnMessage handler sends on a WebSocket is written by the read
// loop itself once the handler returns (an ack or a reply crosses no
// goroutine hand-off); a handler that sends more than a few packets gets
// a flusher at once, and the read loop writes one batch at most before it
// reads on, so a slow client delays its own reading only.
// Heartbeats are timed by one timer per Server over a heap of its
// sockets; a socket whose pong is overdue is closed after the pings due
// with it went out, so a slow close handler delays no other socket's
// ping. A parked WebSocket holds no buffer: its 4 KiB read buffer is
// pooled, taken when it wakes and given back when it parks; batch buffers
// are pooled too.
//
// The server side of WebSocket is the engine's own: the handshake, a
// frame reader that checks sizes against MaxPayload from each frame
// header before reading the payload, answers pings and close frames, and
// fails the connection on malformed frames (status 1002), text that is not
// UTF-8 (1007) or an oversize message (1009); the engine writes its data
// frames (one unmasked frame per packet, text or binary) directly.
//
// # Limits
//
// MaxPayload bounds HTTP bodies and WebSocket messages, MaxQueuedPackets
// each socket's queue, MaxSessions the open sessions, WriteTimeout each
// write to a client and each POST body read, PingTimeout how long a
// client may stay silent. A slow or stalled client meets ErrQueueFull on
// Send, then a close with "transport error"; other sockets are unaffected.
//
// # Errors
//
// Refused HTTP requests get the protocol's JSON error body
// {"code":N,"message":"..."} with status 400 (403 for code 4), or 413 for a
// body over MaxPayload. A malformed peer is closed and counted in Stats;
// it never panics the server nor stalls other sockets.
//
// # Protocol 3
//
// Engine.IO protocol 3 (Socket.IO 2 clients) is not implemented: NewServer
// refuses a Config with AllowEIO3 set, and EIO=3 requests get error code 5.
package engineio
