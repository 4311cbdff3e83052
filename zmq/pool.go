package zmq

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Size classes of recycled frame buffers: powers of two from poolMin to
// poolMax bytes. Frames up to slabMax are carved from shared slabs and
// never recycled, so the smallest class lies above slabMax.
const (
	poolMinShift = 11 // 2 KiB
	poolMaxShift = 20 // 1 MiB
	poolClasses  = poolMaxShift - poolMinShift + 1
	poolMin      = 1 << poolMinShift
	poolMax      = 1 << poolMaxShift
	// poolBytes bounds what a socket keeps, all classes together: enough
	// for a burst of 128 messages of 64 KiB queued ahead of the
	// application (fewer kept buffers meant fresh memory, which the
	// runtime zeroes and the kernel faults in, for every burst).
	poolBytes = 8 << 20
)

// framePool keeps the buffers of received frames that the application
// gave back with Socket.Recycle, for the connections' readers to fill
// again: a stream of large messages then allocates (and the runtime
// zeroes and collects) nothing per message. It stays off, costing
// nothing, until the first Recycle.
type framePool struct {
	on     atomic.Bool // Recycle was called: allocate class-sized buffers
	inproc atomic.Bool // frames may be a sender's own memory: never pool
	mu     sync.Mutex
	free   [poolClasses][][]byte
	bytes  int // kept in free
	// reads: the connections' read buffers, out of which small frames
	// are handed (connReader.Take), reused once those all come back.
	reads readBufs
}

// poolClass returns the size class of an n-byte frame and whether it has one.
func poolClass(n int) (int, bool) {
	if n <= slabMax || n > poolMax {
		return 0, false
	}
	shift := bits.Len(uint(n - 1))
	return max(shift, poolMinShift) - poolMinShift, true
}

// get returns an n-byte buffer: a recycled one when it can, else a new
// one whose capacity is its class's size, so that it can come back.
func (fp *framePool) get(n int) []byte {
	if !fp.on.Load() {
		return make([]byte, n)
	}
	c, ok := poolClass(n)
	if !ok {
		return make([]byte, n)
	}
	fp.mu.Lock()
	if l := len(fp.free[c]); l > 0 {
		b := fp.free[c][l-1]
		fp.free[c][l-1] = nil
		fp.free[c] = fp.free[c][:l-1]
		fp.bytes -= cap(b)
		fp.mu.Unlock()
		return b[:n]
	}
	fp.mu.Unlock()
	return make([]byte, n, 1<<(c+poolMinShift))
}

// put keeps the frames of m whose capacity is exactly a class's size,
// up to poolBytes in all.
func (fp *framePool) put(m Msg) {
	if fp.inproc.Load() {
		return
	}
	if !fp.on.Load() {
		fp.on.Store(true)
	}
	locked := false
	for _, f := range m {
		if cap(f) <= slabMax {
			fp.reads.recycle(f) // the common small frame: no lock taken
			continue
		}
		c, ok := poolClass(cap(f))
		if !ok || cap(f) != 1<<(c+poolMinShift) {
			continue
		}
		if !locked {
			fp.mu.Lock()
			locked = true
		}
		if fp.bytes+cap(f) <= poolBytes {
			fp.free[c] = append(fp.free[c], f[:cap(f)])
			fp.bytes += cap(f)
		}
	}
	if locked {
		fp.mu.Unlock()
	}
}

// Recycle gives the frames of m, a message this socket's Recv returned,
// back to the socket, which reuses their memory for later messages from
// its tcp, ipc and tls peers. It is optional and costs nothing until
// first used: a program that receives large messages at a high rate
// calls it once done with each one, as a libzmq program calls
// zmq_msg_close, and then receives without allocating. m and its frames
// must not be used afterwards, nor recycled twice; in particular, a
// message passed to Send (which does not copy) must not be recycled, as
// its frames may not be written yet. Frames received over inproc are
// the sender's own memory: a socket with an inproc peer ignores Recycle.
// Small frames (up to 1 KiB) share a connection's read buffer with other
// messages: that buffer is reused once every frame taken from it is
// recycled, so a program that recycles all it receives streams small
// messages without allocating either. The socket tracks at most 32 such
// buffers (2 MiB): those of messages the program keeps, or does not
// recycle, are dropped from tracking to the garbage collector in turn.
// Frames the socket did not allocate are ignored.
func (s *Socket) Recycle(m Msg) {
	s.pool.put(m)
}
