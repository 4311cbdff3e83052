//go:build linux

package zmq

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// inlineWriter makes one non-blocking write on a bare socket: a Send that
// finds the connection idle writes its message without waking the
// writer goroutine, and never waits for the socket.
type inlineWriter struct {
	rc  syscall.RawConn
	buf []byte // the encoded message, reused
	out []byte
	fn  func(fd uintptr) bool
	n   int
}

// newInlineWriter returns nil unless nc is a bare TCP or Unix socket.
func newInlineWriter(nc net.Conn) *inlineWriter {
	rc := bareRawConn(nc)
	if rc == nil {
		return nil
	}
	w := &inlineWriter{rc: rc}
	w.fn = w.do
	return w
}

func (w *inlineWriter) do(fd uintptr) bool {
	for {
		n, err := unix.Write(int(fd), w.out)
		if err == unix.EINTR {
			continue
		}
		w.n = max(n, 0)
		return true // never wait: what is left goes to the writer
	}
}

// write writes what the kernel takes of b at once and returns how much.
func (w *inlineWriter) write(b []byte) int {
	w.out, w.n = b, 0
	if w.rc.Write(w.fn) != nil {
		w.n = 0
	}
	w.out = nil
	return w.n
}
