// Command hubbench measures what the hub's doors cost a broadcast: one
// room of 1,000 Socket.IO clients (plus 10 ZeroMQ subscribers on the hub)
// where one client says lines, on four servers side by side in one run:
//
//   - hub: the real daemon, "switchboard serve" with the ZeroMQ XPUB door,
//     the chat protocol of package hub (validation, presence, rate limits
//     raised out of the way, every door's bookkeeping); its 10 ZeroMQ
//     subscribers (package zmq SUB sockets) hear the room too;
//   - hub-sio: the same daemon without the ZeroMQ door, to tell the
//     hub core's cost from the extra door's (on both hub sides the other
//     doors, IRC, UDP, ZeroMQ in and rpc, are off);
//   - bare: switchboard's socketio server with the same protocol's
//     handlers written directly on it (no hub, no doors): "hubbench bare";
//   - node: the official socket.io 4.8 server with the same handlers
//     (interop/e2e/bench_chat.js).
//
// The same lean raw-WebSocket clients drive all three: client 0 sends
// bursts of "say" (pipelined, with acks), every other client and
// subscriber counts "said". A side's figures are the median of its rounds,
// the sides taking turns round by round so that all meet the same
// background load: deliveries per second at the receivers, and server CPU
// per delivery (/proc/PID/stat utime+stime). It prints a ratio table;
// ci/bench.d/hub.sh runs it (make bench).
//
// Usage:
//
//	hubbench -switchboard ./switchboard -node-script interop/e2e/bench_chat.js
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard/switchboard/internal/procstat"
	"github.com/switchboard/switchboard/zmq"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "bare" {
		err = serveBare()
	} else {
		err = run(os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubbench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	switchboard, node, nodeScript string
	clients, subs, burst          int
	duration                      time.Duration
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("hubbench", flag.ContinueOnError)
	fs.StringVar(&o.switchboard, "switchboard", "", "the switchboard binary (go build ./cmd/switchboard)")
	fs.StringVar(&o.node, "node", "node", "node binary")
	fs.StringVar(&o.nodeScript, "node-script", "interop/e2e/bench_chat.js", "the socket.io 4.8 chat server script (run with cwd interop/node)")
	fs.IntVar(&o.clients, "clients", 1000, "Socket.IO clients in the room")
	fs.IntVar(&o.subs, "subs", 10, "ZeroMQ subscribers of the room (hub only)")
	fs.IntVar(&o.burst, "burst", 100, "lines said per round")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.switchboard == "" {
		return errors.New("-switchboard is required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script, err := filepath.Abs(o.nodeScript)
	if err != nil {
		return err
	}
	nodeDir := filepath.Join(filepath.Dir(script), "..", "node")
	// The doors not under test are off (serve turns several on by
	// default, on fixed ports that the two hub sides would share).
	others := []string{"--zmq-in", "off", "--zmq-rpc", "off", "--udp", "off", "--irc", "off"}
	sides := []side{
		{name: "hub", nsubs: o.subs, argv: append([]string{o.switchboard, "serve", "--http", "127.0.0.1:0",
			"--zmq-pub", "tcp://127.0.0.1:0", "--rate", "1e9", "--burst", "1000000000",
			"--control=false", "--max-payload", "65536"}, others...)},
		{name: "hub-sio", argv: append([]string{o.switchboard, "serve", "--http", "127.0.0.1:0",
			"--zmq-pub", "off", "--rate", "1e9", "--burst", "1000000000", "--control=false"}, others...)},
		{name: "bare", argv: []string{self, "bare"}},
		{name: "node", argv: []string{o.node, script}, env: []string{"NODE_PATH=" + filepath.Join(nodeDir, "node_modules")}},
	}
	fmt.Fprintf(out, "== broadcast in one room of %d Socket.IO clients (+%d ZeroMQ subscribers on the hub), bursts of %d lines, %d rounds of %v per server, taking turns\n",
		o.clients, o.subs, o.burst, rounds, o.duration/rounds)
	for i := range sides {
		s := &sides[i]
		if err := s.start(); err != nil {
			stopAll(sides)
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	defer stopAll(sides)
	for i := range sides {
		s := &sides[i]
		start := time.Now()
		if err := s.connect(o.clients, o.burst); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(out, "   %-7s %d clients, %d subscribers in the room in %.1fs\n", s.name, len(s.conns), len(s.zsubs), time.Since(start).Seconds())
	}
	for range rounds {
		for i := range sides {
			if err := sides[i].measure(o.duration / rounds); err != nil {
				return fmt.Errorf("%s: %w", sides[i].name, err)
			}
		}
	}
	res := map[string]result{}
	for i := range sides {
		s := &sides[i]
		r := result{rate: median(s.rates), cpu: median(s.cpus), writes: median(s.writes),
			rates: s.rates, cpus: s.cpus, writess: s.writes}
		res[s.name] = r
		fmt.Fprintf(out, "   %-7s %.0f deliveries/s, %.2f µs server CPU per delivery (median; rounds: %s; %s µs)\n",
			s.name, r.rate, r.cpu/1e3, kilo(s.rates), micro(s.cpus))
	}
	report(out, o, res["hub"], res["hub-sio"], res["bare"], res["node"])
	return nil
}

// rounds is how many slices each side's measured time is cut into.
const rounds = 5

type result struct {
	rate   float64 // deliveries per second
	cpu    float64 // server CPU nanoseconds per delivery
	writes float64 // server write system calls per delivery

	rates, cpus, writess []float64 // each round's, in order
}

// paired returns the median over rounds of a[i]/b[i]: the sides take
// turns round by round, so each ratio compares two runs under about the
// same background load, which drifts less within a pair than across the
// whole run.
func paired(a, b []float64) float64 {
	n := min(len(a), len(b))
	if n == 0 {
		return 0
	}
	r := make([]float64, n)
	for i := range n {
		r[i] = a[i] / b[i]
	}
	return median(r)
}

// report prints the ratio table.
func report(out io.Writer, o options, hub, sio, bare, node result) {
	fmt.Fprintf(out, "\nHub broadcast in one room: hub = switchboard serve, %d Socket.IO clients + %d ZeroMQ subscribers; hub-sio = the same\n", o.clients, o.subs)
	fmt.Fprintf(out, "without the ZeroMQ door; bare = switchboard socketio, same handlers, no hub; node = socket.io 4.8, same handlers;\n")
	fmt.Fprintf(out, "values are medians of the rounds, ratios medians of the per-round ratios\n")
	fmt.Fprintf(out, "%-24s %10s %10s %10s %10s %9s %9s %9s  %s\n", "metric", "hub", "hub-sio", "bare", "node", "hub/sio", "hub/bare", "hub/node", "target")
	row := func(name string, h, s, b, n float64, unit string, hs, hb, hn float64, ok bool, target string) {
		mark := "ok"
		if !ok {
			mark = "MISSED"
		}
		fmt.Fprintf(out, "%-24s %7.2f %-2s %7.2f %-2s %7.2f %-2s %7.2f %-2s %8.2fx %8.2fx %8.2fx  %s %s\n",
			name, h, unit, s, unit, b, unit, n, unit, hs, hb, hn, target, mark)
	}
	hb := paired(hub.rates, bare.rates)
	row("deliveries/s", hub.rate/1e3, sio.rate/1e3, bare.rate/1e3, node.rate/1e3, "k",
		paired(hub.rates, sio.rates), hb, paired(hub.rates, node.rates), hb >= 0.9, "hub/bare >= 0.90x")
	hb = paired(hub.cpus, bare.cpus)
	row("server CPU per delivery", hub.cpu/1e3, sio.cpu/1e3, bare.cpu/1e3, node.cpu/1e3, "us",
		paired(hub.cpus, sio.cpus), hb, paired(hub.cpus, node.cpus), hb <= 1.1, "hub/bare <= 1.10x")
	row("write syscalls/delivery", hub.writes, sio.writes, bare.writes, node.writes, "",
		paired(hub.writess, sio.writess), paired(hub.writess, bare.writess), paired(hub.writess, node.writess), true, "(information)")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// micro formats nanoseconds as microseconds.
func micro(v []float64) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.2f", x/1e3)
	}
	return b.String()
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

// side is one server under test and its clients.
type side struct {
	name  string
	argv  []string
	env   []string
	nsubs int

	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  bytes.Buffer
	addr    string // host:port of Socket.IO
	zmqPub  string
	conns   []*conn
	zsubs   []*zmq.Socket
	readers sync.WaitGroup
	stop    context.CancelFunc

	k      atomic.Int64 // lines said in the current round
	round  atomic.Int64 // the current round, numbered from 1
	done   atomic.Int64 // receivers that have the round's lines
	recv   int64        // receivers
	reach  chan struct{}
	failed chan error

	rates, cpus, writes []float64
}

var (
	helloPort = regexp.MustCompile(`^\{"port":(\d+)\}$`)
	chatOn    = regexp.MustCompile(`chat on http://(\S+?)/?$`)
	zmqPubOn  = regexp.MustCompile(`zmq-pub on (\S+)$`)
)

// start starts the server and reads its addresses from its stdout.
func (s *side) start() error {
	s.cmd = exec.Command(s.argv[0], s.argv[1:]...)
	s.cmd.Env = append(os.Environ(), s.env...)
	s.cmd.Stderr = &s.stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return err
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	deadline := time.After(30 * time.Second)
	for s.addr == "" || (s.nsubs > 0 && s.zmqPub == "") {
		select {
		case l, ok := <-lines:
			if !ok {
				return fmt.Errorf("exited: %s", s.stderr.String())
			}
			if m := helloPort.FindStringSubmatch(l); m != nil {
				s.addr = "127.0.0.1:" + m[1]
			} else if m := chatOn.FindStringSubmatch(l); m != nil {
				s.addr = m[1]
			} else if m := zmqPubOn.FindStringSubmatch(l); m != nil {
				s.zmqPub = m[1]
			}
		case <-deadline:
			return errors.New("printed no address in 30 s")
		}
	}
	return nil
}

func stopAll(sides []side) {
	for i := range sides {
		sides[i].close()
	}
}

// close closes the clients, stops the server and waits for both.
func (s *side) close() {
	if s.stop != nil {
		s.stop()
	}
	for _, c := range s.conns {
		if c != nil {
			c.Close()
		}
	}
	for _, z := range s.zsubs {
		z.Close()
	}
	s.readers.Wait()
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	s.stdin.Close()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// connect puts n clients and s.nsubs subscribers in the room "lobby",
// starts their readers, and runs warm-up rounds until every receiver
// hears the room.
func (s *side) connect(n, burst int) error {
	s.reach = make(chan struct{}, 1)
	s.failed = make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.conns = make([]*conn, n)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	s.recv = int64(n - 1 + s.nsubs)
	for i := range s.conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialChat(s.addr, "u"+strconv.Itoa(i), "lobby")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmp(first, fmt.Errorf("client %d: %w", i, err))
				return
			}
			s.conns[i] = c
			s.readers.Add(1)
			go s.readWS(c, i == 0)
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	for range s.nsubs {
		z, err := zmq.NewSocket(zmq.Sub, nil)
		if err != nil {
			return err
		}
		s.zsubs = append(s.zsubs, z)
		if err := z.Subscribe([]byte("lobby")); err != nil {
			return err
		}
		if err := z.Connect(s.zmqPub); err != nil {
			return err
		}
		s.readers.Add(1)
		go s.readSub(ctx, z)
	}
	// Warm-up: rounds of one line until every receiver heard one (the
	// subscriptions are in), then three full rounds.
	for try := 0; ; try++ {
		err := s.sayRound(1, 500*time.Millisecond)
		if err == nil {
			break
		}
		if try == 40 {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	for range 3 {
		if err := s.sayRound(burst, time.Minute); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	return nil
}

// heard counts one line of round r at a receiver: cur and cnt are the
// receiver's round and its count of that round's lines. Lines of earlier
// rounds (a warm-up round that timed out) are not counted.
func (s *side) heard(r int64, cur, cnt *int64) {
	if r < *cur {
		return
	}
	if r > *cur {
		*cur, *cnt = r, 0
	}
	*cnt++
	if *cnt == s.k.Load() && r == s.round.Load() && s.done.Add(1) == s.recv {
		select {
		case s.reach <- struct{}{}:
		default:
		}
	}
}

// roundOf returns the round number a line's text starts with ("r12 ...");
// text is the text itself or a JSON message holding it.
func roundOf(text []byte) int64 {
	if i := bytes.Index(text, []byte(`"text":"`)); i >= 0 {
		text = text[i+len(`"text":"`):]
	}
	if len(text) < 2 || text[0] != 'r' {
		return -1
	}
	var r int64
	for _, c := range text[1:] {
		if c < '0' || c > '9' {
			break
		}
		r = r*10 + int64(c-'0')
	}
	return r
}

func (s *side) fail(err error) {
	select {
	case s.failed <- err:
	default:
	}
}

// readWS reads a client's messages and counts "said".
func (s *side) readWS(c *conn, sender bool) {
	defer s.readers.Done()
	var cur, cnt int64
	for {
		m, err := c.next()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.fail(err)
			}
			return
		}
		if !sender && bytes.HasPrefix(m, []byte(`42["said"`)) {
			s.heard(roundOf(m), &cur, &cnt)
		}
	}
}

// readSub reads a subscriber's messages and counts the room's lines.
func (s *side) readSub(ctx context.Context, z *zmq.Socket) {
	defer s.readers.Done()
	var cur, cnt int64
	for {
		m, err := z.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.fail(err)
			}
			return
		}
		if len(m) == 5 && string(m[0]) == "lobby" {
			s.heard(roundOf(m[2]), &cur, &cnt)
		}
	}
}

const sayText = `hello, world, this is a chat line of ordinary length"}]`

// sayRound has client 0 say k lines and waits until every receiver has
// them.
func (s *side) sayRound(k int, wait time.Duration) error {
	s.done.Store(0)
	s.k.Store(int64(k))
	r := s.round.Add(1)
	c := s.conns[0]
	var b []byte
	for range k {
		c.ackID++
		b = append(b[:0], "42"...)
		b = strconv.AppendInt(b, int64(c.ackID), 10)
		b = append(b, `["say",{"room":"lobby","text":"r`...)
		b = strconv.AppendInt(b, r, 10)
		b = append(b, ' ')
		b = append(b, sayText...)
		if err := c.write(b); err != nil {
			return err
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.reach:
		return nil
	case err := <-s.failed:
		return fmt.Errorf("receiver: %w", err)
	case <-t.C:
		return fmt.Errorf("%d of %d receivers got the round in %v", s.done.Load(), s.recv, wait)
	}
}

// measure runs rounds for about dur and records deliveries per second and
// CPU per delivery.
func (s *side) measure(dur time.Duration) error {
	c0, err := procstat.CPU(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	w0, err := procstat.Writes(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	start := time.Now()
	n := 0
	const burst = 100
	for n == 0 || time.Since(start) < dur {
		if err := s.sayRound(burst, time.Minute); err != nil {
			return err
		}
		n++
	}
	elapsed := time.Since(start)
	c1, err := procstat.CPU(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	w1, err := procstat.Writes(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	deliveries := float64(n) * burst * float64(s.recv)
	s.rates = append(s.rates, deliveries/elapsed.Seconds())
	s.cpus = append(s.cpus, float64(c1-c0)/deliveries)
	s.writes = append(s.writes, float64(w1-w0)/deliveries)
	return nil
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// conn is a lean Socket.IO-over-WebSocket client (RFC 6455 framing by
// hand, zero mask key, no extensions), so the load costs little and the
// same for every server.
type conn struct {
	c     net.Conn
	r     *bufio.Reader
	wmu   sync.Mutex
	buf   []byte
	wbuf  []byte
	ackID int
}

// dialChat connects to the main namespace at addr over WebSocket, takes
// the name nick and joins room, waiting for both acks.
func dialChat(addr, nick, room string) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := &conn{c: nc, r: bufio.NewReaderSize(nc, 4096)}
	fail := func(err error) (*conn, error) { nc.Close(); return nil, err }
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return fail(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fail(fmt.Errorf("hubbench: handshake status %d", resp.StatusCode))
	}
	if m, err := c.next(); err != nil || len(m) == 0 || m[0] != '0' {
		return fail(fmt.Errorf("hubbench: engine handshake %q: %v", m, err))
	}
	if err := c.write([]byte("40")); err != nil {
		return fail(err)
	}
	if err := c.await("40"); err != nil {
		return fail(err)
	}
	for i, ev := range []string{"nick", "join"} {
		arg, _ := json.Marshal([]string{ev, map[string]string{"nick": nick, "join": room}[ev]})
		id := strconv.Itoa(i + 1)
		if err := c.write(append([]byte("42"+id), arg...)); err != nil {
			return fail(err)
		}
		if err := c.await("43" + id + "["); err != nil {
			return fail(fmt.Errorf("%s: %w", ev, err))
		}
	}
	c.ackID = 2
	nc.SetDeadline(time.Time{})
	return c, nil
}

// await reads messages until one starts with prefix.
func (c *conn) await(prefix string) error {
	for range 100000 {
		m, err := c.next()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(m, []byte(prefix)) {
			if m[0] == '4' && m[1] == '3' && !bytes.Contains(m, []byte(`"ok":true`)) {
				return fmt.Errorf("hubbench: refused: %q", m)
			}
			return nil
		}
		if bytes.HasPrefix(m, []byte(prefix[:min(len(prefix), 3)])) {
			return fmt.Errorf("hubbench: got %q", m)
		}
	}
	return fmt.Errorf("hubbench: no %q", prefix)
}

// write sends one text message.
func (c *conn) write(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := append(c.wbuf[:0], 0x81)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, 0, 0, 0, 0) // mask key 0: payload unchanged
	b = append(b, p...)
	c.wbuf = b
	_, err := c.c.Write(b)
	return err
}

var errProtocol = errors.New("hubbench: unexpected WebSocket data")

// next returns the payload of the next data message, answering Engine.IO
// and WebSocket pings. The slice is valid until the next call.
func (c *conn) next() ([]byte, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return nil, err
		}
		if h[1]&0x80 != 0 || h[0]&0x80 == 0 {
			return nil, errProtocol
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(c.r, e[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(e[:]))
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(c.r, e[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(e[:])
		}
		if n > 1<<20 {
			return nil, errProtocol
		}
		if uint64(cap(c.buf)) < n {
			c.buf = make([]byte, n)
		}
		c.buf = c.buf[:n]
		if _, err := io.ReadFull(c.r, c.buf); err != nil {
			return nil, err
		}
		switch h[0] & 0x0f {
		case 1, 2:
			if n == 1 && c.buf[0] == '2' {
				if err := c.write([]byte("3")); err != nil {
					return nil, err
				}
				continue
			}
			return c.buf, nil
		case 8:
			return nil, io.EOF
		case 9:
			c.wmu.Lock()
			_, err := c.c.Write([]byte{0x8a, 0x80, 0, 0, 0, 0})
			c.wmu.Unlock()
			if err != nil {
				return nil, err
			}
		}
	}
}

// Close closes the TCP connection.
func (c *conn) Close() error { return c.c.Close() }
