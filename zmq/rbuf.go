package zmq

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// maxReadBufs bounds the read buffers a socket keeps track of for reuse
// (64 KiB each).
const maxReadBufs = 32

// readBufs lets connections reuse their read buffers once the
// application has recycled every small frame handed out of them (Take),
// as libzmq reuses a receive buffer whose messages are all closed.
// Without it, a stream of small messages leaves a fresh 64 KiB buffer
// behind every 64 KiB received, which the runtime zeroes, the kernel
// faults in, and the collector reclaims: at 256-byte messages that is a
// third of the receiving side's work. It is off until the first Recycle.
//
// A buffer's refs counts the frames taken from it minus those recycled:
// Recycle subtracts as frames come back, the reader adds its count of
// taken frames when it moves to another buffer (retire); whoever brings
// refs to zero after that frees the buffer. Recycle finds a frame's
// buffer by its address among the registered ones (reg).
type readBufs struct {
	reg  atomic.Pointer[[]rbufRef] // newest first; replaced, never modified
	mu   sync.Mutex                // guards free, made, the states and writers of reg
	free []*rbuf
	made int // buffers allocated (tests)
}

// rbufRef is a registry entry: the address range of a buffer, kept in
// the entry so that a lookup reads one array.
type rbufRef struct {
	start, size uintptr
	rb          *rbuf
}

type rbuf struct {
	b     []byte
	refs  atomic.Int64
	state rbufState // guarded by readBufs.mu
	seq   uint64    // guarded by readBufs.mu: order of retirement
}

type rbufState uint8

const (
	rbufInUse   rbufState = iota // a reader fills it and takes from it
	rbufRetired                  // frames of it are still out
	rbufFree                     // in the free list
	rbufDropped                  // no longer registered: left to the GC
)

var rbufSeq atomic.Uint64

// get returns a buffer of size bytes for a reader, tracked when it can
// be (else rb is nil and b a plain new buffer).
func (rs *readBufs) get(size int) (rb *rbuf, b []byte) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if n := len(rs.free); n > 0 && len(rs.free[n-1].b) == size {
		rb = rs.free[n-1]
		rs.free[n-1] = nil
		rs.free = rs.free[:n-1]
		rb.state = rbufInUse
		return rb, rb.b
	}
	var reg []rbufRef
	if p := rs.reg.Load(); p != nil {
		reg = *p
	}
	if len(reg) >= maxReadBufs {
		// Drop the buffer retired longest ago: its frames were not all
		// recycled (the application keeps some, or Recycle is not
		// called for every message).
		oldest := -1
		for i, r := range reg {
			if r.rb.state == rbufRetired && (oldest < 0 || r.rb.seq < reg[oldest].rb.seq) {
				oldest = i
			}
		}
		if oldest < 0 {
			return nil, make([]byte, size)
		}
		reg[oldest].rb.state = rbufDropped
		reg = append(append(make([]rbufRef, 0, len(reg)), reg[:oldest]...), reg[oldest+1:]...)
	}
	rs.made++
	rb = &rbuf{b: make([]byte, size)}
	ref := rbufRef{start: uintptr(unsafe.Pointer(unsafe.SliceData(rb.b))), size: uintptr(size), rb: rb}
	nreg := append(make([]rbufRef, 0, len(reg)+1), ref)
	nreg = append(nreg, reg...)
	rs.reg.Store(&nreg)
	return rb, rb.b
}

// retire ends a reader's use of rb, from which it took taken frames.
func (rs *readBufs) retire(rb *rbuf, taken int64) {
	rs.mu.Lock()
	rb.state = rbufRetired
	rb.seq = rbufSeq.Add(1)
	rs.mu.Unlock()
	if rb.refs.Add(taken) == 0 {
		rs.release(rb)
	}
}

// release frees rb, whose frames have all come back.
func (rs *readBufs) release(rb *rbuf) {
	rs.mu.Lock()
	if rb.state == rbufRetired {
		rb.state = rbufFree
		rs.free = append(rs.free, rb)
	}
	rs.mu.Unlock()
}

// recycle takes back a frame, if it came out of a registered buffer.
func (rs *readBufs) recycle(f []byte) {
	p := rs.reg.Load()
	if p == nil || len(f) == 0 {
		return
	}
	a := uintptr(unsafe.Pointer(unsafe.SliceData(f)))
	for _, r := range *p {
		if a-r.start < r.size {
			if r.rb.refs.Add(-1) == 0 {
				rs.release(r.rb)
			}
			return
		}
	}
}

// recycleMsg takes back the frames of a message the socket drops or
// strips itself, which the application never sees, as Recycle does once
// the application uses it.
func (fp *framePool) recycleMsg(m Msg) {
	if fp.on.Load() {
		fp.put(m)
	}
}
