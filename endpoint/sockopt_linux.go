//go:build linux

package endpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sockoptError wraps a failed setsockopt with the option's name.
func sockoptError(name string, err error) error {
	return &OptionError{Option: name, Proto: "socket", Err: os.NewSyscallError("setsockopt", err)}
}

// applyPre sets the options that must be in place before bind/connect. It
// runs inside RawConn.Control. network is Go's ("tcp4", "udp6", "unix", ...).
func applyPre(fd int, network string, o *Options, listen bool) error {
	v6 := strings.HasSuffix(network, "6")
	ip := strings.HasPrefix(network, "tcp") || strings.HasPrefix(network, "udp")
	tcp := strings.HasPrefix(network, "tcp")
	udp := strings.HasPrefix(network, "udp")
	set := func(name string, level, opt, v int) error {
		if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
			return sockoptError(name, err)
		}
		return nil
	}
	if o.ReusePort {
		if err := set("reuseport", unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return err
		}
	}
	if o.FreeBind {
		lvl, opt := unix.SOL_IP, unix.IP_FREEBIND
		if v6 {
			lvl, opt = unix.SOL_IPV6, unix.IPV6_FREEBIND
		}
		if err := set("freebind", lvl, opt, 1); err != nil {
			return err
		}
	}
	if o.BindToDevice != nil {
		if err := unix.BindToDevice(fd, *o.BindToDevice); err != nil {
			return sockoptError("bindtodevice", err)
		}
	}
	if o.TOS != 0 && ip {
		if v6 {
			if err := set("tos", unix.IPPROTO_IPV6, unix.IPV6_TCLASS, o.TOS); err != nil {
				return err
			}
		} else if err := set("tos", unix.IPPROTO_IP, unix.IP_TOS, o.TOS); err != nil {
			return err
		}
	}
	if o.TTL != 0 && ip {
		if v6 {
			if err := set("ttl", unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, o.TTL); err != nil {
				return err
			}
		} else if err := set("ttl", unix.IPPROTO_IP, unix.IP_TTL, o.TTL); err != nil {
			return err
		}
	}
	if o.Mark != 0 {
		if err := set("mark", unix.SOL_SOCKET, unix.SO_MARK, int(o.Mark)); err != nil {
			return err
		}
	}
	if o.SendBuffer != 0 {
		if err := set("sndbuf", unix.SOL_SOCKET, unix.SO_SNDBUF, o.SendBuffer); err != nil {
			return err
		}
	}
	if o.RecvBuffer != 0 {
		if err := set("rcvbuf", unix.SOL_SOCKET, unix.SO_RCVBUF, o.RecvBuffer); err != nil {
			return err
		}
	}
	if o.V6Only != nil && v6 {
		if err := set("v6only", unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, boolInt(*o.V6Only)); err != nil {
			return err
		}
	}
	if o.Timestamp {
		if err := set("timestamp", unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return err
		}
	}
	if tcp {
		if err := applyKeepAlive(fd, o); err != nil {
			return err
		}
		if o.DeferAccept != 0 {
			if err := set("deferaccept", unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, int(o.DeferAccept/time.Second)); err != nil {
				return err
			}
		}
	}
	if udp {
		// Refuse datagrams above the path MTU instead of fragmenting them.
		if v6 {
			if err := set("pmtudisc", unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO); err != nil {
				return err
			}
		} else if err := set("pmtudisc", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO); err != nil {
			return err
		}
		if err := applyMulticastSend(fd, v6, o); err != nil {
			return err
		}
	}
	return nil
}

func applyKeepAlive(fd int, o *Options) error {
	if o.KeepAlive == 0 {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return sockoptError("keepalive", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, int(o.KeepAlive/time.Second)); err != nil {
		return sockoptError("keepalive", err)
	}
	if o.KeepAliveInterval != 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, int(o.KeepAliveInterval/time.Second)); err != nil {
			return sockoptError("keepintvl", err)
		}
	}
	if o.KeepAliveCount != 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, o.KeepAliveCount); err != nil {
			return sockoptError("keepcnt", err)
		}
	}
	return nil
}

func applyMulticastSend(fd int, v6 bool, o *Options) error {
	if o.MulticastLoop != nil {
		lvl, opt := unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP
		if v6 {
			lvl, opt = unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP
		}
		if err := unix.SetsockoptInt(fd, lvl, opt, boolInt(*o.MulticastLoop)); err != nil {
			return sockoptError("mcastloop", err)
		}
	}
	if o.MulticastTTL != 0 {
		lvl, opt := unix.IPPROTO_IP, unix.IP_MULTICAST_TTL
		if v6 {
			lvl, opt = unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS
		}
		if err := unix.SetsockoptInt(fd, lvl, opt, o.MulticastTTL); err != nil {
			return sockoptError("mcastttl", err)
		}
	}
	if o.Interface != "" {
		ifi, err := net.InterfaceByName(o.Interface)
		if err != nil {
			return &OptionError{Option: "iface", Proto: UDP, Value: o.Interface, Err: err}
		}
		if v6 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifi.Index); err != nil {
				return sockoptError("iface", err)
			}
		} else if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)}); err != nil {
			return sockoptError("iface", err)
		}
	}
	return nil
}

// joinGroup joins a multicast group on a bound UDP socket.
func joinGroup(fd int, group net.IP, iface string) error {
	idx := 0
	if iface != "" {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return &OptionError{Option: "iface", Proto: UDP, Value: iface, Err: err}
		}
		idx = ifi.Index
	}
	if g4 := group.To4(); g4 != nil {
		m := &unix.IPMreqn{Ifindex: int32(idx)}
		copy(m.Multiaddr[:], g4)
		if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, m); err != nil {
			return fmt.Errorf("endpoint: join multicast group %s: %w", group, os.NewSyscallError("setsockopt", err))
		}
		return nil
	}
	m := &unix.IPv6Mreq{Interface: uint32(idx)}
	copy(m.Multiaddr[:], group.To16())
	if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, m); err != nil {
		return fmt.Errorf("endpoint: join multicast group %s: %w", group, os.NewSyscallError("setsockopt", err))
	}
	return nil
}

// relisten changes the backlog of a listening socket (Linux accepts a
// second listen call for that).
func relisten(fd, backlog int) error {
	if err := unix.Listen(fd, backlog); err != nil {
		return sockoptError("backlog", err)
	}
	return nil
}

func setReuseAddr(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pathMTU returns the kernel's path MTU for a connected socket, or 0.
func pathMTU(rc syscall.RawConn, v6 bool) int {
	mtu := 0
	_ = control(rc, func(fd int) error {
		var err error
		if v6 {
			mtu, err = unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU)
		} else {
			mtu, err = unix.GetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU)
		}
		return err
	})
	return mtu
}

func isMsgSize(err error) bool { return errors.Is(err, unix.EMSGSIZE) }

// tcpInfo reads TCP_INFO.
func tcpInfo(rc syscall.RawConn) (TCPInfo, error) {
	var ti TCPInfo
	err := control(rc, func(fd int) error {
		i, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return os.NewSyscallError("getsockopt", err)
		}
		ti = TCPInfo{
			State:         tcpStates[i.State%uint8(len(tcpStates))],
			RTT:           time.Duration(i.Rtt) * time.Microsecond,
			RTTVar:        time.Duration(i.Rttvar) * time.Microsecond,
			BytesSent:     i.Bytes_sent,
			BytesAcked:    i.Bytes_acked,
			BytesReceived: i.Bytes_received,
			SegsOut:       i.Segs_out,
			SegsIn:        i.Segs_in,
			Retransmits:   i.Total_retrans,
			SendCwnd:      i.Snd_cwnd,
			Unacked:       i.Unacked,
			Backlog:       i.Sacked,
		}
		return nil
	})
	return ti, err
}

var tcpStates = [...]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

// timestampFromOOB extracts an SCM_TIMESTAMPNS from control messages.
func timestampFromOOB(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec)
		}
	}
	return time.Time{}
}

const oobSize = 128
