package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/monitor"
)

// ncBuf is an output buffer that wakes waiters on every write.
type ncBuf struct {
	mu  sync.Mutex
	b   bytes.Buffer
	sig chan struct{}
}

func newNCBuf() *ncBuf { return &ncBuf{sig: make(chan struct{}, 1)} }

func (b *ncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.b.Write(p)
	b.mu.Unlock()
	select {
	case b.sig <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *ncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitMatch waits until the buffer matches re and returns the submatches.
func (b *ncBuf) waitMatch(t *testing.T, re *regexp.Regexp, within time.Duration) []string {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		select {
		case <-b.sig:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %q; have:\n%s", re, b.String())
		}
	}
}

// ncLeakCheck checks, after every cleanup of the test, that the test left
// no goroutine behind.
func ncLeakCheck(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// ncProc is a command run in process by cli.Run.
type ncProc struct {
	cancel context.CancelFunc
	done   chan error
	stdin  *io.PipeWriter
	out    *ncBuf
	err    *ncBuf
}

func ncStart(t *testing.T, args ...string) *ncProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &ncProc{cancel: cancel, done: make(chan error, 1), stdin: pw, out: newNCBuf(), err: newNCBuf()}
	go func() { p.done <- Run(ctx, args, Stdio{In: pr, Out: p.out, Err: p.err}) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop cancels the command, closes its stdin and waits for it.
func (p *ncProc) stop(t *testing.T) error {
	t.Helper()
	p.cancel()
	p.stdin.Close()
	select {
	case err, ok := <-p.done:
		if ok {
			close(p.done)
		}
		return err
	case <-time.After(15 * time.Second):
		t.Fatalf("command did not stop; stderr:\n%s", p.err.String())
		return nil
	}
}

var listeningRE = regexp.MustCompile(`listening on (\S+)`)

func TestListenDialBothWays(t *testing.T) {
	ncLeakCheck(t)
	dir := t.TempDir()
	tests := []struct {
		name, spec string
		datagram   bool
	}{
		{"tcp", "tcp://127.0.0.1:0", false},
		{"unix", "unix://" + filepath.Join(dir, "l.sock"), false},
		{"udp", "udp://127.0.0.1:0", true},
		{"tls", "tls://127.0.0.1:0?selfsigned=1", false},
		{"ws", "ws://127.0.0.1:0/nc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ncStart(t, "listen", "--lines", "--tag", "--control-dir", dir, tt.spec)
			addr := l.err.waitMatch(t, listeningRE, 10*time.Second)[1]
			d := ncStart(t, "dial", "--lines", "--control-dir", dir, addr)
			io.WriteString(d.stdin, "ping from dial\n")
			l.out.waitMatch(t, regexp.MustCompile(`\[\S+\] ping from dial\n`), 10*time.Second)
			io.WriteString(l.stdin, "pong from listen\n")
			d.out.waitMatch(t, regexp.MustCompile(`pong from listen\n`), 10*time.Second)
			if tt.datagram {
				d.stop(t)
			} else {
				// stdin EOF half-closes; the listener closes its side;
				// dial then ends by itself.
				d.stdin.Close()
				select {
				case err := <-d.done:
					d.done <- err
					if err != nil {
						t.Fatalf("dial: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("dial did not end after stdin EOF")
				}
			}
			if err := l.stop(t); err != nil {
				t.Fatalf("listen: %v", err)
			}
		})
	}
}

func TestListenManyClients(t *testing.T) {
	ncLeakCheck(t)
	dir := t.TempDir()
	l := ncStart(t, "listen", "--tag", "--control-dir", dir, "tcp://127.0.0.1:0")
	addr := strings.TrimPrefix(l.err.waitMatch(t, listeningRE, 10*time.Second)[1], "tcp://")
	var conns []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		io.WriteString(c, "client "+strconv.Itoa(i)+"\n")
	}
	for i := range 3 {
		l.out.waitMatch(t, regexp.MustCompile(`\[127\.0\.0\.1:\d+\] client `+strconv.Itoa(i)+`\n`), 10*time.Second)
	}
	io.WriteString(l.stdin, "to all\n")
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "to all\n" {
			t.Fatalf("broadcast: %q %v", line, err)
		}
	}
}

// statRow is one parsed row of stat's table.
type statRow struct {
	proto, local, remote, state string
	msgsIn, msgsOut             uint64
	bytesIn, bytesOut           uint64
}

func parseStat(t *testing.T, out string) []statRow {
	t.Helper()
	var rows []statRow
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "PID") || !strings.HasPrefix(lines[len(lines)-1], "TOTAL") {
		t.Fatalf("stat output:\n%s", out)
	}
	for _, ln := range lines[1 : len(lines)-1] {
		f := strings.Fields(ln)
		if len(f) != 14 { // PID CMD PROTO LOCAL REMOTE STATE USER ROOMS AGE 4 counters QUEUE
			t.Fatalf("row %q", ln)
		}
		n := func(s string) uint64 { v, _ := strconv.ParseUint(s, 10, 64); return v }
		rows = append(rows, statRow{f[2], f[3], f[4], f[5], n(f[9]), n(f[10]), n(f[11]), n(f[12])})
	}
	return rows
}

func TestStatWhileTrafficFlows(t *testing.T) {
	ncLeakCheck(t)
	dir := t.TempDir()
	l := ncStart(t, "listen", "--lines", "--control-dir", dir, "tcp://127.0.0.1:0")
	addr := strings.TrimPrefix(l.err.waitMatch(t, listeningRE, 10*time.Second)[1], "tcp://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sent sync.WaitGroup
	sent.Add(1)
	go func() { // traffic keeps flowing while stat reads
		defer sent.Done()
		for i := 0; i < 2000 && ctx.Err() == nil; i++ {
			if _, err := io.WriteString(c, "tick "+strconv.Itoa(i)+"\n"); err != nil {
				return
			}
		}
	}()
	l.out.waitMatch(t, regexp.MustCompile(`tick 10\n`), 10*time.Second)
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"stat", "--once", "--control-dir", dir}, Stdio{Out: &out}); err != nil {
		t.Fatal(err)
	}
	rows := parseStat(t, out.String())
	var found bool
	for _, r := range rows {
		if r.proto == "tcp" && r.state == "open" && r.remote == c.LocalAddr().String() && r.local == addr {
			found = r.bytesIn > 0 && r.msgsIn > 0
		}
	}
	if !found {
		t.Fatalf("no open tcp row with traffic for %s:\n%s", c.LocalAddr(), out.String())
	}
	// JSON, and selecting the process by command name.
	out.Reset()
	if err := Run(context.Background(), []string{"stat", "--once", "--json", "--control-dir", dir, "listen"}, Stdio{Out: &out}); err != nil {
		t.Fatal(err)
	}
	var snaps []monitor.Snapshot
	if err := json.Unmarshal(out.Bytes(), &snaps); err != nil || len(snaps) != 1 || snaps[0].Totals.Conns != 2 {
		t.Fatalf("json: %v %s", err, out.String())
	}
	cancel()
	sent.Wait()
	c.Close()
	var errb bytes.Buffer
	if err := Run(context.Background(), []string{"stat", "--once", "--control-dir", dir, "999999"}, Stdio{Out: &out, Err: &errb}); err == nil {
		t.Fatal("stat of a missing process succeeded")
	}
}

func TestStatRefreshes(t *testing.T) {
	ncLeakCheck(t)
	dir := t.TempDir()
	l := ncStart(t, "listen", "--control-dir", dir, "udp://127.0.0.1:0")
	l.err.waitMatch(t, listeningRE, 10*time.Second)
	s := ncStart(t, "stat", "--interval", "20ms", "--control-dir", dir)
	// Not a terminal: each refresh prints the table again.
	s.out.waitMatch(t, regexp.MustCompile(`(?s)TOTAL.*TOTAL.*TOTAL`), 10*time.Second)
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.out.String(), "udp") || !strings.Contains(s.out.String(), "bound") {
		t.Fatalf("stat output:\n%s", s.out.String())
	}
}

func TestListenMaxConns(t *testing.T) {
	ncLeakCheck(t)
	l := ncStart(t, "listen", "--no-control", "--lines", "--max-conns", "1", "tcp://127.0.0.1:0")
	addr := strings.TrimPrefix(l.err.waitMatch(t, listeningRE, 10*time.Second)[1], "tcp://")
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	io.WriteString(first, "first\n")
	l.out.waitMatch(t, regexp.MustCompile(`first\n`), 10*time.Second)
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := second.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("second client over --max-conns 1: %v, want EOF", err)
	}
}
