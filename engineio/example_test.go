package engineio_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/switchboard/switchboard/engineio"
)

// An echo server: every message a client sends comes back to it.
func ExampleNewServer() {
	srv, err := engineio.NewServer(&engineio.Config{PingInterval: 10 * time.Second}, func(s *engineio.Socket) {
		s.OnMessage(func(m engineio.Message) {
			if err := s.Send(m); err != nil {
				s.Close() // the client does not keep up
			}
		})
		s.OnClose(func(reason string, err error) {
			fmt.Println("closed:", reason)
		})
	})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()

	// A polling client: handshake, send "hello", read the echo, close.
	resp, err := http.Get(ts.URL + "/engine.io/?EIO=4&transport=polling")
	if err != nil {
		log.Fatal(err)
	}
	open, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sid := strings.Split(string(open), `"`)[3]
	url := ts.URL + "/engine.io/?EIO=4&transport=polling&sid=" + sid

	resp, _ = http.Post(url, "text/plain", strings.NewReader("4hello"))
	resp.Body.Close()
	resp, _ = http.Get(url)
	echo, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s\n", echo)

	resp, _ = http.Post(url, "text/plain", strings.NewReader("1"))
	resp.Body.Close()
	// Output:
	// 4hello
	// closed: transport close
}

// A server mounted on an http.ServeMux, shut down gracefully.
func ExampleServer_Shutdown() {
	srv, err := engineio.NewServer(&engineio.Config{Path: "/engine.io/"}, func(s *engineio.Socket) {
		_ = s.Send(engineio.Message{Data: []byte("welcome")})
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	hs := &http.Server{Addr: "127.0.0.1:0", Handler: mux}
	_ = hs // hs.ListenAndServe() in a real program

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Print(err)
	}
	fmt.Println("open sockets:", srv.Count())
	// Output: open sockets: 0
}
