package hub_test

import (
	"fmt"

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
