// Command zmq4bench runs libzmq's four perf tools (local_thr, remote_thr,
// local_lat, remote_lat) on go-zeromq/zmq4, with libzmq's arguments and
// output lines, so ci/bench.d/zmq.sh can put zmq4 beside switchboard and
// libzmq. It lives in its own module so the switchboard module never depends
// on zmq4.
//
//	zmq4bench local_thr tcp://127.0.0.1:5555 16 1000000
//	zmq4bench remote_thr tcp://127.0.0.1:5555 16 1000000
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/go-zeromq/zmq4"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Println("usage: zmq4bench local_thr|remote_thr|local_lat|remote_lat <endpoint> <message-size> <message-count>")
		os.Exit(1)
	}
	size, err1 := strconv.Atoi(os.Args[3])
	count, err2 := strconv.Atoi(os.Args[4])
	if err1 != nil || err2 != nil || size < 0 || count < 1 {
		fmt.Println("zmq4bench: message size and count must be numbers (count ≥ 1)")
		os.Exit(1)
	}
	if err := run(os.Args[1], os.Args[2], size, count); err != nil {
		fmt.Println("zmq4bench:", err)
		os.Exit(1)
	}
}

func run(tool, ep string, size, count int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// zmq4's default dial retry gives up after 10 tries 250ms apart;
	// WithTimeout bounds every Send/Recv (its default is 5 minutes).
	opts := []zmq4.Option{zmq4.WithDialerRetry(50 * time.Millisecond), zmq4.WithDialerMaxRetries(200), zmq4.WithTimeout(2 * time.Minute)}
	switch tool {
	case "local_thr":
		s := zmq4.NewPull(ctx, opts...)
		defer s.Close()
		if err := s.Listen(ep); err != nil {
			return err
		}
		var start time.Time
		for i := 0; i < count; i++ {
			m, err := s.Recv()
			if err != nil {
				return fmt.Errorf("receive %d: %w", i, err)
			}
			if len(m.Frames) != 1 || len(m.Frames[0]) != size {
				return fmt.Errorf("message of incorrect size received")
			}
			if i == 0 {
				start = time.Now()
			}
		}
		printThr(size, count, time.Since(start))
	case "remote_thr":
		s := zmq4.NewPush(ctx, opts...)
		defer s.Close()
		if err := s.Dial(ep); err != nil {
			return err
		}
		body := make([]byte, size)
		for i := 0; i < count; i++ {
			if err := s.Send(zmq4.NewMsg(body)); err != nil {
				return fmt.Errorf("send %d: %w", i, err)
			}
		}
	case "local_lat":
		s := zmq4.NewRep(ctx, opts...)
		defer s.Close()
		if err := s.Listen(ep); err != nil {
			return err
		}
		for i := 0; i < count; i++ {
			m, err := s.Recv()
			if err != nil {
				return fmt.Errorf("receive %d: %w", i, err)
			}
			if len(m.Frames) != 1 || len(m.Frames[0]) != size {
				return fmt.Errorf("message of incorrect size received")
			}
			if err := s.Send(m); err != nil {
				return err
			}
		}
		// zmq4 has no linger: its REP writes the last reply in the
		// background. Wait as libzmq's local_lat does (zmq_sleep(1)).
		time.Sleep(time.Second)
	case "remote_lat":
		s := zmq4.NewReq(ctx, opts...)
		defer s.Close()
		if err := s.Dial(ep); err != nil {
			return err
		}
		body := make([]byte, size)
		start := time.Now()
		for i := 0; i < count; i++ {
			if err := s.Send(zmq4.NewMsg(body)); err != nil {
				return fmt.Errorf("send %d: %w", i, err)
			}
			m, err := s.Recv()
			if err != nil {
				return fmt.Errorf("receive %d: %w", i, err)
			}
			if len(m.Frames) != 1 || len(m.Frames[0]) != size {
				return fmt.Errorf("message of incorrect size received")
			}
		}
		printLat(size, count, time.Since(start))
	default:
		return fmt.Errorf("unknown tool %q", tool)
	}
	return nil
}

func printThr(size, count int, d time.Duration) {
	us := float64(d.Microseconds())
	if us == 0 {
		us = 1
	}
	thr := float64(count) / us * 1e6
	fmt.Printf("message size: %d [B]\n", size)
	fmt.Printf("message count: %d\n", count)
	fmt.Printf("mean throughput: %d [msg/s]\n", int(thr))
	fmt.Printf("mean throughput: %.3f [Mb/s]\n", thr*float64(size)*8/1e6)
}

func printLat(size, count int, d time.Duration) {
	fmt.Printf("message size: %d [B]\n", size)
	fmt.Printf("roundtrip count: %d\n", count)
	fmt.Printf("average latency: %.3f [us]\n", float64(d.Microseconds())/float64(count*2))
}
