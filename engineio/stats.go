package engineio

import "sync/atomic"

// Stats are a Server's running counters, read with Server.Stats.
type Stats struct {
	// Open is the number of open sockets.
	Open int
	// Handshakes counts sessions opened; Upgrades, polling sessions
	// upgraded to WebSocket.
	Handshakes, Upgrades uint64
	// Refused counts requests answered with a protocol error;
	// RefusedByCode splits them by error code (0 to 5).
	Refused       uint64
	RefusedByCode [6]uint64
	// PayloadTooLarge counts HTTP bodies (413) and WebSocket messages over
	// MaxPayload.
	PayloadTooLarge uint64
	// ParseErrors counts sockets closed for a malformed packet.
	ParseErrors uint64
	// QueueFull counts Sends refused with ErrQueueFull.
	QueueFull uint64
	// WriteTimeouts counts clients closed because a write did not finish
	// within WriteTimeout.
	WriteTimeouts uint64
	// Closed counts closed sockets; ClosedByReason splits them by reason
	// ("transport close", "ping timeout", ...).
	Closed         uint64
	ClosedByReason map[string]uint64
	// PacketsIn/Out and BytesIn/Out count Engine.IO packets and their
	// encoded bytes, every transport and packet type included.
	PacketsIn, PacketsOut, BytesIn, BytesOut uint64
}

// SocketStats are one socket's running counters, read with Socket.Stats.
type SocketStats struct {
	// MessagesIn/Out count message packets; BytesIn/Out their Data bytes.
	MessagesIn, MessagesOut, BytesIn, BytesOut uint64
	// Queued is the number of packets waiting to be written.
	Queued int
}

type serverStats struct {
	handshakes, upgrades, refused                   atomic.Uint64
	refusedByCode                                   [6]atomic.Uint64
	tooLarge, parseErrors, queueFull, writeTimeouts atomic.Uint64
	closed                                          atomic.Uint64
	closedByReason                                  [len(reasons)]atomic.Uint64
	packetsIn, packetsOut, bytesIn, bytesOut        atomic.Uint64
}

func (st *serverStats) snapshot(open int) Stats {
	s := Stats{
		Open:            open,
		Handshakes:      st.handshakes.Load(),
		Upgrades:        st.upgrades.Load(),
		Refused:         st.refused.Load(),
		PayloadTooLarge: st.tooLarge.Load(),
		ParseErrors:     st.parseErrors.Load(),
		QueueFull:       st.queueFull.Load(),
		WriteTimeouts:   st.writeTimeouts.Load(),
		Closed:          st.closed.Load(),
		ClosedByReason:  make(map[string]uint64, len(reasons)),
		PacketsIn:       st.packetsIn.Load(),
		PacketsOut:      st.packetsOut.Load(),
		BytesIn:         st.bytesIn.Load(),
		BytesOut:        st.bytesOut.Load(),
	}
	for i := range st.refusedByCode {
		s.RefusedByCode[i] = st.refusedByCode[i].Load()
	}
	for i, r := range reasons {
		if n := st.closedByReason[i].Load(); n > 0 {
			s.ClosedByReason[r] = n
		}
	}
	return s
}
