//go:build linux

package zmq

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// readv reads into two buffers with one system call through the runtime's
// poller (deadlines apply). Its callback is a method value made once, so
// a read allocates nothing.
type readv struct {
	rc  syscall.RawConn
	iov [2][]byte
	fn  func(fd uintptr) bool
	n   int
	err error
}

func newReadv(rc syscall.RawConn) *readv {
	v := &readv{rc: rc}
	v.fn = v.do
	return v
}

func (v *readv) do(fd uintptr) bool {
	for {
		v.n, v.err = unix.Readv(int(fd), v.iov[:])
		if v.err != unix.EINTR {
			return v.err != unix.EAGAIN
		}
	}
}

// read reads into a, and what follows into b once a is full; it returns
// how much went into each. The end of the stream is io.EOF.
func (v *readv) read(a, b []byte) (na, nb int, err error) {
	v.iov[0], v.iov[1] = a, b
	v.n, v.err = 0, nil
	err = v.rc.Read(v.fn)
	v.iov = [2][]byte{}
	if err != nil {
		return 0, 0, err
	}
	n := max(v.n, 0)
	na, nb = min(n, len(a)), max(n-len(a), 0)
	if v.err != nil {
		return na, nb, os.NewSyscallError("readv", v.err)
	}
	if n == 0 {
		return 0, 0, io.EOF
	}
	return na, nb, nil
}
