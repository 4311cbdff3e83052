package zmq

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Sizes of the receive path.
const (
	// directMin: a body with at least this many bytes still to come is
	// read straight from the connection into its own memory rather than
	// through the buffer (no copy), as libzmq's decoder does for large
	// messages.
	directMin = 8 << 10
	// overflowMax bounds what a direct read takes beyond the body into
	// the buffer: the next frame's header and the start of its body,
	// which is then copied. A small bound keeps a stream of large frames
	// mostly copy-free; small frames still fill the whole buffer.
	overflowMax = 8 << 10
	// takeRoom: with bytes taken from the buffer (Take), a fill that
	// would have less room than this moves to a new buffer instead.
	takeRoom = 4 << 10
)

// connReader is a connection's buffered reader: bufio.Reader's Peek,
// Discard and Read, plus ReadFull, which reads large bodies without a
// copy, with one readv that also fetches what follows the body where the
// connection is a plain socket. It is owned by the connection's reader
// goroutine.
type connReader struct {
	src  io.Reader
	buf  []byte
	r, w int
	err  error // sticky: returned once the buffer is drained
	// big: the last body was read directly; fills take at most
	// overflowMax bytes, so that the next large body is not copied.
	big bool
	// shared: Take handed out bytes of buf, which must not be written
	// again: a fill that needs room moves to a new buffer.
	shared bool

	rv *readv // nil: src is not a socket, or not on Linux

	// pool, when set and on (Recycle was called), supplies new buffers
	// and takes back the old ones (see readBufs); cur is the tracked
	// buffer in use (nil: buf is not tracked) and taken counts the
	// frames Take handed out of it.
	pool  *framePool
	cur   *rbuf
	taken int64
}

func newConnReader(src io.Reader, size int) *connReader {
	b := &connReader{src: src, buf: make([]byte, size)}
	if rc := bareRawConn(src); rc != nil {
		b.rv = newReadv(rc)
	}
	return b
}

// bareRawConn returns the descriptor access of a bare TCP or Unix socket,
// or nil for anything else: a wrapper that has a descriptor (TLS over
// endpoint.Conn) transforms the bytes on it, so system calls on that
// descriptor would bypass it.
func bareRawConn(c any) syscall.RawConn {
	var sc syscall.Conn
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// clearTimeout forgets the error of a read that a deadline interrupted,
// so that reading can go on.
func (b *connReader) clearTimeout() {
	if b.err != nil && errors.Is(b.err, os.ErrDeadlineExceeded) {
		b.err = nil
	}
}

// Buffered returns the number of bytes that can be read without I/O.
func (b *connReader) Buffered() int { return b.w - b.r }

// fill reads once from src into the free end of the buffer, moving what
// is buffered to the front (or to a new buffer, when bytes were taken)
// first when little room is left.
func (b *connReader) fill() error {
	if b.err != nil {
		return b.err
	}
	if b.shared {
		if len(b.buf)-b.w < takeRoom {
			// The taken bytes stay where they are; what is not
			// consumed moves to a new buffer.
			b.newBuf(b.buf[b.r:b.w])
		}
	} else if b.r == b.w {
		b.r, b.w = 0, 0
	} else if b.r > 0 && len(b.buf)-b.w < takeRoom {
		// Little room left: slide the unread bytes to the front, so
		// that the read is not a small one.
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	end := len(b.buf)
	if b.big {
		end = min(end, b.w+overflowMax)
	}
	for range 100 {
		n, err := b.src.Read(b.buf[b.w:end])
		b.w += n
		if err != nil {
			b.err = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	b.err = io.ErrNoProgress
	return b.err
}

// Peek returns the next n bytes without consuming them; n is at most the
// buffer's size. With fewer bytes available it returns what there is and
// the read error.
func (b *connReader) Peek(n int) ([]byte, error) {
	for b.w-b.r < n {
		if err := b.fill(); err != nil {
			return b.buf[b.r:b.w], err
		}
	}
	return b.buf[b.r : b.r+n], nil
}

// Discard skips n buffered bytes; n is at most Buffered().
func (b *connReader) Discard(n int) { b.r += n }

// Take consumes the next n buffered bytes (n ≤ Buffered()) and returns
// them in place, without a copy: the caller keeps them, and the reader
// never writes that memory again. Frames received this way share the
// buffer, as libzmq's decoder shares its receive buffer among small
// messages.
func (b *connReader) Take(n int) []byte {
	p := b.buf[b.r : b.r+n : b.r+n]
	b.r += n
	b.shared = true
	if n > 0 {
		b.taken++
	}
	return p
}

// newBuf moves to another buffer, with the unconsumed bytes keep (of
// the current buffer) at its front, and retires the current one.
func (b *connReader) newBuf(keep []byte) {
	var nb []byte
	var cur *rbuf
	if fp := b.pool; fp != nil && fp.on.Load() && !fp.inproc.Load() {
		cur, nb = fp.reads.get(len(b.buf))
	} else {
		nb = make([]byte, len(b.buf))
	}
	n := copy(nb, keep)
	b.retire() // after the copy: the buffer may go to another reader
	b.buf, b.cur, b.r, b.w, b.shared = nb, cur, 0, n, false
}

// retire hands the tracked buffer in use back to bufs, for reuse once
// its frames are recycled. The connection's end calls it too.
func (b *connReader) retire() {
	if b.cur != nil {
		b.pool.reads.retire(b.cur, b.taken)
		b.cur = nil
	}
	b.taken = 0
}

// Read reads into p as bufio.Reader does: from the buffer, or with an
// empty buffer and a large p, straight from src.
func (b *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w {
		if b.err != nil {
			return 0, b.err
		}
		if len(p) >= len(b.buf) {
			n, err := b.src.Read(p)
			if err != nil {
				b.err = err
			}
			return n, err
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// ReadFull fills p: first from the buffer, then, for a large remainder,
// straight from the connection (with readv, also into the buffer up to
// overflowMax bytes beyond p), else through the buffer. Like io.ReadFull
// it returns io.ErrUnexpectedEOF when the stream ends inside p.
func (b *connReader) ReadFull(p []byte) error {
	b.big = len(p) >= 2*directMin
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	p = p[n:]
	for len(p) >= directMin {
		if b.err != nil {
			return noEOF(b.err)
		}
		var k int
		var err error
		if b.rv != nil {
			// The buffer is empty here (r == w): the bytes after p go
			// to its front, or after the bytes taken from it, or to a
			// new buffer when those leave too little room.
			if !b.shared {
				b.r, b.w = 0, 0
			} else if len(b.buf)-b.w < overflowMax {
				b.newBuf(nil)
			}
			var extra int
			k, extra, err = b.rv.read(p, b.buf[b.w:min(b.w+overflowMax, len(b.buf))])
			b.w += extra
		} else {
			k, err = b.src.Read(p)
		}
		p = p[k:]
		if err != nil {
			b.err = err
			if len(p) == 0 {
				return nil
			}
			return noEOF(err)
		}
	}
	for len(p) > 0 {
		if b.r == b.w {
			if err := b.fill(); err != nil {
				return noEOF(err)
			}
		}
		n := copy(p, b.buf[b.r:b.w])
		b.r += n
		p = p[n:]
	}
	return nil
}
