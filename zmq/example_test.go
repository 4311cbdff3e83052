package zmq_test

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/zmq"
)

// A PUSH/PULL pipeline over inproc. Connect may come before Bind: messages
// queue until the peer is there.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ns := zmq.NewInproc()

	push, _ := zmq.NewSocket(zmq.Push, &zmq.Config{Inproc: ns})
	defer push.Close()
	push.Connect("inproc://pipeline")
	push.Send(ctx, zmq.NewMsgString("job", "1"))

	pull, _ := zmq.NewSocket(zmq.Pull, &zmq.Config{Inproc: ns})
	defer pull.Close()
	pull.Bind("inproc://pipeline")
	msg, _ := pull.RecvString(ctx)
	fmt.Println(msg)
	// Output: [job 1]
}

// REQ/REP: a request and its reply; the envelope is handled for you.
func ExampleSocket_Recv_reqRep() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ns := zmq.NewInproc()
	rep, _ := zmq.NewSocket(zmq.Rep, &zmq.Config{Inproc: ns})
	defer rep.Close()
	rep.Bind("inproc://echo")
	req, _ := zmq.NewSocket(zmq.Req, &zmq.Config{Inproc: ns})
	defer req.Close()
	req.Connect("inproc://echo")

	req.SendString(ctx, "ping")
	q, _ := rep.RecvString(ctx)
	rep.SendString(ctx, q[0]+" pong")
	a, _ := req.RecvString(ctx)
	fmt.Println(a[0])
	// Output: ping pong
}

// DEALER/ROUTER: the ROUTER sees the DEALER's routing id as the first frame
// and uses it to address the reply.
func ExampleSocket_Send_router() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ns := zmq.NewInproc()
	router, _ := zmq.NewSocket(zmq.Router, &zmq.Config{Inproc: ns})
	defer router.Close()
	router.Bind("inproc://router")
	dealer, _ := zmq.NewSocket(zmq.Dealer, &zmq.Config{Inproc: ns, RoutingID: []byte("worker-1")})
	defer dealer.Close()
	dealer.Connect("inproc://router")

	dealer.SendString(ctx, "ready")
	m, _ := router.RecvString(ctx)
	fmt.Println(m)
	router.SendString(ctx, m[0], "work")
	w, _ := dealer.RecvString(ctx)
	fmt.Println(w)
	// Output:
	// [worker-1 ready]
	// [work]
}

// PUB/SUB with a prefix subscription. Subscriptions travel to the
// publisher asynchronously, so this waits for the subscription to arrive
// through an XPUB, which passes subscriptions up to the application.
func ExampleSocket_Subscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ns := zmq.NewInproc()
	pub, _ := zmq.NewSocket(zmq.XPub, &zmq.Config{Inproc: ns})
	defer pub.Close()
	pub.Bind("inproc://news")
	sub, _ := zmq.NewSocket(zmq.Sub, &zmq.Config{Inproc: ns})
	defer sub.Close()
	sub.Subscribe([]byte("weather."))
	sub.Connect("inproc://news")

	s, _ := pub.Recv(ctx) // "\x01weather."
	fmt.Printf("subscribed to %q\n", s[0][1:])
	pub.SendString(ctx, "sports.football", "2-1")
	pub.SendString(ctx, "weather.paris", "sunny")
	m, _ := sub.RecvString(ctx)
	fmt.Println(m)
	// Output:
	// subscribed to "weather."
	// [weather.paris sunny]
}

// Binding a TCP port chosen by the kernel and connecting to it.
func ExampleSocket_LastEndpoint() {
	pull, err := zmq.NewSocket(zmq.Pull, nil)
	if err != nil {
		panic(err)
	}
	defer pull.Close()
	if err := pull.Bind("tcp://127.0.0.1:*"); err != nil {
		panic(err)
	}
	push, _ := zmq.NewSocket(zmq.Push, nil)
	defer push.Close()
	push.Connect(pull.LastEndpoint()) // e.g. tcp://127.0.0.1:41234
}

// Watching two sockets at once.
func ExamplePoller() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ns := zmq.NewInproc()
	a, _ := zmq.NewSocket(zmq.Pull, &zmq.Config{Inproc: ns})
	defer a.Close()
	a.Bind("inproc://a")
	b, _ := zmq.NewSocket(zmq.Pull, &zmq.Config{Inproc: ns})
	defer b.Close()
	b.Bind("inproc://b")
	push, _ := zmq.NewSocket(zmq.Push, &zmq.Config{Inproc: ns})
	defer push.Close()
	push.Connect("inproc://b")
	push.SendString(ctx, "for b")

	p := zmq.NewPoller()
	defer p.Close()
	p.Add(a, zmq.PollIn)
	p.Add(b, zmq.PollIn)
	ready, _ := p.Poll(ctx)
	m, _ := ready[0].Socket.RecvString(ctx)
	fmt.Println(len(ready), m)
	// Output: 1 [for b]
}

// A monitor callback and a statistics snapshot.
func ExampleConfig_monitor() {
	events := make(chan zmq.Event, 16)
	pull, _ := zmq.NewSocket(zmq.Pull, &zmq.Config{
		Monitor: func(e zmq.Event) {
			select {
			case events <- e: // never block the socket
			default:
			}
		},
	})
	defer pull.Close()
	pull.Bind("tcp://127.0.0.1:*")
	e := <-events
	fmt.Println(e.Type)
	fmt.Println(len(pull.Stats().Bound))
	// Output:
	// listening
	// 1
}

// A ROUTER/DEALER broker with zmq_proxy semantics.
func ExampleProxy() {
	frontend, _ := zmq.NewSocket(zmq.Router, nil)
	defer frontend.Close()
	frontend.Bind("tcp://127.0.0.1:*")
	backend, _ := zmq.NewSocket(zmq.Dealer, nil)
	defer backend.Close()
	backend.Bind("tcp://127.0.0.1:*")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- zmq.Proxy(ctx, frontend, backend, nil) }()
	// ... clients connect REQ sockets to frontend, workers REP to backend.
	cancel()
	<-done
}

// Recycle: a receiver of large messages gives each one back once done
// with it, and the socket receives the next ones into the same memory
// instead of allocating.
func ExampleSocket_Recycle() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pull, _ := zmq.NewSocket(zmq.Pull, nil)
	defer pull.Close()
	if err := pull.Bind("tcp://127.0.0.1:*"); err != nil {
		fmt.Println(err)
		return
	}
	push, _ := zmq.NewSocket(zmq.Push, nil)
	defer push.Close()
	push.Connect(pull.LastEndpoint())

	image := make([]byte, 256<<10) // read-only from here on: sent 3 times
	for range 3 {
		push.Send(ctx, zmq.Msg{image})
	}
	total := 0
	for range 3 {
		m, err := pull.Recv(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		total += m.Size()
		pull.Recycle(m) // m is not used after this
	}
	fmt.Println(total, "bytes")
	// Output: 786432 bytes
}
