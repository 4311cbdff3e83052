package zmqdoor_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/zmqdoor"
	"github.com/switchboard/switchboard/zmq"
)

// inbox is a Hub Peer that hands its events to a channel.
type inbox chan *hub.Event

func (in inbox) Deliver(ev *hub.Event) error {
	select {
	case in <- ev:
	default:
	}
	return nil
}
func (in inbox) Close() {}

// A SUB service hears what a Hub user says in "lobby"; a PUSH service
// speaks into it as "ci".
func Example() {
	h, _ := hub.New(nil)
	defer h.Close()
	d, err := zmqdoor.Listen(h, &zmqdoor.Config{Pub: "tcp://127.0.0.1:*", In: "tcp://127.0.0.1:*"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serving, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Serve(serving) }()
	defer func() { stop(); <-done }()

	// ann, a user of the Hub (any door), in lobby.
	events := make(inbox, 64)
	ann, _ := h.Attach(events)
	defer ann.Close()
	ann.SetName("ann")
	ann.Join("lobby")

	sub, _ := zmq.NewSocket(zmq.Sub, nil)
	defer sub.Close()
	sub.Subscribe([]byte("lobby"))
	sub.Connect(d.PubAddr())
	for ev := range events { // the door joins lobby for its subscriber
		if ev.Kind == hub.EventJoined && ev.User == "zmq" {
			break
		}
	}
	ann.Say("lobby", "hello services")
	m, _ := sub.RecvString(ctx) // [room, from, text, id, at]
	fmt.Println(m[0], m[1], m[2])

	push, _ := zmq.NewSocket(zmq.Push, nil)
	defer push.Close()
	push.Connect(d.InAddr())
	push.SendString(ctx, "lobby", "the build is green", "ci")
	for ev := range events {
		if ev.Kind == hub.EventSaid {
			fmt.Println(ev.Room, ev.User, ev.Text)
			break
		}
	}
	// Output:
	// lobby ann hello services
	// lobby ci the build is green
}

// A DEALER worker serves the service "upper"; Call is what the Socket.IO
// event rpc does for a browser.
func ExampleDoor_Call() {
	h, _ := hub.New(nil)
	defer h.Close()
	d, err := zmqdoor.Listen(h, &zmqdoor.Config{RPC: "tcp://127.0.0.1:*"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	serving, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Serve(serving) }()
	defer func() { stop(); <-done }()

	w, _ := zmq.NewSocket(zmq.Dealer, nil)
	defer w.Close()
	w.Connect(d.RPCAddr())
	w.SendString(ctx, "READY", "upper")
	worked := make(chan struct{})
	go func() {
		defer close(worked)
		m, err := w.RecvString(ctx) // [id, body]
		if err == nil {
			w.SendString(ctx, m[0], strings.ToUpper(m[1]))
		}
	}()
	defer func() { <-worked }()
	// A request made before the worker's READY arrived would find no
	// worker: try again until it is known.
	for {
		out, err := d.Call(ctx, "upper", []byte("hello"))
		if err == nil || ctx.Err() != nil {
			fmt.Println(string(out), err)
			break
		}
	}
	// Output: HELLO <nil>
}
