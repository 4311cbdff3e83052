// Package socketio is a Socket.IO server and client (protocol 5, as spoken
// by socket.io 4.x and its official clients) on top of package engineio's
// Engine.IO 4 server and client.
//
// Specs: https://github.com/socketio/socket.io-protocol (Socket.IO 5) and
// https://github.com/socketio/engine.io-protocol (Engine.IO 4); behaviour
// follows the socket.io 4.8 server and socket.io-adapter.
//
// Entry points:
//
//   - NewServer builds a Server, an http.Handler answering on /socket.io/.
//   - Server.Of returns a namespace; OfRegexp and OfFunc a parent of
//     dynamic namespaces.
//   - Namespace.Use adds middlewares (return a *ConnectError to refuse with
//     data); Namespace.OnConnection receives each connected Socket.
//   - Socket.On handles events, with an AckFunc when the client wants an
//     acknowledgement; Socket.Emit and Socket.EmitWithAck send.
//   - Socket.Join/Leave manage rooms; Namespace.To/Except/Volatile/Timeout
//     and Socket.Broadcast build a BroadcastOperator to emit to many, with
//     acknowledgements collected from each.
//   - Namespace.FetchSockets, SocketsJoin, SocketsLeave and
//     DisconnectSockets (also on operators) act on many sockets at once.
//   - Decode turns an argument into a Go value (struct, []byte fields).
//   - Adapter is the seam for clustering (socket.io-adapter's methods, with
//     ServerSideEmit and session persistence); MemoryAdapter is the default.
//   - Server.Stats counts connections, sockets, dropped peers, slow
//     consumers and the engine's traffic; Close and Shutdown stop it.
//   - NewManager(url, cfg) and Connect(ctx, url, ...) are the client side: a
//     Manager multiplexes namespaces (ClientSocket) on one Engine.IO
//     connection, reconnects with backoff across ClientConfig.URLs, queues
//     emits while offline (bounded) and recovers missed packets.
//
// The examples are the best way to understand how to use this package.
//
// # Concurrency
//
// Handlers (middlewares, OnConnection, On, OnAny, OnDisconnect) run
// synchronously on the goroutine the engine delivers the connection's
// packets on, in order, so a handler never races with the next packet of
// the same connection. A slow handler delays that connection (and an
// OnDisconnect run for a ping timeout, the closes of other connections
// that timed out at the same moment, never their pings); do expensive
// work in another goroutine. Every exported method is safe for
// concurrent use, so emitting from any goroutine is fine. Acknowledgements
// also arrive on the connection's goroutine: do not wait for one
// (EmitWithAck) inside a handler of the same connection.
//
// # Arguments and binary
//
// Event arguments are any values encoding/json can marshal. []byte values,
// at top level or nested in []any and map[string]any, travel as binary
// attachments and arrive in the client as Buffer/ArrayBuffer; binary sent
// by clients arrives as []byte at the same place. Incoming JSON is decoded
// into any (float64, string, bool, nil, []any, map[string]any).
//
// # Flow control
//
// Sends never block. Each connection has the engine's bounded queue: a
// broadcast encodes its packet once and hands the same messages to every
// receiver; when a receiver's queue is full, a volatile packet is dropped
// for it (Stats.VolatileDropped) and any other packet closes its connection
// (Stats.SlowConsumers). A malformed packet closes the sender's connection
// (Stats.BadPackets).
//
// # Connection state recovery
//
// With Config.ConnectionStateRecovery set, CONNECT replies carry a private
// session id (pid) and every stored broadcast carries an offset as its last
// argument. A client that lost its connection and reconnects with
// {pid, offset} in its auth within MaxDisconnectionDuration gets its socket
// id, rooms and data back, the packets it missed, and Socket.Recovered
// reports true.
package socketio
