// Package zmtp is a pure codec for ZMTP 3.1 (rfc.zeromq.org 37/ZMTP), able to
// talk to ZMTP 3.0 (23/ZMTP) peers: the 64-byte greeting, frame headers,
// commands (READY, ERROR, SUBSCRIBE, CANCEL, PING, PONG), READY metadata,
// the socket-type compatibility table, and security mechanisms as a small
// state machine (NULL here; PLAIN and CURVE can follow behind the same
// Mechanism interface).
//
// The package starts no goroutines, reads no clocks and does no I/O of its
// own: decoders take []byte (or an io.Reader for whole frames) and encoders
// append to a []byte. Every decoder checks declared lengths against the
// caller's limit before allocating, and reports truncated input with
// io.ErrUnexpectedEOF (or io.EOF on an empty input).
//
// Entry points:
//   - AppendGreeting / ParseGreeting: the greeting.
//   - AppendFrameHeader / ParseFrameHeader: frame flags and sizes.
//   - AppendCommand / ParseCommand, and the typed helpers (Ready, Error, Ping...).
//   - AppendMetadata / ParseMetadata: READY properties.
//   - Compatible: which socket types may talk to each other.
//   - Mechanism / NewNull: the handshake after the greeting.
package zmtp
