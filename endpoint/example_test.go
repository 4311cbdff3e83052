package endpoint_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/switchboard/switchboard/endpoint"
)

func ExampleParse() {
	e, err := endpoint.Parse("udp://239.1.2.3:7000?iface=eth0&mcastloop=0")
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Transport, e.Address, e.Options.Interface, *e.Options.MulticastLoop)
	fmt.Println(e)
	v, _ := endpoint.Parse("vsock:2:5000")
	fmt.Println(v)
	// Output:
	// udp 239.1.2.3:7000 eth0 false
	// udp://239.1.2.3:7000?mcastloop=0&iface=eth0
	// vsock://2:5000
}

func ExampleParse_optionError() {
	_, err := endpoint.Parse("udp://127.0.0.1:7000?nodelay=1")
	var oe *endpoint.OptionError
	if errors.As(err, &oe) {
		fmt.Println(oe.Option, oe.Proto, errors.Is(err, endpoint.ErrNotApplicable))
	}
	fmt.Println(err)
	// Output:
	// nodelay udp true
	// endpoint: option nodelay for udp: option does not apply to this protocol
}

func ExampleListen() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := endpoint.Listen(ctx, "tcp://127.0.0.1:0?nodelay=1", nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	go func() {
		c, err := endpoint.Dial(ctx, "tcp://"+l.Local(), nil)
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "hello")
	}()
	c, err := l.AcceptConn()
	if err != nil {
		panic(err)
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	fmt.Println(string(b), c.Proto(), c.Stats().BytesIn)
	// Output: hello tcp 5
}

// Options come from the address and from a typed Config; the address wins.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := &endpoint.Config{Options: endpoint.Options{NoDelay: true, KeepAlive: 30 * time.Second}}
	c, err := endpoint.Dial(ctx, "tcp://127.0.0.1:7000?source=127.0.0.1:0&tos=0x10", cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.Local(), "->", c.Remote())
}

// A multicast group is joined on the interface given, on a bound UDP socket.
func ExampleListenPacket() {
	ctx := context.Background()
	pc, err := endpoint.ListenPacket(ctx, "udp://239.1.2.3:7000?iface=eth0&timestamp=1", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pc.Close()
	buf := make([]byte, 1500)
	n, from, ts, err := pc.ReadMsg(buf)
	if err == nil {
		fmt.Println(from, ts, string(buf[:n]))
	}
}
