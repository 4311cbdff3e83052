// Command siobench compares switchboard's Socket.IO server with the
// official Node.js socket.io 4.8 server under the same client load, and
// prints the ratios. ci/bench.d/sio.sh builds and runs it (make bench).
//
// The timed scenarios run both servers at once, taking turns round by
// round, so that both meet the same background load. Each scenario starts
// fresh server processes, our internal/siobench/server
// or node interop/node/bench/server.js (same handlers, default settings),
// and drives it from this process with lean raw-WebSocket clients:
//
//   - broadcast: C clients connected; client 0 asks for bursts of 100 "m"
//     events broadcast to all; deliveries per second counted at the clients,
//     and server CPU per delivery from /proc/PID/stat (utime+stime); the
//     median of 5 rounds per server;
//   - echo: one client, emit "echo" with an ack and wait for it; round trip
//     p50 and p99 over 5 rounds per server;
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

	"github.com/switchboard/switchboard/internal/procstat"
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
	fs.IntVar(&o.echoes, "echoes", 20000, "measured round trips of the echo scenario, per server")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of the broadcast scenario, per server")
	fs.StringVar(&o.only, "only", "", `measure one side only: "switchboard" or "node" (no ratios)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.goServer == "" {
		return errors.New("-go is required")
	}
	var sides []server
	if o.only != "node" {
		sides = append(sides, server{"switchboard", []string{o.goServer}})
	}
	if o.only != "switchboard" {
		sides = append(sides, server{"socket.io 4.8", []string{o.node, "--expose-gc", o.nodeScript}})
	}
	res := make([]result, len(sides))
	if err := measureBroadcast(sides, o, res, out); err != nil {
		return fmt.Errorf("broadcast: %w", err)
	}
	if err := measureEcho(sides, o, res, out); err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	for i, s := range sides {
		fmt.Fprintf(out, "== %s: %d idle connections\n", s.name, o.idle)
		p, stop, err := start(s)
		if err != nil {
			return fmt.Errorf("idle: %s: %w", s.name, err)
		}
		res[i].idleBytes, err = idle(p, o.idle)
		stop()
		if err != nil {
			return fmt.Errorf("idle: %s: %w", s.name, err)
		}
		fmt.Fprintf(out, "   %.1f KB RSS per idle connection\n", res[i].idleBytes/1024)
	}
	if len(sides) == 2 {
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

// rounds is how many slices the timed scenarios are cut into; the
// servers take turns, so that both meet the same background load on a
// shared machine.
const rounds = 5

// startAll starts a fresh process of every side.
func startAll(sides []server) ([]*proc, func(), error) {
	var procs []*proc
	var stops []func()
	stopAll := func() {
		for _, stop := range stops {
			stop()
		}
	}
	for _, s := range sides {
		p, stop, err := start(s)
		if err != nil {
			stopAll()
			return nil, nil, fmt.Errorf("%s: %w", s.name, err)
		}
		procs = append(procs, p)
		stops = append(stops, stop)
	}
	return procs, stopAll, nil
}

// measureBroadcast runs the broadcast scenario, the sides taking turns;
// each side's figure is the median of its rounds.
func measureBroadcast(sides []server, o options, res []result, out io.Writer) error {
	fmt.Fprintf(out, "== broadcast to %d clients, %d rounds of %v per server, taking turns\n", o.clients, rounds, o.duration/rounds)
	procs, stop, err := startAll(sides)
	if err != nil {
		return err
	}
	defer stop()
	bcs := make([]*broadcaster, len(procs))
	for i, p := range procs {
		if bcs[i], err = newBroadcaster(p, o.clients); err != nil {
			return fmt.Errorf("%s: %w", sides[i].name, err)
		}
		defer bcs[i].close()
	}
	rates := make([][]float64, len(sides))
	cpus := make([][]float64, len(sides))
	for range rounds {
		for i, b := range bcs {
			rate, c, err := b.measure(o.duration / rounds)
			if err != nil {
				return fmt.Errorf("%s: %w", sides[i].name, err)
			}
			rates[i] = append(rates[i], rate)
			cpus[i] = append(cpus[i], float64(c))
		}
	}
	for i, s := range sides {
		res[i].deliveries = median(rates[i])
		res[i].cpu = time.Duration(median(cpus[i]))
		fmt.Fprintf(out, "   %-14s %.0f deliveries/s, %.2f µs server CPU per delivery (median; rounds: %s)\n",
			s.name, res[i].deliveries, us(res[i].cpu), kilo(rates[i]))
	}
	return nil
}

// measureEcho runs the echo scenario, the sides taking turns; p50 and p99
// are over all of a side's round trips.
func measureEcho(sides []server, o options, res []result, out io.Writer) error {
	fmt.Fprintf(out, "== echo with ack, one client, %d rounds of %d round trips per server, taking turns\n", rounds, o.echoes/rounds)
	procs, stop, err := startAll(sides)
	if err != nil {
		return err
	}
	defer stop()
	clients := make([]*conn, len(procs))
	for i, p := range procs {
		cs, err := dialAll(p.addr, 1)
		if err != nil {
			return fmt.Errorf("%s: %w", sides[i].name, err)
		}
		clients[i] = cs[0]
		defer cs[0].Close()
	}
	rtts := make([][]time.Duration, len(sides))
	for r := range rounds + 1 {
		for i, c := range clients {
			n := o.echoes / rounds
			if r == 0 {
				n = min(n, 1000) // warm-up round, not counted
			}
			got, err := echo(c, n)
			if err != nil {
				return fmt.Errorf("%s: %w", sides[i].name, err)
			}
			if r > 0 {
				rtts[i] = append(rtts[i], got...)
			}
		}
	}
	for i, s := range sides {
		slices.Sort(rtts[i])
		res[i].p50 = rtts[i][len(rtts[i])/2]
		res[i].p99 = rtts[i][len(rtts[i])*99/100]
		fmt.Fprintf(out, "   %-14s p50 %.1f µs, p99 %.1f µs\n", s.name, us(res[i].p50), us(res[i].p99))
	}
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func kilo(v []float64) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.0fk", x/1e3)
	}
	return b.String()
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

// start starts a fresh server process and waits for its port; stop
// closes its stdin and waits for it to exit (killing it after 10 s).
func start(s server) (p *proc, stop func(), err error) {
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	lines := make(chan string, 16)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(lines)
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			select {
			case lines <- line:
			default: // nobody asked: drop
			}
		}
	}()
	stop = func() {
		stdin.Close()
		done := make(chan struct{})
		go func() {
			<-readerDone
			cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		stop()
		return nil, nil, errors.New("server did not start")
	}
	var hello struct{ Port int }
	if err := json.Unmarshal([]byte(line), &hello); err != nil || hello.Port == 0 {
		stop()
		return nil, nil, fmt.Errorf("server said %q: %v", line, err)
	}
	return &proc{cmd: cmd, stdin: stdin, lines: lines, addr: "127.0.0.1:" + strconv.Itoa(hello.Port), pid: cmd.Process.Pid}, stop, nil
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

// broadcaster is the broadcast scenario's clients on one server: client 0
// asks for bursts of "m" events, every client counts them.
type broadcaster struct {
	p       *proc
	conns   []*conn
	target  atomic.Int64 // events each client awaits, cumulative
	done    atomic.Int64 // clients that have them all
	reached chan struct{}
	failed  chan error
	wg      sync.WaitGroup
}

// burst is the number of events client 0 asks for at a time. The server
// queues at most burst packets per client (well under the engine's
// bounded queue).
const burst = 100

func newBroadcaster(p *proc, n int) (*broadcaster, error) {
	conns, err := dialAll(p.addr, n)
	if err != nil {
		return nil, err
	}
	b := &broadcaster{p: p, conns: conns, reached: make(chan struct{}, 1), failed: make(chan error, 1)}
	for _, c := range conns {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			var got int64
			for {
				m, err := c.next()
				if err != nil {
					select {
					case b.failed <- err:
					default:
					}
					return
				}
				if len(m) > 6 && string(m[:6]) == `42["m"` {
					got++
					if got == b.target.Load() && b.done.Add(1) == int64(n) {
						b.reached <- struct{}{}
					}
				}
			}
		}()
	}
	for range 3 { // warm up
		if err := b.round(); err != nil {
			b.close()
			return nil, err
		}
	}
	return b, nil
}

// round asks for one burst and waits until every client has it.
func (b *broadcaster) round() error {
	b.done.Store(0)
	b.target.Add(burst)
	if err := b.conns[0].write(`42["go",` + strconv.Itoa(burst) + `,` + benchPayload + `]`); err != nil {
		return err
	}
	select {
	case <-b.reached:
		return nil
	case err := <-b.failed:
		return fmt.Errorf("client: %w", err)
	case <-time.After(time.Minute):
		return fmt.Errorf("%d of %d clients got the burst in a minute", b.done.Load(), len(b.conns))
	}
}

// measure runs bursts for about dur and returns deliveries per second and
// the server's CPU time per delivery.
func (b *broadcaster) measure(dur time.Duration) (float64, time.Duration, error) {
	c0, err := procstat.CPU(b.p.pid)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	n := 0
	for n == 0 || time.Since(start) < dur {
		if err := b.round(); err != nil {
			return 0, 0, err
		}
		n++
	}
	elapsed := time.Since(start)
	c1, err := procstat.CPU(b.p.pid)
	if err != nil {
		return 0, 0, err
	}
	deliveries := float64(n) * burst * float64(len(b.conns))
	return deliveries / elapsed.Seconds(), time.Duration(float64(c1-c0) / deliveries), nil
}

// close closes the clients and waits for their readers.
func (b *broadcaster) close() {
	closeAll(b.conns)
	b.wg.Wait()
}

// echo emits "echo" with an ack n times on c, one at a time, and returns
// the round trips.
func echo(c *conn, n int) ([]time.Duration, error) {
	c.c.SetDeadline(time.Now().Add(2 * time.Minute))
	defer c.c.SetDeadline(time.Time{})
	rtts := make([]time.Duration, 0, n)
	for range n {
		c.ackID++
		id := strconv.Itoa(c.ackID)
		want := "43" + id + "["
		start := time.Now()
		if err := c.write("42" + id + `["echo","hello"]`); err != nil {
			return nil, err
		}
		for {
			m, err := c.next()
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(string(m), want) {
				break
			}
		}
		rtts = append(rtts, time.Since(start))
	}
	return rtts, nil
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
	prev, err := procstat.RSS(pid)
	if err != nil {
		return 0, err
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for range 10 {
		<-tick.C
		cur, err := procstat.RSS(pid)
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
