// Command server is switchboard's side of the Socket.IO speed comparison
// (ci/bench.d/sio.sh, run by internal/siobench): a socketio.Server with
// default settings on 127.0.0.1, the same handlers as
// interop/node/bench/server.js (the official socket.io 4.8 server):
//
//   - "go" (count, payload): broadcast count "m" events (i, payload) to
//     every client of the main namespace;
//   - "echo" (args...) with an ack: acknowledge with the same arguments.
//
// It prints {"port":N} on stdout once listening and exits when stdin
// closes. A line "gc" on stdin runs a full garbage collection and returns
// freed memory to the OS, then prints "gc done" (the idle-memory scenario
// does the same to both servers before reading their RSS). With
// SIOBENCH_HEAPPROFILE=file set, each "gc" also writes a heap profile
// there, to see where idle connections' memory goes.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"

	"github.com/switchboard/switchboard/socketio"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "siobench server:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	srv, err := socketio.NewServer(nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	ns := srv.Of("/")
	ns.OnConnection(func(s *socketio.Socket) {
		s.On("go", func(args []any, _ socketio.AckFunc) {
			if len(args) < 2 {
				return
			}
			n, _ := args[0].(float64)
			for i := range int(n) {
				ns.Emit("m", i, args[1])
			}
		})
		s.On("echo", func(args []any, ack socketio.AckFunc) {
			if ack != nil {
				ack(args...)
			}
		})
	})
	ln, err := net.Listen("tcp", addr)
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
			if sc.Text() == "gc" {
				runtime.GC()
				debug.FreeOSMemory()
				if p := os.Getenv("SIOBENCH_HEAPPROFILE"); p != "" {
					writeHeapProfile(p)
				}
				fmt.Println("gc done")
			}
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

// writeHeapProfile writes the heap profile to path (errors to stderr).
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "siobench server:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "siobench server:", err)
	}
}
