package endpoint

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Stats are the running totals of a connection. For stream connections a
// message is one Read or Write call that moved data; for datagram sockets it
// is one datagram.
type Stats struct {
	MsgsIn   uint64 `json:"msgs_in"`
	MsgsOut  uint64 `json:"msgs_out"`
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
}

type counters struct {
	msgsIn, msgsOut, bytesIn, bytesOut atomic.Uint64
}

func (c *counters) in(n int) {
	if n > 0 {
		c.msgsIn.Add(1)
		c.bytesIn.Add(uint64(n))
	}
}

func (c *counters) out(n int) {
	if n > 0 {
		c.msgsOut.Add(1)
		c.bytesOut.Add(uint64(n))
	}
}

func (c *counters) stats() Stats {
	return Stats{c.msgsIn.Load(), c.msgsOut.Load(), c.bytesIn.Load(), c.bytesOut.Load()}
}

// TCPInfo holds the kernel's TCP_INFO figures for a TCP connection.
type TCPInfo struct {
	State         string        `json:"state"`
	RTT           time.Duration `json:"rtt"`
	RTTVar        time.Duration `json:"rttvar"`
	BytesSent     uint64        `json:"bytes_sent"`
	BytesAcked    uint64        `json:"bytes_acked"`
	BytesReceived uint64        `json:"bytes_received"`
	SegsOut       uint32        `json:"segs_out"`
	SegsIn        uint32        `json:"segs_in"`
	Retransmits   uint32        `json:"retransmits"`
	SendCwnd      uint32        `json:"snd_cwnd"`
	Unacked       uint32        `json:"unacked"`
	// Backlog is the listen queue length of a listening socket.
	Backlog uint32 `json:"backlog,omitempty"`
}

// ErrNoTCPInfo is returned by TCPInfo on connections that are not TCP.
var ErrNoTCPInfo = errors.New("endpoint: no TCP_INFO for this connection")

// ErrNoSocket is returned by SyscallConn when there is no socket under a
// connection.
var ErrNoSocket = errors.New("endpoint: no raw socket")

// ErrMessageSize is matched (errors.Is) by a *DatagramSizeError.
var ErrMessageSize = errors.New("endpoint: datagram larger than the path MTU")

// DatagramSizeError reports a datagram refused because it is larger than
// the path MTU allows.
type DatagramSizeError struct {
	Size int // bytes the caller tried to send
	MTU  int // the path MTU, when the kernel knows it (0 otherwise)
}

func (e *DatagramSizeError) Error() string {
	if e.MTU > 0 {
		return fmt.Sprintf("endpoint: datagram of %d bytes refused: larger than the path MTU of %d bytes", e.Size, e.MTU)
	}
	return fmt.Sprintf("endpoint: datagram of %d bytes refused: larger than the path MTU", e.Size)
}

// Is makes errors.Is(err, ErrMessageSize) true.
func (e *DatagramSizeError) Is(target error) bool { return target == ErrMessageSize }

// Conn is a connection from Dial or a Listener. It implements net.Conn and
// counts messages and bytes in each direction. Both addresses stay readable
// as text after Close. Multiple goroutines may invoke methods on a Conn
// simultaneously. The caller must Close it.
type Conn struct {
	nc         net.Conn
	rc         syscall.RawConn // the socket under any TLS or WebSocket layer; may be nil
	proto      string
	local      string
	remote     string
	acceptedBy string
	datagram   bool
	tcp        bool // a TCP socket is underneath: TCP_INFO applies
	v6         bool
	since      time.Time
	ctr        counters
	closeOnce  sync.Once
	closeErr   error
	lastInfo   atomic.Pointer[TCPInfo]
	onClose    func()
	handshake  chan struct{} // closed when a background TLS handshake ends
}

var _ net.Conn = (*Conn)(nil)

func newConn(nc net.Conn, proto string, acceptedBy string) *Conn {
	c := &Conn{nc: nc, proto: proto, acceptedBy: acceptedBy, since: time.Now()}
	c.local = addrText(nc.LocalAddr())
	c.remote = addrText(nc.RemoteAddr())
	c.rc = rawConnOf(nc)
	_, c.tcp = nc.LocalAddr().(*net.TCPAddr)
	if ua, ok := nc.LocalAddr().(*net.UDPAddr); ok {
		c.datagram = true
		c.v6 = ua.IP.To4() == nil
	}
	if _, ok := nc.LocalAddr().(*net.UnixAddr); ok && nc.LocalAddr().Network() == "unixgram" {
		c.datagram = true
	}
	return c
}

func rawConnOf(nc net.Conn) syscall.RawConn {
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			return rc
		}
	}
	return nil
}

func addrText(a net.Addr) string {
	if a == nil {
		return ""
	}
	if ua, ok := a.(*net.UnixAddr); ok && ua.Name == "" {
		return "@" // unnamed unix socket
	}
	return a.String()
}

// Read reads data (one datagram on datagram sockets).
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.nc.Read(b)
	c.ctr.in(n)
	return n, err
}

// Write writes data (one datagram on datagram sockets, refused with a
// *DatagramSizeError when larger than the path MTU).
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.nc.Write(b)
	c.ctr.out(n)
	if err != nil && c.datagram && isMsgSize(err) {
		mtu := 0
		if c.rc != nil {
			mtu = pathMTU(c.rc, c.v6)
		}
		return n, &net.OpError{Op: "write", Net: c.proto, Addr: c.nc.RemoteAddr(), Err: &DatagramSizeError{Size: len(b), MTU: mtu}}
	}
	return n, err
}

// Close closes the connection. It is idempotent; later calls return the
// first result.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		if c.rc != nil && c.tcp {
			if ti, err := tcpInfo(c.rc); err == nil {
				c.lastInfo.Store(&ti)
			}
		}
		c.closeErr = c.nc.Close()
		if c.handshake != nil {
			<-c.handshake
		}
		if c.onClose != nil {
			c.onClose()
		}
	})
	return c.closeErr
}

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// Proto returns the protocol: "tcp", "unix", "udp", "tls", "ws", ...
func (c *Conn) Proto() string { return c.proto }

// Local returns the local address as text; it stays readable after Close.
func (c *Conn) Local() string { return c.local }

// Remote returns the remote address as text; it stays readable after Close.
func (c *Conn) Remote() string { return c.remote }

// AcceptedBy returns the address of the listener that accepted the
// connection (such as "0.0.0.0:7000" while Local shows the interface
// address that answered), or "" for dialled connections.
func (c *Conn) AcceptedBy() string { return c.acceptedBy }

// Since returns when the connection was established.
func (c *Conn) Since() time.Time { return c.since }

// Stats returns the running totals.
func (c *Conn) Stats() Stats { return c.ctr.stats() }

// NetConn returns the connection under the counters (a *net.TCPConn,
// *tls.Conn, ...).
func (c *Conn) NetConn() net.Conn { return c.nc }

// TCPInfo returns the kernel's TCP_INFO figures. After Close it returns the
// figures taken just before closing.
func (c *Conn) TCPInfo() (TCPInfo, error) {
	if p := c.lastInfo.Load(); p != nil {
		return *p, nil
	}
	if c.rc == nil || !c.tcp {
		return TCPInfo{}, ErrNoTCPInfo
	}
	return tcpInfo(c.rc)
}

// SyscallConn returns the raw socket, for reading options back.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	if c.rc == nil {
		return nil, ErrNoSocket
	}
	return c.rc, nil
}

// CloseWrite shuts down the writing side of a stream connection (TCP, Unix,
// TLS), so the peer reads EOF while we can still read its reply.
func (c *Conn) CloseWrite() error {
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.nc.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return ErrNoSocket
}
