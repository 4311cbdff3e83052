package endpoint

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// PacketConn is a datagram socket from ListenPacket: UDP (unicast or a
// joined multicast group), Unix datagram, netlink, or an inherited datagram
// socket. It implements net.PacketConn, counts datagrams and bytes, refuses
// datagrams larger than the path MTU with a *DatagramSizeError, and returns
// kernel receive timestamps from ReadMsg when the timestamp option is on.
// Multiple goroutines may invoke methods simultaneously. The caller must
// Close it.
type PacketConn struct {
	pc        net.PacketConn
	rc        syscall.RawConn
	proto     string
	local     string
	v6        bool
	timestamp bool
	since     time.Time
	ctr       counters
	closeOnce sync.Once
	closeErr  error
}

var _ net.PacketConn = (*PacketConn)(nil)

func newPacketConn(pc net.PacketConn, proto string, o *Options) *PacketConn {
	p := &PacketConn{pc: pc, proto: proto, local: addrText(pc.LocalAddr()), timestamp: o.Timestamp, since: time.Now()}
	if sc, ok := pc.(syscall.Conn); ok {
		p.rc, _ = sc.SyscallConn()
	}
	if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok {
		p.v6 = ua.IP.To4() == nil
	}
	return p
}

// ReadFrom reads one datagram.
func (p *PacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := p.pc.ReadFrom(b)
	if err == nil {
		p.ctr.msgsIn.Add(1)
		p.ctr.bytesIn.Add(uint64(n))
	}
	return n, a, err
}

// ReadMsg reads one datagram with its kernel receive timestamp (zero unless
// the timestamp option is on and the socket kind supports it).
func (p *PacketConn) ReadMsg(b []byte) (n int, from net.Addr, ts time.Time, err error) {
	type msgReader interface {
		ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error)
	}
	type unixMsgReader interface {
		ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error)
	}
	if !p.timestamp {
		n, from, err = p.ReadFrom(b)
		return n, from, time.Time{}, err
	}
	oob := make([]byte, oobSize)
	var oobn int
	switch r := p.pc.(type) {
	case msgReader:
		var a *net.UDPAddr
		n, oobn, _, a, err = r.ReadMsgUDP(b, oob)
		if a != nil {
			from = a
		}
	case unixMsgReader:
		var a *net.UnixAddr
		n, oobn, _, a, err = r.ReadMsgUnix(b, oob)
		if a != nil {
			from = a
		}
	case *rawPacketConn:
		n, oobn, from, err = r.readMsg(b, oob)
	default:
		n, from, err = p.pc.ReadFrom(b)
	}
	if err != nil {
		return n, from, time.Time{}, err
	}
	p.ctr.msgsIn.Add(1)
	p.ctr.bytesIn.Add(uint64(n))
	return n, from, timestampFromOOB(oob[:oobn]), nil
}

// WriteTo sends one datagram to addr.
func (p *PacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	n, err := p.pc.WriteTo(b, addr)
	if err == nil {
		p.ctr.msgsOut.Add(1)
		p.ctr.bytesOut.Add(uint64(n))
	} else if isMsgSize(err) {
		return n, &net.OpError{Op: "write", Net: p.proto, Addr: addr, Err: &DatagramSizeError{Size: len(b), MTU: p.mtuTo(addr)}}
	}
	return n, err
}

// mtuTo returns the MTU of the interface that routes to addr, or 0.
func (p *PacketConn) mtuTo(addr net.Addr) int {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0
	}
	// A connected throw-away socket tells the kernel's path MTU.
	c, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return 0
	}
	defer c.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	return pathMTU(rc, ua.IP.To4() == nil)
}

// Close closes the socket; it is idempotent.
func (p *PacketConn) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.pc.Close() })
	return p.closeErr
}

// LocalAddr returns the local address.
func (p *PacketConn) LocalAddr() net.Addr { return p.pc.LocalAddr() }

// SetDeadline sets the read and write deadlines.
func (p *PacketConn) SetDeadline(t time.Time) error { return p.pc.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (p *PacketConn) SetReadDeadline(t time.Time) error { return p.pc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (p *PacketConn) SetWriteDeadline(t time.Time) error { return p.pc.SetWriteDeadline(t) }

// Proto returns the protocol ("udp", "unixgram", "netlink", ...).
func (p *PacketConn) Proto() string { return p.proto }

// Local returns the local address as text; it stays readable after Close.
func (p *PacketConn) Local() string { return p.local }

// Since returns when the socket was opened.
func (p *PacketConn) Since() time.Time { return p.since }

// Stats returns the running totals.
func (p *PacketConn) Stats() Stats { return p.ctr.stats() }

// SyscallConn returns the raw socket, for reading options back.
func (p *PacketConn) SyscallConn() (syscall.RawConn, error) {
	if p.rc == nil {
		return nil, ErrNoSocket
	}
	return p.rc, nil
}
