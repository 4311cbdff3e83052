//go:build !linux

package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

func unsupported(what string) error {
	return fmt.Errorf("endpoint: %s not supported on %s", what, runtime.GOOS)
}

func closedErr(err error) error { return err }

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

// NetlinkAddr is the address of a netlink socket.
type NetlinkAddr struct {
	Family string
	PortID uint32
	Groups uint32
}

// Network returns "netlink".
func (a *NetlinkAddr) Network() string { return Netlink }

// String returns "family:portid".
func (a *NetlinkAddr) String() string {
	return a.Family + ":" + strconv.FormatUint(uint64(a.PortID), 10)
}

func listenVsock(string, *Options) (net.Listener, error) { return nil, unsupported("vsock") }

func dialVsock(context.Context, string, *Options) (net.Conn, error) {
	return nil, unsupported("vsock")
}

func listenNetlink(string, *Options) (net.PacketConn, error) { return nil, unsupported("netlink") }

func openFD(string, *Options, func(string) string, bool) (net.Listener, net.PacketConn, error) {
	return nil, nil, unsupported("fd:// (systemd socket activation)")
}

// rawPacketConn exists on Linux only.
type rawPacketConn struct{ net.PacketConn }

func (p *rawPacketConn) readMsg(b, oob []byte) (int, int, net.Addr, error) {
	return 0, 0, nil, unsupported("raw datagram sockets")
}

func applyPre(fd int, network string, o *Options, listen bool) error {
	if o.BindToDevice != nil || o.FreeBind || o.Mark != 0 || o.DeferAccept != 0 || o.Timestamp ||
		o.KeepAlive != 0 || o.MulticastLoop != nil || o.MulticastTTL != 0 || o.Interface != "" {
		return unsupported("this socket option")
	}
	if o.ReusePort || o.TOS != 0 || o.TTL != 0 || o.SendBuffer != 0 || o.RecvBuffer != 0 {
		return unsupported("this socket option")
	}
	return nil
}

func applyKeepAlive(int, *Options) error       { return unsupported("keepalive options") }
func joinGroup(int, net.IP, string) error      { return unsupported("multicast") }
func relisten(int, int) error                  { return unsupported("backlog") }
func setReuseAddr(int) error                   { return nil }
func pathMTU(syscall.RawConn, bool) int        { return 0 }
func isMsgSize(err error) bool                 { return errors.Is(err, syscall.EMSGSIZE) }
func tcpInfo(syscall.RawConn) (TCPInfo, error) { return TCPInfo{}, ErrNoTCPInfo }
func timestampFromOOB([]byte) time.Time        { return time.Time{} }

const oobSize = 0
