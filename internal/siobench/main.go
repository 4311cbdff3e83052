// Command siobench compares switchboard's Socket.IO server with the
// official Node.js socket.io 4.8 server under the same client load, and
// prints the ratios. ci/bench.d/sio.sh builds and runs it (make bench).
//
// Each scenario starts a fresh server process, our internal/siobench/server
// or node interop/node/bench/server.js (same handlers, default settings),
// and drives it from this process with lean raw-WebSocket clients:
//
//   - broadcast: C clients connected; client 0 asks for bursts of 100 "m"
//     events broadcast to all; deliveries per second counted at the clients,
//     and server CPU per delivery from /proc/PID/stat (utime+stime);
//   - echo: one client, emit "echo" with an ack and wait for it; round trip
//     p50 and p99;
//   - idle: N clients connect and stay idle; growth of the server
//     process's RSS (/proc/PID/status VmRSS) divided by N, each RSS read
//     after a full garbage collection in the server (runtime.GC and
//     debug.FreeOSMemory; node --expose-gc and global.gc()).
//
// Usage:
//
//	siobench -go ./sioserver -node interop/node/bench/server.js
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "siobench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	goServer, nodeScript, node string
	only                       string
	clients, idle, echoes      int
	duration                   time.Duration
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("siobench", flag.ContinueOnError)
	fs.StringVar(&o.goServer, "go", "", "switchboard's bench server binary (built from ./internal/siobench/server)")
	fs.StringVar(&o.nodeScript, "node", "interop/node/bench/server.js", "the socket.io 4.8 bench server script")
	fs.StringVar(&o.node, "nodebin", "node", "node binary")
	fs.IntVar(&o.clients, "clients", 1000, "WebSocket clients of the broadcast scenario")
	fs.IntVar(&o.idle, "idle", 10000, "idle connections of the memory scenario")
	fs.IntVar(&o.echoes, "echoes", 20000, "measured round trips of the echo scenario")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of the broadcast scenario")
	fs.StringVar(&o.only, "only", "", `measure one side only: "switchboard" or "node" (no ratios)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.goServer == "" {
		return errors.New("-go is required")
	}
	servers := []server{
		{"switchboard", []string{o.goServer}},
		{"socket.io 4.8", []string{o.node, "--expose-gc", o.nodeScript}},
	}
	var res [2]result
	for i, s := range servers {
		if (o.only == "switchboard" && i != 0) || (o.only == "node" && i != 1) {
			continue
		}
		r, err := measure(s, o, out)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		res[i] = r
	}
	if o.only == "" {
		report(out, o, res[0], res[1])
	}
	return nil
}

// server is how to start one side.
type server struct {
	name string
	argv []string
}

// result holds one server's figures.
type result struct {
	deliveries float64       // per second, at the clients
	cpu        time.Duration // server CPU per delivery
	p50, p99   time.Duration // echo-with-ack round trip
	idleBytes  float64       // RSS growth per idle connection
}

func measure(s server, o options, out io.Writer) (result, error) {
	var r result
	fmt.Fprintf(out, "== %s: broadcast to %d clients for %v\n", s.name, o.clients, o.duration)
	err := withServer(s, func(p *proc) error {
		var err error
		r.deliveries, r.cpu, err = broadcast(p, o.clients, o.duration)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("broadcast: %w", err)
	}
	fmt.Fprintf(out, "   %.0f deliveries/s, %.2f µs server CPU per delivery\n", r.deliveries, us(r.cpu))
	fmt.Fprintf(out, "== %s: echo with ack, %d round trips\n", s.name, o.echoes)
	err = withServer(s, func(p *proc) error {
		var err error
		r.p50, r.p99, err = echo(p, o.echoes)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("echo: %w", err)
	}
	fmt.Fprintf(out, "   p50 %.1f µs, p99 %.1f µs\n", us(r.p50), us(r.p99))
	fmt.Fprintf(out, "== %s: %d idle connections\n", s.name, o.idle)
	err = withServer(s, func(p *proc) error {
		var err error
		r.idleBytes, err = idle(p, o.idle)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("idle: %w", err)
	}
	fmt.Fprintf(out, "   %.1f KB RSS per idle connection\n", r.idleBytes/1024)
	return r, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// report prints the side-by-side table with ratios and targets.
func report(out io.Writer, o options, g, n result) {
	fmt.Fprintf(out, "\nSocket.IO server comparison (same clients; ratio = switchboard vs socket.io 4.8)\n")
	fmt.Fprintf(out, "%-36s %14s %14s %10s  %s\n", "metric", "switchboard", "socket.io 4.8", "ratio", "target")
	row := func(name, unit string, gv, nv, ratio float64, target string, ok bool) {
		mark := "ok"
		if !ok {
			mark = "MISSED"
		}
		fmt.Fprintf(out, "%-36s %11.1f %-2s %11.1f %-2s %9.2fx  %s %s\n", name, gv, unit, nv, unit, ratio, target, mark)
	}
	dr := g.deliveries / n.deliveries
	row(fmt.Sprintf("broadcast deliveries/s (%d clients)", o.clients), "k", g.deliveries/1e3, n.deliveries/1e3, dr, ">=3x", dr >= 3)
	cr := float64(g.cpu) / float64(n.cpu)
	row("server CPU per delivery", "us", us(g.cpu), us(n.cpu), cr, "<=0.33x", cr <= 1.0/3)
	pr := float64(g.p50) / float64(n.p50)
	row("echo with ack p50", "us", us(g.p50), us(n.p50), pr, "<=1x", pr <= 1)
	qr := float64(g.p99) / float64(n.p99)
	row("echo with ack p99", "us", us(g.p99), us(n.p99), qr, "<=1x", qr <= 1)
	mr := g.idleBytes / n.idleBytes
	row(fmt.Sprintf("RSS per idle conn (%d conns)", o.idle), "KB", g.idleBytes/1024, n.idleBytes/1024, mr, "<=0.25x", mr <= 0.25)
}

// proc is a running server process.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines <-chan string // the server's stdout after its first line
	addr  string
	pid   int
}

// gc asks the server for a full garbage collection and waits for it.
func (p *proc) gc() error {
	if _, err := io.WriteString(p.stdin, "gc\n"); err != nil {
		return err
	}
	select {
	case l, ok := <-p.lines:
		if !ok || l != "gc done\n" {
			return fmt.Errorf("gc: server said %q", l)
		}
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("gc: no answer")
	}
}

// withServer starts a fresh server, runs fn, and stops it.
func withServer(s server, fn func(p *proc) error) error {
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		return errors.New("server did not start")
	}
	var hello struct{ Port int }
	if err := json.Unmarshal([]byte(line), &hello); err != nil || hello.Port == 0 {
		return fmt.Errorf("server said %q: %v", line, err)
	}
	return fn(&proc{cmd: cmd, stdin: stdin, lines: lines, addr: "127.0.0.1:" + strconv.Itoa(hello.Port), pid: cmd.Process.Pid})
}

// cpu returns the process's user+system CPU time (/proc/PID/stat).
func cpu(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	// After the command: state(0) ... utime(11) stime(12), in clock ticks
	// (USER_HZ, 100 on Linux).
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// rss returns the process's resident set size (/proc/PID/status VmRSS).
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// dialAll connects n clients, a few at a time.
func dialAll(addr string, n int) ([]*conn, error) {
	conns := make([]*conn, n)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := dial(ctx, addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmp(first, fmt.Errorf("client %d: %w", i, err))
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if first != nil {
		closeAll(conns)
		return nil, first
	}
	return conns, nil
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func closeAll(conns []*conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

const benchPayload = `{"room":"lobby","from":"ann","text":"hello, world, this is a chat line of ordinary length"}`

// broadcast measures deliveries per second and server CPU per delivery.
func broadcast(p *proc, n int, dur time.Duration) (float64, time.Duration, error) {
	conns, err := dialAll(p.addr, n)
	if err != nil {
		return 0, 0, err
	}
	var target, done atomic.Int64
	reached := make(chan struct{}, 1)
	failed := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer closeAll(conns)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got int64
			for {
				m, err := c.next()
				if err != nil {
					select {
					case failed <- err:
					default:
					}
					return
				}
				if len(m) > 6 && string(m[:6]) == `42["m"` {
					got++
					if got == target.Load() && done.Add(1) == int64(n) {
						reached <- struct{}{}
					}
				}
			}
		}()
	}
	const burst = 100
	round := func() error {
		done.Store(0)
		target.Add(burst)
		if err := conns[0].write(`42["go",` + strconv.Itoa(burst) + `,` + benchPayload + `]`); err != nil {
			return err
		}
		select {
		case <-reached:
			return nil
		case err := <-failed:
			return fmt.Errorf("client: %w", err)
		case <-time.After(time.Minute):
			return fmt.Errorf("%d of %d clients got the burst in a minute", done.Load(), n)
		}
	}
	for range 3 { // warm up
		if err := round(); err != nil {
			return 0, 0, err
		}
	}
	c0, err := cpu(p.pid)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	rounds := 0
	for time.Since(start) < dur {
		if err := round(); err != nil {
			return 0, 0, err
		}
		rounds++
	}
	elapsed := time.Since(start)
	c1, err := cpu(p.pid)
	if err != nil {
		return 0, 0, err
	}
	deliveries := float64(rounds) * burst * float64(n)
	return deliveries / elapsed.Seconds(), time.Duration(float64(c1-c0) / deliveries), nil
}

// echo measures the emit-with-ack round trip of one client.
func echo(p *proc, n int) (p50, p99 time.Duration, err error) {
	conns, err := dialAll(p.addr, 1)
	if err != nil {
		return 0, 0, err
	}
	c := conns[0]
	defer c.Close()
	c.c.SetDeadline(time.Now().Add(2 * time.Minute))
	const warm = 1000
	rtts := make([]time.Duration, 0, n)
	for i := range warm + n {
		id := strconv.Itoa(i)
		want := "43" + id + "["
		start := time.Now()
		if err := c.write("42" + id + `["echo","hello"]`); err != nil {
			return 0, 0, err
		}
		for {
			m, err := c.next()
			if err != nil {
				return 0, 0, err
			}
			if strings.HasPrefix(string(m), want) {
				break
			}
		}
		if i >= warm {
			rtts = append(rtts, time.Since(start))
		}
	}
	slices.Sort(rtts)
	return rtts[len(rtts)/2], rtts[len(rtts)*99/100], nil
}

// idle measures the server's RSS growth per idle connection.
func idle(p *proc, n int) (float64, error) {
	// One connection first, so that the server's first-use costs are in
	// the baseline.
	warm, err := dialAll(p.addr, 1)
	if err != nil {
		return 0, err
	}
	defer closeAll(warm)
	if err := p.gc(); err != nil {
		return 0, err
	}
	r0, err := steadyRSS(p.pid)
	if err != nil {
		return 0, err
	}
	conns, err := dialAll(p.addr, n)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer closeAll(conns)
	for _, c := range conns {
		wg.Add(1)
		go func() { // answers pings, if any come
			defer wg.Done()
			for {
				if _, err := c.next(); err != nil {
					return
				}
			}
		}()
	}
	if err := p.gc(); err != nil {
		return 0, err
	}
	r1, err := steadyRSS(p.pid)
	if err != nil {
		return 0, err
	}
	return float64(r1-r0) / float64(n), nil
}

// steadyRSS waits until the RSS stops changing by more than 1% over half
// a second (at most 5 s) and returns it.
func steadyRSS(pid int) (int64, error) {
	prev, err := rss(pid)
	if err != nil {
		return 0, err
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for range 10 {
		<-tick.C
		cur, err := rss(pid)
		if err != nil {
			return 0, err
		}
		if d := cur - prev; d*100 < cur && -d*100 < cur {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}
