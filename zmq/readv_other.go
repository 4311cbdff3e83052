//go:build !linux

package zmq

import "syscall"

// readv is Linux-only; elsewhere large bodies are read with plain reads.
type readv struct{}

func newReadv(syscall.RawConn) *readv { return nil }

func (v *readv) read(a, b []byte) (na, nb int, err error) { panic("unreachable") }
