// Package e2e holds the hub's end-to-end test: a real "switchboard serve"
// binary with every door open, and real peers in one room (Chromium on the
// chat page, the official socket.io-client, a pyzmq service, an IRC client
// and nc, a UDP sender and "switchboard chat" in tmux). It has no API; see
// e2e_test.go. The test runs when SWITCHBOARD_INTEROP=1 (make test).
package e2e
