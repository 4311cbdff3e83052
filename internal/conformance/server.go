package main

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/socketio"
)

// timings are the server's heartbeat and connect timeouts.
type timings struct {
	pingInterval, pingTimeout, connectTimeout time.Duration
}

// suiteTimings are the settings both test suites expect of the server
// under test (they check the first two in the handshake).
var suiteTimings = timings{
	pingInterval:   300 * time.Millisecond,
	pingTimeout:    200 * time.Millisecond,
	connectTimeout: 1000 * time.Millisecond,
}

// maxPayload is the suites' maxHttpBufferSize.
const maxPayload = 1_000_000

// server is the suites' reference server: an Engine.IO echo on /engine.io/
// and the Socket.IO reference handlers on /socket.io/.
type server struct {
	eio *engineio.Server
	sio *socketio.Server
	mux *http.ServeMux
}

// engineConfig returns the Engine.IO settings of the suites, with path.
func engineConfig(path string, tm timings, log *slog.Logger) *engineio.Config {
	return &engineio.Config{
		Path:         path,
		PingInterval: tm.pingInterval,
		PingTimeout:  tm.pingTimeout,
		MaxPayload:   maxPayload,
		CORS:         &engineio.CORS{Origins: []string{"*"}},
		Logger:       log,
	}
}

// newServer builds the reference server with timings tm (suiteTimings
// for the suites). log may be nil (silent).
func newServer(tm timings, log *slog.Logger) (*server, error) {
	eio, err := engineio.NewServer(engineConfig("/engine.io/", tm, log), func(s *engineio.Socket) {
		s.OnMessage(func(m engineio.Message) {
			if s.Send(m) != nil {
				s.Close() // the client does not read its echoes
			}
		})
	})
	if err != nil {
		return nil, err
	}
	sio, err := socketio.NewServer(&socketio.Config{
		Engine:         engineConfig("", tm, nil),
		ConnectTimeout: tm.connectTimeout,
		Logger:         log,
	})
	if err != nil {
		eio.Close()
		return nil, err
	}
	sio.Of("/").OnConnection(func(s *socketio.Socket) {
		emitAuth(s)
		s.On("message", func(args []any, _ socketio.AckFunc) {
			s.Emit("message-back", args...)
		})
		s.On("message-with-ack", func(args []any, ack socketio.AckFunc) {
			if ack != nil {
				ack(args...)
			}
		})
	})
	sio.Of("/custom").OnConnection(emitAuth)

	mux := http.NewServeMux()
	mux.Handle("/engine.io/", eio)
	mux.Handle("/socket.io/", sio)
	return &server{eio: eio, sio: sio, mux: mux}, nil
}

// emitAuth emits "auth" with the handshake's auth payload ({} when none).
func emitAuth(s *socketio.Socket) {
	auth := s.Handshake().Auth
	if auth == nil {
		auth = map[string]any{}
	}
	s.Emit("auth", auth)
}

// ServeHTTP routes to the Engine.IO or the Socket.IO server.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close closes both servers and every connection.
func (s *server) Close() error {
	return errors.Join(s.eio.Close(), s.sio.Close())
}
