package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/socketio"
)

// serveBare runs the bare side: switchboard's socketio server with default
// settings and the chat protocol's handlers written directly on it (nick,
// join, say with acks; said to the room but the sender; no hub, no
// validation, no presence), as interop/e2e/bench_chat.js does on Node. It
// prints {"port":N} and exits when stdin closes.
func serveBare() error {
	srv, err := socketio.NewServer(nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	var seq atomic.Int64
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		var mu sync.Mutex
		nick := ""
		s.On("nick", func(args []any, ack socketio.AckFunc) {
			name, _ := first(args).(string)
			mu.Lock()
			nick = name
			mu.Unlock()
			if ack != nil {
				ack(map[string]any{"ok": true, "nick": name})
			}
		})
		s.On("join", func(args []any, ack socketio.AckFunc) {
			room, _ := first(args).(string)
			s.Join(room)
			if ack != nil {
				ack(map[string]any{"ok": true, "room": room})
			}
		})
		s.On("say", func(args []any, ack socketio.AckFunc) {
			m, _ := first(args).(map[string]any)
			room, _ := m["room"].(string)
			id := strconv.FormatInt(seq.Add(1), 36)
			at := time.Now().UnixMilli()
			mu.Lock()
			from := nick
			mu.Unlock()
			s.To(room).Emit("said", map[string]any{"room": room, "from": from, "text": m["text"], "id": id, "at": at})
			if ack != nil {
				ack(map[string]any{"ok": true, "id": id, "at": at})
			}
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	hello, _ := json.Marshal(map[string]int{"port": ln.Addr().(*net.TCPAddr).Port})
	fmt.Printf("%s\n", hello)
	stdin := make(chan struct{})
	go func() {
		defer close(stdin)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-stdin:
	}
	srv.Close()
	return hs.Close()
}

func first(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
