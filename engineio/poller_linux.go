//go:build linux

package engineio

import (
	"errors"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller parks idle WebSocket connections in one epoll set, so an idle
// connection holds no goroutine: when one becomes readable, the poller
// starts a read loop for it, which parks it again once nothing is
// buffered. One goroutine per Server runs it, started on first use and
// stopped by Close.
type poller struct {
	srv *Server

	wg      sync.WaitGroup // the poller goroutine
	mu      sync.Mutex
	started bool
	stopped bool
	epfd    int
	evfd    int
	conns   []*wsTransport // registered connections, by descriptor
}

func newPoller(srv *Server) *poller {
	return &poller{srv: srv, epfd: -1, evfd: -1}
}

// start creates the epoll set and its goroutine; p.mu is held.
func (p *poller) startLocked() error {
	if p.stopped {
		return ErrClosed
	}
	if p.started {
		return nil
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return err
	}
	p.epfd, p.evfd, p.started = epfd, evfd, true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.run(epfd, evfd)
	}()
	return nil
}

// fdOf returns the descriptor of a TCP or Unix connection, or -1.
func fdOf(c any) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil {
		return -1
	}
	return fd
}

// park registers t to be resumed when readable. It returns false when t
// cannot be parked; the caller then keeps reading on its goroutine. After
// true, the caller must not touch t's read side again.
func (p *poller) park(t *wsTransport) bool {
	if t.fd < 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.unparkable || p.startLocked() != nil {
		return false
	}
	t.parked.Store(true)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(t.fd)}
	op := unix.EPOLL_CTL_MOD
	if !t.registered {
		op = unix.EPOLL_CTL_ADD
	}
	if err := unix.EpollCtl(p.epfd, op, int(t.fd), &ev); err != nil {
		t.parked.Store(false)
		return false
	}
	t.registered = true
	if int(t.fd) >= len(p.conns) {
		// Descriptors are small and dense: a slice costs a word each.
		p.conns = append(p.conns, make([]*wsTransport, int(t.fd)+1-len(p.conns))...)
	}
	p.conns[t.fd] = t
	return true
}

// forget unregisters t before its connection closes; afterwards it is
// never resumed.
func (p *poller) forget(t *wsTransport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t.unparkable = true
	if !t.registered {
		return
	}
	t.registered = false
	// If the descriptor was closed under us and reused by a newer
	// connection, the entry is that connection's: leave it alone.
	if p.conns[t.fd] != t {
		return
	}
	p.conns[t.fd] = nil
	if p.epfd >= 0 {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(t.fd), nil)
	}
}

// stop ends the poller goroutine and waits for it; parked connections
// are closed by their sockets.
func (p *poller) stop() {
	p.mu.Lock()
	p.stopped = true
	if p.evfd >= 0 {
		var one = [8]byte{1}
		_, _ = unix.Write(p.evfd, one[:])
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// run waits for parked connections through the Go netpoller: the epoll
// set is itself a pollable descriptor, so the goroutine parks like any
// network read and holds no thread while it waits, and a wake-up costs
// no hand-off from a thread blocked in epoll_wait. Each time the set is
// readable it is drained with non-blocking epoll_wait calls.
func (p *poller) run(epfd, evfd int) {
	var f *os.File
	defer func() {
		p.mu.Lock()
		if f != nil {
			_ = f.Close() // closes epfd
		} else {
			unix.Close(epfd)
		}
		unix.Close(evfd)
		p.epfd, p.evfd = -1, -1
		p.mu.Unlock()
	}()
	var rc syscall.RawConn
	if unix.SetNonblock(epfd, true) == nil {
		f = os.NewFile(uintptr(epfd), "epoll")
		if c, err := f.SyscallConn(); err == nil {
			rc = c
		}
	}
	events := make([]unix.EpollEvent, 128)
	if rc == nil { // cannot happen on Linux: block in epoll_wait instead
		for p.drain(epfd, evfd, events, -1) {
		}
		return
	}
	done := false
	err := rc.Read(func(uintptr) bool {
		done = !p.drain(epfd, evfd, events, 0)
		return done
	})
	if err != nil && !done {
		p.srv.log.Error("epoll wait failed", "err", err)
		p.failAll()
	}
}

// drain takes the ready events of the epoll set (waiting up to msec, -1
// for ever) and resumes their connections, until none is left. It
// returns false once the poller must stop.
func (p *poller) drain(epfd, evfd int, events []unix.EpollEvent, msec int) bool {
	for {
		n, err := unix.EpollWait(epfd, events, msec)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			p.srv.log.Error("epoll wait failed", "err", err)
			p.failAll()
			return false
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(evfd) {
				return false
			}
			var t *wsTransport
			p.mu.Lock()
			if ev.Fd >= 0 && int(ev.Fd) < len(p.conns) {
				t = p.conns[ev.Fd]
			}
			p.mu.Unlock()
			if t == nil || !t.parked.CompareAndSwap(true, false) {
				continue
			}
			if !p.srv.goTracked(func() { t.sock.readLoop(t, false) }) {
				return false // closing: the sockets close their connections
			}
		}
		if n < len(events) && msec == 0 {
			return true
		}
	}
}

// failAll resumes every parked connection on its own goroutine after the
// epoll set failed.
func (p *poller) failAll() {
	p.mu.Lock()
	p.stopped = true
	var ts []*wsTransport
	for _, t := range p.conns {
		if t != nil {
			t.unparkable = true
			ts = append(ts, t)
		}
	}
	clear(p.conns)
	p.mu.Unlock()
	for _, t := range ts {
		if t.parked.CompareAndSwap(true, false) {
			p.srv.goTracked(func() { t.sock.readLoop(t, false) })
		}
	}
}

// readable reports whether fd has data to read now (or is at EOF).
func readable(fd int) bool {
	if fd < 0 {
		return false
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0 && pfd[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0
}
