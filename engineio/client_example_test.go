package engineio_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/switchboard/switchboard/engineio"
)

// A client opens a session (long-polling, upgraded to WebSocket), sends a
// message and receives the server's echo.
func ExampleDial() {
	srv, err := engineio.NewServer(nil, func(s *engineio.Socket) {
		s.OnMessage(func(m engineio.Message) { s.Send(m) })
	})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := engineio.Dial(ctx, ts.URL, nil) // nil: polling, then WebSocket
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.Send(engineio.Message{Data: []byte("hello")}); err != nil {
		log.Fatal(err)
	}
	m, err := c.Recv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(m.Data))
	// Output: hello
}

// WebSocket only, with a header and a source address.
func ExampleDialConfig() {
	cfg := &engineio.DialConfig{
		Transports: []string{engineio.TransportWebSocket},
		Header:     map[string][]string{"Authorization": {"Bearer token"}},
		// LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.0.0.2")},
	}
	_ = cfg
}
