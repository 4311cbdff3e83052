package irc

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/internal/testutil"
)

func TestParseRelay(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RelayConfig
		bad  bool
	}{
		{in: "lobby=irc://irc.example.net:6697/#sb?nick=hub&rate=2&burst=5", want: RelayConfig{Room: "lobby", Server: "irc.example.net:6697", Channel: "#sb", Nick: "hub", Rate: 2, Burst: 5}},
		{in: "lobby=irc://127.0.0.1/%23sb", want: RelayConfig{Room: "lobby", Server: "127.0.0.1:6667", Channel: "#sb"}},
		{in: "lobby=irc://[::1]:7000/sb", want: RelayConfig{Room: "lobby", Server: "[::1]:7000", Channel: "#sb"}},
		{in: "irc://h/#sb", bad: true},
		{in: "lobby=http://h/#sb", bad: true},
		{in: "lobby=irc://h:1/#", bad: true},
		{in: "lobby=irc://h:1/#a?rate=x", bad: true},
		{in: "lobby=irc://h:1/#a?burst=0", bad: true},
		{in: "lobby=irc://:1/#a", bad: true},
	} {
		got, err := ParseRelay(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseRelay(%q) accepted: %+v", tc.in, got)
			}
			continue
		}
		if err != nil || *got != tc.want {
			t.Errorf("ParseRelay(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestSpeakerName(t *testing.T) {
	r, err := NewRelay(newTestHub(t), &RelayConfig{Room: "a", Server: "h:1", Channel: "#a"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"ann": "ann.up", "[away]": "xaway_.up", "a|b": "a_b.up",
		strings.Repeat("n", 40): strings.Repeat("n", 29) + ".up",
	} {
		if got := r.speaker(in); got != want {
			t.Errorf("speaker(%q) = %q, want %q", in, got, want)
		}
	}
}

func newTestHub(t *testing.T) *hub.Hub {
	h, err := hub.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// ngircd runs Debian's ngircd on a loopback port with its own config.
type ngircd struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startNgircd starts ngircd on port ("" picks a free one) and waits until
// it is ready.
func startNgircd(t *testing.T, port string) *ngircd {
	t.Helper()
	testutil.Interop(t)
	bin, err := exec.LookPath("ngircd")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/ngircd"); err != nil {
			t.Fatalf("interop peer missing: ngircd (apt-get install ngircd): %v", err)
		}
	}
	for attempt := 0; attempt < 5; attempt++ {
		p := port
		if p == "" {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			_, p, _ = net.SplitHostPort(ln.Addr().String())
			ln.Close()
		}
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		conf := filepath.Join(dir, "ngircd.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf(`[Global]
Name = irc.test
Info = switchboard relay test
Listen = 127.0.0.1
Ports = %s
[Limits]
PingTimeout = 120
PongTimeout = 20
MaxNickLength = 30
[Options]
PAM = no
Ident = no
DNS = no
`, p)), 0o644)
		cmd := exec.Command(bin, "-n", "-f", conf)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = cmd.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan bool, 1)
		n := &ngircd{t: t, addr: "127.0.0.1:" + p, cmd: cmd, done: make(chan struct{})}
		go func() {
			defer close(n.done)
			sc := bufio.NewScanner(stderr)
			sent := false
			for sc.Scan() {
				if !sent && strings.Contains(sc.Text(), "ready.") {
					ready <- true
					sent = true
				}
			}
			if !sent {
				ready <- false
			}
			cmd.Wait()
		}()
		select {
		case ok := <-ready:
			if ok {
				t.Cleanup(n.stop)
				return n
			}
		case <-time.After(10 * time.Second):
		}
		cmd.Process.Kill()
		<-n.done
		if port != "" {
			break
		}
	}
	t.Fatal("ngircd did not start")
	return nil
}

func (n *ngircd) stop() {
	n.cmd.Process.Kill()
	<-n.done
}

// recorder is a Hub peer that keeps what is said.
type recorder struct {
	mu   sync.Mutex
	said []string
	ch   chan struct{}
}

func (r *recorder) Deliver(ev *hub.Event) error {
	if ev.Kind != hub.EventSaid {
		return nil
	}
	r.mu.Lock()
	r.said = append(r.said, ev.User+": "+ev.Text)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) Close() {}

func (r *recorder) wait(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, s := range r.said {
			if s == want {
				r.mu.Unlock()
				return
			}
		}
		got := append([]string(nil), r.said...)
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("room never heard %q; heard %q", want, got)
		}
	}
}

// tap is a TCP proxy in front of ngircd that records when each PRIVMSG
// line leaves the relay, so the relay's own rate is measured (ngircd
// throttles and batches what it forwards).
type tap struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	at      []time.Time
	wg      sync.WaitGroup
	conns   []net.Conn
	arrived chan struct{}
}

func startTap(t *testing.T, target string) *tap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tap{ln: ln, target: target, arrived: make(chan struct{}, 1)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() {
				defer p.wg.Done()
				defer u.Close()
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if strings.HasPrefix(l, "PRIVMSG ") {
						p.mu.Lock()
						p.at = append(p.at, time.Now())
						p.mu.Unlock()
					}
					if _, werr := u.Write([]byte(l)); werr != nil || err != nil {
						return
					}
				}
			}()
			go func() {
				defer p.wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := u.Read(buf)
					if n > 0 {
						c.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *tap) times() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.at...)
}

func TestRelayNgircd(t *testing.T) {
	up := startNgircd(t, "")
	tp := startTap(t, up.addr)
	h := newTestHub(t)
	const rate, burst, n = 4.0, 2, 12
	r, err := NewRelay(h, &RelayConfig{Room: "lobby", Server: tp.ln.Addr().String(), Channel: "#sb", Nick: "sbrelay", Rate: rate, Burst: burst, MinBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	watch := dialRaw(t, up.addr)
	watch.send("NICK watcher", "USER w 0 * :w", "JOIN #sb")
	watch.expect(" 366 watcher #sb ")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	watch.expect(":sbrelay!")

	// The room's side: a listener and a speaker.
	rec := &recorder{ch: make(chan struct{}, 1)}
	lc, _ := h.Attach(rec)
	lc.SetName("listener")
	lc.Join("lobby")
	ann, _ := h.Attach(nopPeer{})
	ann.SetName("ann")
	ann.Join("lobby")
	for i := range n {
		if _, err := ann.Say("lobby", "m"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		got := watch.expect("PRIVMSG #sb :")
		l := got[len(got)-1]
		if want := ":sbrelay!"; !strings.HasPrefix(l, want) || !strings.HasSuffix(l, " :<ann> m"+strconv.Itoa(i)) {
			t.Fatalf("line %d: %q", i, l)
		}
	}
	at := tp.times()
	if len(at) != n {
		t.Fatalf("%d PRIVMSG lines left the relay, want %d", len(at), n)
	}
	// From the first line on, never more than burst + rate*t lines (50
	// ms of slack); in any window, the same with 500 ms of slack, as one
	// write held up by the scheduler of this loaded machine lets the
	// next ones (already paid for) follow it closely.
	for j := range at {
		if allowed := float64(burst) + rate*(at[j].Sub(at[0]).Seconds()+0.05); float64(j+1) > allowed {
			t.Fatalf("%d lines within %v of the first: more than the rate allows (%.2f)", j+1, at[j].Sub(at[0]), allowed)
		}
	}
	for i := range at {
		for j := i; j < len(at); j++ {
			allowed := float64(burst) + rate*(at[j].Sub(at[i]).Seconds()+0.5)
			if float64(j-i+1) > allowed+1e-9 {
				t.Fatalf("lines %d..%d (%d) arrived within %v: more than the rate allows (%.2f)", i, j, j-i+1, at[j].Sub(at[i]), allowed)
			}
		}
	}
	if total := at[n-1].Sub(at[0]); total < time.Duration(float64(n-burst-1)/rate*float64(time.Second))-100*time.Millisecond {
		t.Fatalf("%d lines took only %v", n, total)
	}
	t.Logf("%d lines upstream in %v (rate %v/s, burst %d)", n, at[n-1].Sub(at[0]), rate, burst)

	// Upstream to the room, and never back.
	watch.send("PRIVMSG #sb :hello hub")
	rec.wait(t, "watcher.up: hello hub")
	watch.quiet("hello hub", 300*time.Millisecond)

	// The link drops and comes back.
	_, port, _ := net.SplitHostPort(up.addr)
	up.stop()
	up2 := startNgircd(t, port)
	watch2 := dialRaw(t, up2.addr)
	watch2.send("NICK watcher", "USER w 0 * :w", "JOIN #sb")
	watch2.expect(" 366 watcher #sb ")
	watch2.expect(":sbrelay!")
	ann.Say("lobby", "after the restart")
	watch2.expect(":<ann> after the restart")
	if st := r.Stats(); st.Connects != 2 || st.Sent != n+1 || st.Received != 1 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	ann.Close()
	lc.Close()
}
