package zmqdoor

import (
	"strconv"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/monitor"
	"github.com/switchboard/switchboard/zmq"
)

var (
	_ hub.Watched = (*pubPeer)(nil)
	_ hub.Watched = (*sockPeer)(nil)
)

// sockPeer is the Hub connection that shows an In, InSub or RPC socket in
// Hub.Conns; it hears nothing (what the socket brings in is said by the
// speakers of the door's pool).
type sockPeer struct {
	door  string
	s     *zmq.Socket
	since time.Time
}

func (*sockPeer) Deliver(*hub.Event) error { return nil }
func (*sockPeer) Close()                   {}

// Watch reports the socket.
func (p *sockPeer) Watch() monitor.Conn { return watchSocket(p.door, p.s, p.since) }

// Watch reports the XPUB socket.
func (p *pubPeer) Watch() monitor.Conn { return watchSocket("zmq-pub", p.d.pub, p.since) }

// watchSocket sums a socket's peers: messages and bytes each way, messages
// waiting to go out (and, for a receiving socket, to be taken). Remote is
// the one peer's address, or "N peers".
func watchSocket(door string, s *zmq.Socket, since time.Time) monitor.Conn {
	st := s.Stats()
	mc := monitor.Conn{
		ID: door, Proto: "zmq/" + st.Type.String(), Door: door,
		Local: s.LastEndpoint(), State: "listen", Since: since,
		Queue: st.RecvQueue,
	}
	n := 0
	for _, c := range st.Conns {
		mc.MsgsIn += c.MsgsIn
		mc.MsgsOut += c.MsgsOut
		mc.BytesIn += c.BytesIn
		mc.BytesOut += c.BytesOut
		mc.Queue += c.SendQueue
		if c.Connected {
			n++
			mc.Remote = c.Remote
		}
	}
	if n > 0 {
		mc.State = "open"
	}
	if n > 1 {
		mc.Remote = strconv.Itoa(n) + " peers"
	}
	return mc
}
