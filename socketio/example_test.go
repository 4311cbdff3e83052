package socketio_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"regexp"
	"time"

	"github.com/switchboard/switchboard/socketio"
)

// A chat server: authentication middleware, rooms, acknowledgements and
// broadcasts to everyone in a room but the sender.
func Example() {
	srv, err := socketio.NewServer(&socketio.Config{
		ConnectionStateRecovery: &socketio.RecoveryConfig{MaxDisconnectionDuration: 2 * time.Minute},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	chat := srv.Of("/chat")
	chat.Use(func(s *socketio.Socket) error {
		if s.Handshake().Auth["token"] != "secret" {
			return &socketio.ConnectError{Message: "not authorized", Data: map[string]any{"retry": false}}
		}
		return nil
	})
	chat.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(args []any, ack socketio.AckFunc) {
			room, _ := args[0].(string)
			s.Join(room)
			if ack != nil {
				ack("joined", room)
			}
		})
		s.On("say", func(args []any, ack socketio.AckFunc) {
			room, _ := args[0].(string)
			s.To(room).Emit("said", s.ID(), args[1])
		})
		s.OnDisconnect(func(reason string) { log.Printf("%s left: %s", s.ID(), reason) })
	})

	http.Handle("/socket.io/", srv)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}

// Collecting acknowledgements from every client of a room.
func ExampleBroadcastOperator_EmitWithAck() {
	srv, err := socketio.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	responses, err := srv.Of("/").To("voters").Timeout(5*time.Second).EmitWithAck(context.Background(), "vote", "lunch?")
	if errors.Is(err, socketio.ErrAckTimeout) {
		log.Printf("only %d voted in time", len(responses))
	}
	for _, r := range responses {
		fmt.Println(r[0])
	}
}

// Server to client acknowledgement with a deadline, from another goroutine
// than the socket's handlers.
func ExampleSocket_EmitWithAck() {
	srv, err := socketio.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			args, err := s.EmitWithAck(ctx, "ping?", []byte{1, 2, 3})
			switch {
			case errors.Is(err, socketio.ErrAckTimeout):
				s.Disconnect(true)
			case err == nil:
				log.Printf("client answered %v", args)
			}
		}()
	})
}

// Dynamic namespaces: any /workspace-<n> is created on first connection and
// shares the parent's handlers.
func ExampleServer_OfRegexp() {
	srv, err := socketio.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	workspaces := srv.OfRegexp(regexp.MustCompile(`^/workspace-\d+$`))
	workspaces.OnConnection(func(s *socketio.Socket) {
		s.Emit("welcome", s.Namespace().Name())
	})
	// Reaches the sockets of every workspace.
	workspaces.Emit("announcement", "maintenance at noon")
}

// A middleware refusal carrying data: the client's connect_error event gets
// err.message and err.data.
func ExampleConnectError() {
	var err error = &socketio.ConnectError{Message: "room full", Data: map[string]any{"max": 10}}
	var ce *socketio.ConnectError
	if errors.As(err, &ce) {
		fmt.Println(ce.Message, ce.Data)
	}
	// Output: room full map[max:10]
}
