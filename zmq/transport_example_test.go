package zmq_test

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/zmq"
)

// Socket options ride in an endpoint's query, or typed in
// Config.Endpoint; the query wins. A bad option fails Bind or Connect.
func Example_endpointOptions() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pull, _ := zmq.NewSocket(zmq.Pull, &zmq.Config{
		Endpoint: &endpoint.Config{Options: endpoint.Options{RecvBuffer: 1 << 20}},
	})
	defer pull.Close()
	if err := pull.Bind("tcp://127.0.0.1:*?tos=0x10"); err != nil {
		fmt.Println(err)
		return
	}
	push, _ := zmq.NewSocket(zmq.Push, nil)
	defer push.Close()
	// Connect from 127.0.0.1 (libzmq's "source;destination" form), with
	// Nagle's algorithm left on.
	ep := "tcp://127.0.0.1:0;" + pull.LastEndpoint()[len("tcp://"):] + "?nodelay=0"
	if err := push.Connect(ep); err != nil {
		fmt.Println(err)
		return
	}
	push.Send(ctx, zmq.NewMsgString("hello"))
	msg, _ := pull.RecvString(ctx)
	fmt.Println(msg)

	err := push.Connect("tcp://127.0.0.1:5555?speed=fast")
	fmt.Println(err)
	// Output:
	// [hello]
	// zmq: invalid endpoint: "tcp://127.0.0.1:5555?speed=fast": endpoint: option speed for tcp: unknown option
}
