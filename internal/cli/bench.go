package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/zmq"
)

const benchUsage = `local_thr|remote_thr|local_lat|remote_lat ENDPOINT SIZE COUNT

libzmq's perf tools on switchboard's zmq sockets, with libzmq's arguments
and output lines, so either side can be swapped for libzmq's own:
  local_thr  ENDPOINT SIZE COUNT   PULL, binds; prints the throughput
  remote_thr ENDPOINT SIZE COUNT   PUSH, connects; sends COUNT messages
  local_lat  ENDPOINT SIZE COUNT   REP, binds; echoes COUNT round trips
  remote_lat ENDPOINT SIZE COUNT   REQ, connects; prints the average latency
    (half a round trip, as libzmq prints it)
`

// runBench is `switchboard bench`.
func runBench(ctx context.Context, stdio Stdio, args []string) error {
	if len(args) > 0 && args[0] == "sio" {
		return runBenchSIO(ctx, stdio, args[1:])
	}
	fs := newFlagSet(stdio, "bench", benchUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 4 {
		fs.Usage()
		return ErrUsage
	}
	tool, ep := fs.Arg(0), fs.Arg(1)
	size, err1 := strconv.Atoi(fs.Arg(2))
	count, err2 := strconv.Atoi(fs.Arg(3))
	if err1 != nil || err2 != nil || size < 0 || count < 1 {
		fmt.Fprintln(stdio.Err, "switchboard bench: SIZE must be a number ≥ 0 and COUNT a number ≥ 1")
		fs.Usage()
		return ErrUsage
	}
	switch tool {
	case "local_thr":
		return benchLocalThr(ctx, stdio.Out, ep, size, count)
	case "remote_thr":
		return benchRemoteThr(ctx, ep, size, count)
	case "local_lat":
		return benchLocalLat(ctx, ep, size, count)
	case "remote_lat":
		return benchRemoteLat(ctx, stdio.Out, ep, size, count)
	}
	fmt.Fprintf(stdio.Err, "switchboard bench: unknown tool %q\n", tool)
	fs.Usage()
	return ErrUsage
}

// errBenchSize is libzmq's perf tools' complaint, word for word.
var errBenchSize = errors.New("message of incorrect size received")

func benchLocalThr(ctx context.Context, out io.Writer, ep string, size, count int) error {
	s, err := zmq.NewSocket(zmq.Pull, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Bind(ep); err != nil {
		return err
	}
	var start time.Time
	for i := 0; i < count; i++ {
		m, err := s.Recv(ctx)
		if err != nil {
			return err
		}
		if len(m) != 1 || len(m[0]) != size {
			return errBenchSize
		}
		// Done with it: the socket reuses its memory, as libzmq's
		// local_thr frees each message (zmq_msg_close).
		s.Recycle(m)
		if i == 0 {
			start = time.Now() // like libzmq: the clock starts after the first message
		}
	}
	elapsed := time.Since(start).Microseconds()
	if elapsed == 0 {
		elapsed = 1
	}
	thr := float64(count) / float64(elapsed) * 1e6
	_, err = fmt.Fprintf(out, "message size: %d [B]\nmessage count: %d\nmean throughput: %d [msg/s]\nmean throughput: %.3f [Mb/s]\n",
		size, count, int64(thr), thr*float64(size)*8/1e6)
	return err
}

func benchRemoteThr(ctx context.Context, ep string, size, count int) error {
	// libzmq's remote_thr closes with an infinite linger: every message is
	// delivered before it exits. An hour stands in for forever.
	s, err := zmq.NewSocket(zmq.Push, &zmq.Config{Linger: time.Hour})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Connect(ep); err != nil {
		return err
	}
	// libzmq's remote_thr allocates each message, without clearing it,
	// because zmq_msg_send frees what it sends. Send only asks that a
	// frame is not modified once sent, so one read-only body serves every
	// message (and one Msg: Send does not modify it either), and the
	// figure measures the socket rather than the allocator.
	msg := zmq.Msg{make([]byte, size)}
	for i := 0; i < count; i++ {
		if err := s.Send(ctx, msg); err != nil {
			return err
		}
	}
	return nil
}

func benchLocalLat(ctx context.Context, ep string, size, count int) error {
	// Close lingers until the last reply is written.
	s, err := zmq.NewSocket(zmq.Rep, &zmq.Config{Linger: 10 * time.Second})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Bind(ep); err != nil {
		return err
	}
	for i := 0; i < count; i++ {
		m, err := s.Recv(ctx)
		if err != nil {
			return err
		}
		if len(m) != 1 || len(m[0]) != size {
			return errBenchSize
		}
		if err := s.Send(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func benchRemoteLat(ctx context.Context, out io.Writer, ep string, size, count int) error {
	s, err := zmq.NewSocket(zmq.Req, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Connect(ep); err != nil {
		return err
	}
	body := make([]byte, size)
	start := time.Now()
	for i := 0; i < count; i++ {
		if err := s.Send(ctx, zmq.Msg{body}); err != nil {
			return err
		}
		m, err := s.Recv(ctx)
		if err != nil {
			return err
		}
		if len(m) != 1 || len(m[0]) != size {
			return errBenchSize
		}
	}
	elapsed := time.Since(start)
	_, err = fmt.Fprintf(out, "message size: %d [B]\nroundtrip count: %d\naverage latency: %.3f [us]\n",
		size, count, float64(elapsed.Nanoseconds())/1e3/float64(2*count))
	return err
}
