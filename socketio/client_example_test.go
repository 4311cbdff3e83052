package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/socketio"
)

// exampleServer serves a small Socket.IO server for the client examples.
func exampleServer() (url string, stop func()) {
	srv, err := socketio.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("hello", func(args []any, ack socketio.AckFunc) {
			ack("hello, " + args[0].(string))
		})
		s.Emit("welcome", map[string]any{"motd": "be nice"})
	})
	srv.Of("/admin").Use(func(s *socketio.Socket) error {
		return &socketio.ConnectError{Message: "not authorized", Data: map[string]any{"code": 403}}
	})
	ts := httptest.NewServer(srv)
	return ts.URL, func() { srv.Close(); ts.Close() }
}

// Connect to the main namespace, receive an event and emit one with an
// acknowledgement.
func ExampleConnect() {
	url, stop := exampleServer()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	welcome := make(chan any, 1)
	s, err := socketio.Connect(ctx, url+"/", &socketio.ClientConfig{
		Engine: &engineio.DialConfig{Transports: []string{engineio.TransportWebSocket}},
	}, &socketio.SocketConfig{Auth: map[string]any{"token": "t0k3n"}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// Handlers run on the client's goroutine; the server's "welcome" may
	// arrive before this line, so Connect waits for nothing but CONNECT.
	s.On("welcome", func(args []any, _ socketio.AckFunc) { welcome <- args[0] })

	res, err := s.EmitWithAck(ctx, "hello", "gopher")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res[0])
	// Output: hello, gopher
}

// One Manager carries the sockets of several namespaces on one
// connection; a refusal by the server's middleware is a *ConnectError.
func ExampleManager() {
	url, stop := exampleServer()
	defer stop()

	m, err := socketio.NewManager(url, &socketio.ClientConfig{ReconnectAttempts: 5})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	main := m.Socket("/", nil)
	if err := main.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	admin := m.Socket("/admin", nil)
	var ce *socketio.ConnectError
	if err := admin.Connect(ctx); errors.As(err, &ce) {
		fmt.Println(ce.Message, ce.Data)
	}
	// Output: not authorized map[code:403]
}
