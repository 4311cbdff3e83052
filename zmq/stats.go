package zmq

// Stats returns a snapshot of the socket and of every peer pipe. It does
// not block on I/O.
func (s *Socket) Stats() Stats {
	st := Stats{Type: s.typ, Dropped: s.dropped.Load(), Refused: s.refused.Load()}
	s.mu.Lock()
	for _, l := range s.listeners {
		st.Bound = append(st.Bound, l.endpoint)
	}
	for _, d := range s.dialers {
		st.Connected = append(st.Connected, d.endpoint)
	}
	pipes := append([]*pipe(nil), s.pipes...)
	ids := make([][]byte, len(pipes))
	types := make([]string, len(pipes))
	for i, p := range pipes {
		ids[i], types[i] = p.routingID, p.peerType
	}
	s.mu.Unlock()
	s.inMu.Lock()
	st.RecvQueue = s.in.len()
	inq := make([]int, len(pipes))
	for i, p := range pipes {
		inq[i] = p.inCount
	}
	s.inMu.Unlock()
	for i, p := range pipes {
		cs := ConnStats{
			ID: p.id, Endpoint: p.endpoint, Transport: p.transport, PeerType: types[i],
			RoutingID: append([]byte(nil), ids[i]...),
			MsgsIn:    p.msgsIn.Load(), MsgsOut: p.msgsOut.Load(),
			BytesIn: p.bytesIn.Load(), BytesOut: p.bytesOut.Load(), Dropped: p.dropped.Load(),
			RecvQueue: inq[i],
		}
		p.mu.Lock()
		cs.SendQueue = len(p.q)
		if c := p.conn; c != nil {
			cs.Connected = true
			cs.Local, cs.Remote = c.nc.LocalAddr().String(), c.nc.RemoteAddr().String()
		} else if p.peer != nil {
			cs.Connected = true
		}
		p.mu.Unlock()
		st.Conns = append(st.Conns, cs)
	}
	return st
}
