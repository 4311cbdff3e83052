package dgram

import (
	"net"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/monitor"
)

var (
	_ hub.Watched = (*sender)(nil)
	_ hub.Watched = mirrorPeer{}
	_ hub.Watched = netlinkPeer{}
)

func addrText(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Watch reports a sender's connection: door "udp", the door's address and
// the sender's, datagrams and bytes each way, replies waiting.
func (s *sender) Watch() monitor.Conn {
	state := "open"
	if s.gone.Load() {
		state = "closing"
	}
	return monitor.Conn{
		ID: "udp:" + s.key, Proto: "udp", Door: "udp",
		Local: addrText(s.d.pc.LocalAddr()), Remote: s.key,
		State: state, Since: s.since,
		MsgsIn: s.msgsIn.Load(), BytesIn: s.bytesIn.Load(),
		MsgsOut: s.msgsOut.Load(), BytesOut: s.bytesOut.Load(),
		Queue: int(s.pending.Load()),
	}
}

// Watch reports the mirror: door "mirror", the receiving socket's address
// and the group, datagrams and bytes each way, datagrams waiting.
func (p mirrorPeer) Watch() monitor.Conn {
	m := p.m
	return monitor.Conn{
		ID: "mirror:" + m.room, Proto: "udp", Door: "mirror",
		Local: addrText(m.rx.LocalAddr()), Remote: addrText(m.tx.RemoteAddr()),
		State: "open", Since: m.since,
		MsgsIn: m.in.Load(), BytesIn: m.bytesIn.Load(),
		MsgsOut: m.sent.Load(), BytesOut: m.bytesOut.Load(),
		Queue: len(m.out),
	}
}

// Watch reports the netlink door: door "netlink", its socket's address,
// the uevents said and their bytes.
func (p netlinkPeer) Watch() monitor.Conn {
	n := p.n
	return monitor.Conn{
		ID: "netlink:" + n.room, Proto: "netlink", Door: "netlink",
		Local: addrText(n.pc.LocalAddr()), State: "open", Since: n.since,
		MsgsIn: n.events.Load(), BytesIn: n.bytesIn.Load(),
	}
}
