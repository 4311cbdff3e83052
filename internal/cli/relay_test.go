package cli

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var relayAddrRE = regexp.MustCompile(`A listening on tcp://(\S+)\n(?:.*\n)*?.*B listening on tcp://(\S+)\n`)

// TestRelayRateLimit pushes 1000 lines into side A as fast as it can and
// counts what leaves side B during 2 s.
func TestRelayRateLimit(t *testing.T) {
	ncLeakCheck(t)
	tests := []struct {
		name   string
		flags  []string
		perSec float64 // lines per second expected
		burst  float64
	}{
		{"messages", []string{"--rate", "50", "--burst", "5"}, 50, 5},
		{"bytes", []string{"--byte-rate", "1600"}, 1600.0 / 16, 10}, // 16-byte lines; burst 160 bytes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"relay", "--no-control", "--lines", "--listen", "tcp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0"}, tt.flags...)
			r := ncStart(t, args...)
			m := r.err.waitMatch(t, relayAddrRE, 10*time.Second)
			b, err := net.Dial("tcp", m[2])
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			// Wait until the relay has B's client: a probe from B reaches A.
			a, err := net.Dial("tcp", m[1])
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			// Until the relay has accepted A, what B sends is dropped:
			// probe until one arrives.
			ar := bufio.NewReader(a)
			for try := 0; ; try++ {
				io.WriteString(b, "probe\n")
				a.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if l, err := ar.ReadString('\n'); err == nil && l == "probe\n" {
					break
				}
				if try == 50 {
					t.Fatal("no probe went through the relay")
				}
			}
			go func() {
				for i := range 1000 {
					if _, err := io.WriteString(a, "line "+strconv.Itoa(100000+i)+"____\n"); err != nil {
						return
					}
				}
			}()
			br := bufio.NewReader(b)
			b.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			const window = 2 * time.Second
			start := time.Now()
			b.SetReadDeadline(start.Add(window))
			n := 1
			for {
				if _, err := br.ReadString('\n'); err != nil {
					break
				}
				n++
			}
			elapsed := time.Since(start)
			want := tt.burst + tt.perSec*elapsed.Seconds()
			t.Logf("%d lines in %v (expected about %.0f: burst %.0f + %.0f/s)", n, elapsed.Round(time.Millisecond), want, tt.burst, tt.perSec)
			// The limit is a ceiling: never above it. Below it only when
			// the machine is too busy to keep up, so that bound is loose.
			if float64(n) > want*1.1+2 || float64(n) < want*0.5 {
				t.Fatalf("%d lines in %v, want at most %.0f (and not far below)", n, elapsed, want*1.1+2)
			}
			a.Close()
			b.Close()
			r.stop(t)
			if !regexp.MustCompile(`A->B: \d+ msgs \(\d+ bytes\) in, \d+ msgs`).MatchString(r.err.String()) {
				t.Fatalf("no statistics at exit:\n%s", r.err.String())
			}
		})
	}
}

func TestRelayRedialAndStats(t *testing.T) {
	ncLeakCheck(t)
	far, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	r := ncStart(t, "relay", "--no-control", "--lines", "--listen", "tcp://127.0.0.1:0", "--dial", "tcp://"+far.Addr().String())
	m := r.err.waitMatch(t, regexp.MustCompile(`A listening on tcp://(\S+)\n`), 10*time.Second)
	a, err := net.Dial("tcp", m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	accept := func() net.Conn {
		t.Helper()
		far.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		c, err := far.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	readLine := func(c net.Conn) string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		l, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	c1 := accept()
	io.WriteString(a, "first\n")
	if l := readLine(c1); l != "first\n" {
		t.Fatalf("got %q", l)
	}
	c1.Close() // the far side drops us: the relay redials
	c2 := accept()
	defer c2.Close()
	io.WriteString(a, "second\n")
	if l := readLine(c2); l != "second\n" {
		t.Fatalf("after redial got %q", l)
	}
	io.WriteString(c2, "back\n")
	if l := readLine(a); l != "back\n" {
		t.Fatalf("B->A got %q", l)
	}
	// SIGUSR1 prints the statistics while running.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	r.err.waitMatch(t, regexp.MustCompile(`B->A: 1 msgs \(5 bytes\) in, 1 msgs \(5 bytes\) out`), 10*time.Second)
	if !strings.Contains(r.err.String(), "A->B: 2 msgs (13 bytes) in, 2 msgs (13 bytes) out, 0 dropped") {
		t.Fatalf("stats:\n%s", r.err.String())
	}
}

func TestRelayDatagramToStream(t *testing.T) {
	ncLeakCheck(t)
	r := ncStart(t, "relay", "--no-control", "--lines", "--listen", "udp://127.0.0.1:0", "--listen", "tcp://127.0.0.1:0")
	m := r.err.waitMatch(t, regexp.MustCompile(`A listening on udp://(\S+)\n(?:.*\n)*?.*B listening on tcp://(\S+)\n`), 10*time.Second)
	b, err := net.Dial("tcp", m[2])
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	u, err := net.Dial("udp", m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	br := bufio.NewReader(b)
	// Until the relay has accepted B, datagrams to A are dropped: retry.
	for try := 0; ; try++ {
		u.Write([]byte("datagram\n"))
		b.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if l, err := br.ReadString('\n'); err == nil && l == "datagram\n" {
			break
		}
		if try == 50 {
			t.Fatal("no datagram went through the relay")
		}
	}
	io.WriteString(b, "reply line\n")
	buf := make([]byte, 64)
	u.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := u.Read(buf)
	if err != nil || string(buf[:n]) != "reply line\n" {
		t.Fatalf("reply datagram: %q %v", buf[:n], err)
	}
}
