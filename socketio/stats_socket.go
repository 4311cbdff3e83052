package socketio

import "github.com/switchboard/switchboard/engineio"

// Queued returns the number of Engine.IO packets waiting to go out on the
// socket's connection (shared by every namespace of that connection), or 0
// when the connection does not report it (a test transport, say).
func (s *Socket) Queued() int {
	if s == nil || s.conn == nil {
		return 0
	}
	if st, ok := s.conn.ec.(interface{ Stats() engineio.SocketStats }); ok {
		return st.Stats().Queued
	}
	return 0
}
