//go:build linux

package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// closedErr maps the os package's closed-file error to net.ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	return err
}

// VsockAddr is the address of a vsock socket.
type VsockAddr struct {
	CID  uint32
	Port uint32
}

// Network returns "vsock".
func (a *VsockAddr) Network() string { return Vsock }

// String returns "CID:PORT".
func (a *VsockAddr) String() string {
	return strconv.FormatUint(uint64(a.CID), 10) + ":" + strconv.FormatUint(uint64(a.Port), 10)
}

func parseVsock(address string) (cid, port uint32) {
	c, p, _ := strings.Cut(address, ":")
	cid = unix.VMADDR_CID_ANY
	if c != "" {
		n, _ := strconv.ParseUint(c, 10, 32)
		cid = uint32(n)
	}
	n, _ := strconv.ParseUint(p, 10, 32)
	return cid, uint32(n)
}

func vsockErr(op string, err error) error { return vsockErrCID(op, err, unix.VMADDR_CID_ANY) }

// vsockErrCID explains vsock failures that mean "no transport": no
// AF_VSOCK at all, no transport to the host or VMs, or no local loopback
// transport for CID 1.
func vsockErrCID(op string, err error, cid uint32) error {
	switch {
	case errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("%w: %s: %v", ErrNoVsock, op, err)
	case errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENETUNREACH), errors.Is(err, unix.EHOSTUNREACH),
		errors.Is(err, unix.ETIMEDOUT), errors.Is(err, unix.ECONNRESET):
		if !vsockTransport() {
			return fmt.Errorf("%w: %s: %v", ErrNoVsock, op, err)
		}
		if cid == unix.VMADDR_CID_LOCAL {
			return fmt.Errorf("%w: %s to CID 1 (local): %v (is the vsock_loopback module loaded?)", ErrNoVsock, op, err)
		}
	}
	return os.NewSyscallError(op, err)
}

// vsockTransport reports whether the kernel has a vsock transport
// (it knows this machine's CID).
func vsockTransport() bool {
	f, err := os.Open("/dev/vsock")
	if err != nil {
		return false
	}
	defer f.Close()
	cid, err := unix.IoctlGetUint32(int(f.Fd()), unix.IOCTL_VM_SOCKETS_GET_LOCAL_CID)
	return err == nil && cid != unix.VMADDR_CID_ANY
}

type vsockListener struct {
	f      *os.File
	rc     syscall.RawConn
	addr   *VsockAddr
	closed atomic.Bool
}

func listenVsock(address string, o *Options) (net.Listener, error) {
	cid, port := parseVsock(address)
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, vsockErr("socket", err)
	}
	if err := applyPre(fd, Vsock, o, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrVM{CID: cid, Port: port}); err != nil {
		unix.Close(fd)
		return nil, vsockErr("bind", err)
	}
	backlog := o.Backlog
	if backlog == 0 {
		backlog = unix.SOMAXCONN
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return nil, vsockErr("listen", err)
	}
	local := &VsockAddr{CID: cid, Port: port}
	if sa, err := unix.Getsockname(fd); err == nil {
		if vm, ok := sa.(*unix.SockaddrVM); ok {
			local = &VsockAddr{CID: vm.CID, Port: vm.Port}
		}
	}
	f := os.NewFile(uintptr(fd), "vsock:"+local.String())
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &vsockListener{f: f, rc: rc, addr: local}, nil
}

func (l *vsockListener) Accept() (net.Conn, error) {
	var nfd int
	var sa unix.Sockaddr
	var aerr error
	err := l.rc.Read(func(fd uintptr) bool {
		nfd, sa, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		return aerr != unix.EAGAIN
	})
	if err != nil {
		if l.closed.Load() {
			err = net.ErrClosed
		}
		return nil, &net.OpError{Op: "accept", Net: Vsock, Addr: l.addr, Err: closedErr(err)}
	}
	if aerr != nil {
		return nil, &net.OpError{Op: "accept", Net: Vsock, Addr: l.addr, Err: os.NewSyscallError("accept4", aerr)}
	}
	remote := &VsockAddr{}
	if vm, ok := sa.(*unix.SockaddrVM); ok {
		remote = &VsockAddr{CID: vm.CID, Port: vm.Port}
	}
	return newVsockConn(nfd, remote), nil
}

func (l *vsockListener) Close() error {
	l.closed.Store(true)
	return closedErr(l.f.Close())
}

func (l *vsockListener) Addr() net.Addr                        { return l.addr }
func (l *vsockListener) SyscallConn() (syscall.RawConn, error) { return l.rc, nil }

// vsockConn is a connected vsock stream over an *os.File, which gives it
// the runtime poller and deadlines.
type vsockConn struct {
	*os.File
	local, remote *VsockAddr
}

func newVsockConn(fd int, remote *VsockAddr) *vsockConn {
	local := &VsockAddr{}
	if sa, err := unix.Getsockname(fd); err == nil {
		if vm, ok := sa.(*unix.SockaddrVM); ok {
			local = &VsockAddr{CID: vm.CID, Port: vm.Port}
		}
	}
	return &vsockConn{File: os.NewFile(uintptr(fd), "vsock:"+remote.String()), local: local, remote: remote}
}

func (c *vsockConn) Read(b []byte) (int, error)  { n, err := c.File.Read(b); return n, closedErr(err) }
func (c *vsockConn) Write(b []byte) (int, error) { n, err := c.File.Write(b); return n, closedErr(err) }
func (c *vsockConn) LocalAddr() net.Addr         { return c.local }
func (c *vsockConn) RemoteAddr() net.Addr        { return c.remote }

func dialVsock(ctx context.Context, address string, o *Options) (net.Conn, error) {
	cid, port := parseVsock(address)
	if cid == unix.VMADDR_CID_ANY {
		cid = unix.VMADDR_CID_HOST
	}
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, vsockErr("socket", err)
	}
	if err := applyPre(fd, Vsock, o, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	remote := &VsockAddr{CID: cid, Port: port}
	err = unix.Connect(fd, &unix.SockaddrVM{CID: cid, Port: port})
	if err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return nil, vsockErrCID("connect", err, cid)
	}
	c := newVsockConn(fd, remote)
	if err == nil {
		return c, nil
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetWriteDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(aLongTimeAgo) })
	defer stop()
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var cerr error
	werr := rc.Write(func(fd uintptr) bool {
		if _, err := unix.Getpeername(int(fd)); err == nil {
			return true
		}
		n, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			cerr = err
			return true
		}
		if n != 0 {
			cerr = syscall.Errno(n)
			return true
		}
		return false
	})
	c.SetWriteDeadline(noDeadline)
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("vsock connect: %w", ctx.Err())
		}
		return nil, vsockErrCID("connect", werr, cid)
	}
	return c, nil
}

// NetlinkAddr is the address of a netlink socket.
type NetlinkAddr struct {
	Family string
	PortID uint32
	Groups uint32
}

// Network returns "netlink".
func (a *NetlinkAddr) Network() string { return Netlink }

// String returns "family:portid" (with "/groups" when non-zero).
func (a *NetlinkAddr) String() string {
	s := a.Family + ":" + strconv.FormatUint(uint64(a.PortID), 10)
	if a.Groups != 0 {
		s += "/" + strconv.FormatUint(uint64(a.Groups), 10)
	}
	return s
}

func listenNetlink(family string, o *Options) (net.PacketConn, error) {
	proto, _ := NetlinkFamily(family)
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := applyPre(fd, Netlink, o, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	groups := o.Group
	if groups == 0 && proto == unix.NETLINK_KOBJECT_UEVENT {
		groups = 1 // kernel uevents
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	local := &NetlinkAddr{Family: family, Groups: groups}
	if sa, err := unix.Getsockname(fd); err == nil {
		if nl, ok := sa.(*unix.SockaddrNetlink); ok {
			local.PortID = nl.Pid
		}
	}
	return newRawPacketConn(fd, local, family, true)
}

// rawPacketConn is a datagram socket over an *os.File (netlink and other
// families the net package does not know).
type rawPacketConn struct {
	f        *os.File
	rc       syscall.RawConn
	local    net.Addr
	family   string
	readOnly bool
	closed   atomic.Bool
}

func newRawPacketConn(fd int, local net.Addr, family string, readOnly bool) (*rawPacketConn, error) {
	f := os.NewFile(uintptr(fd), local.Network()+":"+local.String())
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawPacketConn{f: f, rc: rc, local: local, family: family, readOnly: readOnly}, nil
}

func (p *rawPacketConn) readMsg(b, oob []byte) (n, oobn int, from net.Addr, err error) {
	var sa unix.Sockaddr
	var rerr error
	err = p.rc.Read(func(fd uintptr) bool {
		n, oobn, _, sa, rerr = unix.Recvmsg(int(fd), b, oob, 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		if p.closed.Load() {
			err = net.ErrClosed
		}
		return 0, 0, nil, &net.OpError{Op: "read", Net: p.local.Network(), Addr: p.local, Err: closedErr(err)}
	}
	if nl, ok := sa.(*unix.SockaddrNetlink); ok {
		from = &NetlinkAddr{Family: p.family, PortID: nl.Pid, Groups: nl.Groups}
	}
	return n, oobn, from, nil
}

func (p *rawPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, _, from, err := p.readMsg(b, nil)
	return n, from, err
}

func (p *rawPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if p.readOnly {
		return 0, &net.OpError{Op: "write", Net: p.local.Network(), Addr: addr, Err: ErrReadOnly}
	}
	return 0, &net.OpError{Op: "write", Net: p.local.Network(), Addr: addr, Err: errors.ErrUnsupported}
}

func (p *rawPacketConn) Close() error {
	p.closed.Store(true)
	return closedErr(p.f.Close())
}

func (p *rawPacketConn) LocalAddr() net.Addr                   { return p.local }
func (p *rawPacketConn) SetDeadline(t time.Time) error         { return p.f.SetDeadline(t) }
func (p *rawPacketConn) SetReadDeadline(t time.Time) error     { return p.f.SetReadDeadline(t) }
func (p *rawPacketConn) SetWriteDeadline(t time.Time) error    { return p.f.SetWriteDeadline(t) }
func (p *rawPacketConn) SyscallConn() (syscall.RawConn, error) { return p.rc, nil }

// openFD opens an inherited socket: fd://N, or fd://NAME looked up in
// systemd's LISTEN_FDNAMES. It returns a listener for a listening stream
// socket (stream true) or a packet conn for a datagram socket, and then owns
// the descriptor; for a socket of the other kind it returns ErrWrongKind and
// leaves the descriptor alone.
func openFD(name string, o *Options, getenv func(string) string, stream bool) (net.Listener, net.PacketConn, error) {
	fd, err := activationFD(name, getenv, os.Getpid())
	if err != nil {
		return nil, nil, err
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		if errors.Is(err, unix.EBADF) {
			return nil, nil, fmt.Errorf("fd %d is not open (was the socket passed by systemd?)", fd)
		}
		return nil, nil, fmt.Errorf("fd %d is not a socket: %w", fd, err)
	}
	if (typ == unix.SOCK_STREAM) != stream {
		// Leave the descriptor open for the call of the right kind.
		return nil, nil, fmt.Errorf("fd %d: %w", fd, ErrWrongKind)
	}
	f := os.NewFile(uintptr(fd), "fd:"+name)
	defer f.Close() // the net package dups it
	network := "unix"
	if sa, err := unix.Getsockname(fd); err == nil {
		switch sa.(type) {
		case *unix.SockaddrInet4:
			network = "tcp4"
		case *unix.SockaddrInet6:
			network = "tcp6"
		}
	}
	switch typ {
	case unix.SOCK_STREAM:
		acc, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		if acc == 0 {
			return nil, nil, fmt.Errorf("fd %d is a stream socket that is not listening", fd)
		}
		if err := applyPre(fd, network, o, true); err != nil {
			return nil, nil, err
		}
		l, err := net.FileListener(f)
		return l, nil, err
	case unix.SOCK_DGRAM:
		if o.NoDelay || o.KeepAlive != 0 || o.DeferAccept != 0 {
			return nil, nil, &OptionError{Option: "nodelay/keepalive/deferaccept", Proto: "fd (datagram)", Err: ErrNotApplicable}
		}
		network = strings.Replace(network, "tcp", "udp", 1)
		if err := applyPre(fd, network, o, true); err != nil {
			return nil, nil, err
		}
		pc, err := net.FilePacketConn(f)
		return nil, pc, err
	}
	return nil, nil, fmt.Errorf("fd %d: socket type %d is neither stream nor datagram", fd, typ)
}
