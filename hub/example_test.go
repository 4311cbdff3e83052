package hub_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"

	"github.com/switchboard/switchboard/hub"
)

// printer is a Peer that prints what the hub tells it. A real door would
// queue the event for its connection without blocking.
type printer string

func (p printer) Deliver(ev *hub.Event) error {
	switch ev.Kind {
	case hub.EventSaid:
		fmt.Printf("%s <- said in %s by %s: %s\n", p, ev.Room, ev.User, ev.Text)
	case hub.EventPresence:
		fmt.Printf("%s <- %s is %s\n", p, ev.User, ev.State)
	default:
		fmt.Printf("%s <- %s %s %s\n", p, ev.User, ev.Kind, ev.Room)
	}
	return nil
}

func (p printer) Close() {}

// Two connections meet in a room: the core alone, without any protocol.
func Example() {
	h, err := hub.New(nil)
	if err != nil {
		panic(err)
	}
	defer h.Close()

	ann, _ := h.Attach(printer("ann"))
	bob, _ := h.Attach(printer("bob"))
	ann.SetName("ann")
	bob.SetName("bob")
	ann.Join("lobby")
	bob.Join("lobby")
	if _, err := bob.Say("lobby", "hello"); err != nil {
		panic(err)
	}
	bob.Close()
	// Unordered output:
	// ann <- ann is online
	// bob <- ann is online
	// ann <- bob is online
	// bob <- bob is online
	// ann <- ann joined lobby
	// ann <- bob joined lobby
	// bob <- bob joined lobby
	// ann <- said in lobby by bob: hello
	// ann <- bob left lobby
	// ann <- bob is offline
}

// Serve the chat page and Socket.IO on loopback until interrupted, as
// "switchboard serve" does.
func ExampleServer_Serve() {
	srv, err := hub.NewServer(&hub.ServerConfig{Logger: slog.Default()})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		srv.Close()
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := srv.Serve(ctx, ln); err != nil { // closes srv and ln
		log.Fatal(err)
	}
}
