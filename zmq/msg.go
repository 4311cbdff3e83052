package zmq

// Msg is one ZeroMQ message: its frames, in order. A message is delivered
// whole or not at all.
//
// Ownership: Send takes the frames without copying them; the caller must
// not modify them after Send returns. Frames returned by Recv belong to the
// caller but may share memory with the sender's frames (inproc never
// copies) or with other received messages, so treat them as read-only or
// copy before modifying.
type Msg [][]byte

// NewMsg returns a message of the given frames.
func NewMsg(frames ...[]byte) Msg { return Msg(frames) }

// NewMsgString returns a message whose frames are the given strings.
func NewMsgString(frames ...string) Msg {
	m := make(Msg, len(frames))
	for i, f := range frames {
		m[i] = []byte(f)
	}
	return m
}

// Size returns the total number of bytes over all frames.
func (m Msg) Size() int {
	n := 0
	for _, f := range m {
		n += len(f)
	}
	return n
}

// Clone returns a deep copy of m.
func (m Msg) Clone() Msg {
	c := make(Msg, len(m))
	for i, f := range m {
		c[i] = append([]byte(nil), f...)
	}
	return c
}

// ring is a growable FIFO.
type ring[T any] struct {
	buf        []T
	head, size int
}

func (r *ring[T]) len() int { return r.size }

func (r *ring[T]) push(v T) {
	if r.size == len(r.buf) {
		n := 2 * len(r.buf)
		if n == 0 {
			n = 64
		}
		nb := make([]T, n)
		k := copy(nb, r.buf[r.head:])
		copy(nb[k:], r.buf[:r.head])
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = v
	r.size++
}

func (r *ring[T]) pop() (T, bool) {
	var zero T
	if r.size == 0 {
		return zero, false
	}
	v := r.buf[r.head]
	r.buf[r.head] = zero
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	r.size--
	return v, true
}

func (r *ring[T]) peek() (T, bool) {
	var zero T
	if r.size == 0 {
		return zero, false
	}
	return r.buf[r.head], true
}
