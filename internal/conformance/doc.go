// Command conformance serves the reference servers of the official
// Engine.IO and Socket.IO protocol test suites, built on switchboard's
// engineio and socketio packages, so that the suites
// (socketio/engine.io-protocol and socketio/socket.io-protocol, "npx mocha
// test-suite.js") can run against them unchanged:
//
//	go run ./internal/conformance            # listens on localhost:3000
//	go run ./internal/conformance -addr 127.0.0.1:3001
//
// On /engine.io/ it is an Engine.IO echo server (every message comes back
// to its sender); on /socket.io/ it is the socket.io-protocol README's
// reference server: on connect it emits "auth" with the handshake's auth,
// "message" is echoed as "message-back", "message-with-ack" is acknowledged
// with its arguments, and namespace /custom exists. Both use the suites'
// settings: pingInterval 300ms, pingTimeout 200ms, maxPayload 1e6, CORS
// origin *, and for Socket.IO connectTimeout 1000ms.
//
// The Go tests of this package are ports of the suites' cases, run against
// the same handler over real HTTP and WebSocket connections, so that
// `go test` checks conformance without Node.js.
package main
