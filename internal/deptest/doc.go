// Package deptest holds the dependency-direction test of the module: the
// protocol libraries (engineio, socketio, zmq, endpoint) must not pull in
// Prometheus, Redis, the CLI, the hub or the monitor package, so a program
// that only speaks a protocol stays small. The test runs `go list -deps`
// and names the import chain that brought a forbidden package in.
package deptest
