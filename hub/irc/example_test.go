package irc_test

import (
	"context"
	"fmt"
	"log"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/irc"
)

// The IRC door on the daemon's default address, next to any other door
// of the same Hub; it runs until ctx is done.
func ExampleDoor_Serve() {
	ctx := context.Background()
	h, err := hub.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	door, err := irc.New(h, &irc.Config{MOTD: []string{"Rooms are #channels here."}})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := endpoint.Listen(ctx, "tcp://127.0.0.1:6667", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := door.Serve(ctx, ln); err != nil {
		log.Fatal(err)
	}
}

// A relay of the room "lobby" to #switchboard on another network, at most
// one line a second in bursts of four.
func ExampleRelay_Run() {
	h, err := hub.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	cfg, err := irc.ParseRelay("lobby=irc://irc.example.net:6667/#switchboard?nick=sbhub&rate=1&burst=4")
	if err != nil {
		log.Fatal(err)
	}
	r, err := irc.NewRelay(h, cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
}

func ExampleParse() {
	m, err := irc.Parse([]byte(":ann!~ann@host PRIVMSG #lobby :hello there\r\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Prefix, m.Command, m.Params[0], m.Params[1])
	reply := irc.Message{Prefix: "switchboard", Command: "001", Params: []string{"ann", "Welcome"}}
	fmt.Print(string(reply.Append(nil)))
	// Output:
	// ann!~ann@host PRIVMSG #lobby hello there
	// :switchboard 001 ann :Welcome
}
