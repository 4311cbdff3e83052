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
	s, err := socketio.Connect(ctx, url+"/", &socketio.ClientConfig{
		Engine: &engineio.DialConfig{Transports: []string{engineio.TransportWebSocket}},
	}, &socketio.SocketConfig{Auth: map[string]any{"token": "t0k3n"}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	// Handlers run one at a time on the client's goroutine. (Set them
	// before Connect, on a Manager's socket, not to miss early events.)
	s.On("news", func(args []any, _ socketio.AckFunc) { fmt.Println("news:", args) })

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

// EmitWithAckFunc returns at once; the acknowledgement arrives on the
// Manager's goroutine. Emits made while disconnected wait in a bounded
// buffer and go out in order once connected.
func ExampleClientSocket_EmitWithAckFunc() {
	url, stop := exampleServer()
	defer stop()

	m, err := socketio.NewManager(url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	s := m.Socket("/", nil)

	done := make(chan string, 1)
	// Not connected yet: buffered until the namespace is joined.
	err = s.EmitWithAckFunc(func(args []any, err error) {
		if err != nil {
			done <- err.Error()
			return
		}
		done <- args[0].(string)
	}, "hello", "buffered gopher")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-done)
	// Output: hello, buffered gopher
}
