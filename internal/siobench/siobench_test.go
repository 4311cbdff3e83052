package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/procstat"
	"github.com/switchboard/switchboard/socketio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// inProcess runs the bench handlers in this process and returns a proc
// for it (pid: this process; "gc" handled by a goroutine).
func inProcess(t *testing.T) *proc {
	t.Helper()
	srv, err := socketio.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := srv.Of("/")
	ns.OnConnection(func(s *socketio.Socket) {
		s.On("go", func(args []any, _ socketio.AckFunc) {
			for i := range int(args[0].(float64)) {
				ns.Emit("m", i, args[1])
			}
		})
		s.On("echo", func(args []any, ack socketio.AckFunc) { ack(args...) })
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	served := make(chan struct{})
	go func() { defer close(served); hs.Serve(ln) }()

	pr, pw := io.Pipe()
	lines := make(chan string, 1)
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			runtime.GC()
			lines <- "gc done\n"
		}
	}()
	t.Cleanup(func() {
		pw.Close()
		<-gcDone
		srv.Close()
		hs.Close()
		<-served
	})
	return &proc{stdin: pw, lines: lines, addr: ln.Addr().String(), pid: os.Getpid()}
}

func TestScenarios(t *testing.T) {
	p := inProcess(t)
	b, err := newBroadcaster(p, 20)
	if err != nil {
		t.Fatal(err)
	}
	rate, perDelivery, err := b.measure(100 * time.Millisecond)
	b.close()
	if err != nil {
		t.Fatal(err)
	}
	if rate <= 0 || perDelivery < 0 {
		t.Errorf("broadcast: %v deliveries/s, %v per delivery", rate, perDelivery)
	}
	cs, err := dialAll(p.addr, 1)
	if err != nil {
		t.Fatal(err)
	}
	rtts, err := echo(cs[0], 100)
	cs[0].Close()
	if err != nil || len(rtts) != 100 {
		t.Fatalf("echo: %d round trips, %v", len(rtts), err)
	}
	if _, err := idle(p, 50); err != nil {
		t.Fatal(err)
	}
}

func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	if _, err := procstat.CPU(pid); err != nil {
		t.Error(err)
	}
	r, err := procstat.RSS(pid)
	if err != nil || r <= 0 {
		t.Errorf("rss %d %v", r, err)
	}
	if _, err := procstat.CPU(1 << 30); err == nil {
		t.Error("cpu of a missing process: no error")
	}
}

// A server that refuses the WebSocket is an error, not a hang.
func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.NotFoundHandler()}
	served := make(chan struct{})
	go func() { defer close(served); hs.Serve(ln) }()
	defer func() { hs.Close(); <-served }()
	_, err = dialAll(ln.Addr().String(), 3)
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
}
