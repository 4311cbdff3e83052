//go:build linux

package endpoint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var netnsSeq atomic.Int32

// netnsPair creates two network namespaces joined by a veth pair:
// A has va 10.77.0.1/24 (and 10.77.0.11), B has vb 10.77.0.2/24, MTU 1500.
// They are deleted in t.Cleanup. The test is skipped where namespaces
// cannot be made (not root, no iproute2, no veth).
func netnsPair(t *testing.T) (a, b string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) not installed")
	}
	n := netnsSeq.Add(1)
	a = fmt.Sprintf("sbt%d-%d-a", os.Getpid(), n)
	b = fmt.Sprintf("sbt%d-%d-b", os.Getpid(), n)
	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, ns := range []string{a, b} {
		if err := ip("netns", "add", ns); err != nil {
			t.Skipf("cannot create a network namespace: %v", err)
		}
		t.Cleanup(func() { ip("netns", "del", ns) })
	}
	steps := [][]string{
		{"link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb", "netns", b},
		{"-n", a, "addr", "add", "10.77.0.1/24", "dev", "va"},
		{"-n", a, "addr", "add", "10.77.0.11/24", "dev", "va"},
		{"-n", b, "addr", "add", "10.77.0.2/24", "dev", "vb"},
		{"-n", a, "link", "set", "va", "mtu", "1500", "up"},
		{"-n", b, "link", "set", "vb", "mtu", "1500", "up"},
		{"-n", a, "link", "set", "lo", "up"},
		{"-n", b, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			t.Skipf("cannot set up veth pair: %v", err)
		}
	}
	return a, b
}

// inNetns runs f on a thread switched into the named namespace; sockets
// made by f live there.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + name)
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		var ferr error
		func() {
			defer func() {
				if r := recover(); r != nil {
					ferr = fmt.Errorf("panic: %v", r)
				}
			}()
			f()
		}()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err // leave the thread locked: it dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	if err := <-done; err != nil {
		t.Fatalf("in netns %s: %v", name, err)
	}
}

// recvWithin reads one datagram or reports none within d.
func recvWithin(pc *PacketConn, d time.Duration) (string, bool) {
	buf := make([]byte, 2048)
	pc.SetReadDeadline(time.Now().Add(d))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

func TestIntegrationNetns(t *testing.T) {
	nsA, nsB := netnsPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("source-address", func(t *testing.T) {
		var l *Listener
		inNetns(t, nsB, func() { var err error; l, err = Listen(ctx, "tcp://10.77.0.2:0", nil); must(err) })
		defer l.Close()
		for _, src := range []string{"10.77.0.11:0", "10.77.0.11:40123"} {
			var c *Conn
			inNetns(t, nsA, func() { var err error; c, err = Dial(ctx, "tcp://"+l.Local()+"?source="+src, nil); must(err) })
			s, err := l.AcceptConn()
			must(err)
			host, port, _ := net.SplitHostPort(s.Remote())
			wantHost, wantPort, _ := net.SplitHostPort(src)
			if host != wantHost || (wantPort != "0" && port != wantPort) || c.Local() != s.Remote() {
				t.Errorf("source %s: server sees %s, client local %s", src, s.Remote(), c.Local())
			}
			c.Close()
			s.Close()
		}
	})

	t.Run("tos", func(t *testing.T) {
		var pc *PacketConn
		inNetns(t, nsB, func() { var err error; pc, err = ListenPacket(ctx, "udp://10.77.0.2:0", nil); must(err) })
		defer pc.Close()
		rc, _ := pc.SyscallConn()
		must(control(rc, func(fd int) error { return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTOS, 1) }))
		var c *Conn
		inNetns(t, nsA, func() { var err error; c, err = Dial(ctx, "udp://"+pc.Local()+"?tos=0x48", nil); must(err) })
		defer c.Close()
		_, err := c.Write([]byte("dscp"))
		must(err)
		buf, oob := make([]byte, 64), make([]byte, 64)
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, oobn, _, _, err := pc.pc.(*net.UDPConn).ReadMsgUDP(buf, oob)
		must(err)
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		must(err)
		got := -1
		for _, m := range msgs {
			if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS && len(m.Data) > 0 {
				got = int(m.Data[0])
			}
		}
		if got != 0x48 {
			t.Fatalf("received TOS %#x, want 0x48", got)
		}
	})

	t.Run("bindtodevice", func(t *testing.T) {
		var onVeth, onLo *PacketConn
		inNetns(t, nsB, func() {
			var err error
			onVeth, err = ListenPacket(ctx, "udp://0.0.0.0:0?bindtodevice=vb", nil)
			must(err)
			onLo, err = ListenPacket(ctx, "udp://0.0.0.0:0?bindtodevice=lo", nil)
			must(err)
		})
		defer onVeth.Close()
		defer onLo.Close()
		if d := getDevice(t, onVeth); d != "vb" {
			t.Fatalf("SO_BINDTODEVICE %q", d)
		}
		portOf := func(p *PacketConn) string { _, port, _ := net.SplitHostPort(p.Local()); return port }
		send := func(port, msg string) {
			inNetns(t, nsA, func() {
				c, err := Dial(ctx, "udp://10.77.0.2:"+port+"?bindtodevice=va", nil)
				must(err)
				_, err = c.Write([]byte(msg))
				c.Close()
				must(err)
			})
		}
		send(portOf(onVeth), "via vb")
		if got, ok := recvWithin(onVeth, 10*time.Second); !ok || got != "via vb" {
			t.Fatalf("socket bound to vb did not receive: %q", got)
		}
		send(portOf(onLo), "via lo?")
		if got, ok := recvWithin(onLo, 300*time.Millisecond); ok {
			t.Fatalf("socket bound to lo received %q from the veth", got)
		}
	})

	t.Run("multicast-loop", func(t *testing.T) {
		const group = "239.7.7.7"
		var inB, inA *PacketConn
		inNetns(t, nsB, func() {
			var err error
			inB, err = ListenPacket(ctx, "udp://"+group+":0?iface=vb", nil)
			must(err)
		})
		defer inB.Close()
		_, port, _ := net.SplitHostPort(inB.Local())
		inNetns(t, nsA, func() {
			var err error
			inA, err = ListenPacket(ctx, "udp://"+group+":"+port+"?iface=va", nil)
			must(err)
		})
		defer inA.Close()
		for _, loop := range []string{"1", "0"} {
			inNetns(t, nsA, func() {
				c, err := Dial(ctx, "udp://"+group+":"+port+"?iface=va&mcastttl=1&mcastloop="+loop, nil)
				must(err)
				if got := getInt(t, c, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP); strconv.Itoa(got) != loop {
					t.Errorf("IP_MULTICAST_LOOP = %d", got)
				}
				_, err = c.Write([]byte("loop=" + loop))
				c.Close()
				must(err)
			})
			if got, ok := recvWithin(inB, 10*time.Second); !ok || got != "loop="+loop {
				t.Fatalf("group member across the veth got %q, %v", got, ok)
			}
			got, ok := recvWithin(inA, 300*time.Millisecond)
			if loop == "1" && (!ok || got != "loop=1") {
				t.Fatalf("loop on: member on the sending host got %q, %v", got, ok)
			}
			if loop == "0" && ok {
				t.Fatalf("loop off: member on the sending host got %q", got)
			}
		}
	})

	t.Run("path-mtu", func(t *testing.T) {
		var pc *PacketConn
		inNetns(t, nsB, func() { var err error; pc, err = ListenPacket(ctx, "udp://10.77.0.2:0", nil); must(err) })
		defer pc.Close()
		var c *Conn
		inNetns(t, nsA, func() { var err error; c, err = Dial(ctx, "udp://"+pc.Local(), nil); must(err) })
		defer c.Close()
		if _, err := c.Write(make([]byte, 1472)); err != nil { // 1500 - 20 - 8
			t.Fatalf("datagram at the MTU: %v", err)
		}
		_, err := c.Write(make([]byte, 1473))
		var dse *DatagramSizeError
		if !errors.As(err, &dse) || dse.MTU != 1500 || dse.Size != 1473 {
			t.Fatalf("datagram above the MTU: %v", err)
		}
		t.Logf("refused: %v", err)
	})

	t.Run("netlink-uevent", func(t *testing.T) {
		var pc *PacketConn
		inNetns(t, nsA, func() { var err error; pc, err = ListenPacket(ctx, "netlink://kobject-uevent", nil); must(err) })
		defer pc.Close()
		// The kernel here has no dummy driver; a veth pair is as good.
		out, err := exec.Command("ip", "-n", nsA, "link", "add", "sbev0", "type", "veth", "peer", "name", "sbev1").CombinedOutput()
		if err != nil {
			t.Fatalf("ip link add: %v %s", err, out)
		}
		deadline := time.Now().Add(10 * time.Second)
		buf := make([]byte, 8192)
		for time.Now().Before(deadline) {
			pc.SetReadDeadline(deadline)
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no uevent: %v", err)
			}
			msg := strings.ReplaceAll(string(buf[:n]), "\x00", " ")
			if strings.HasPrefix(msg, "add@") && strings.Contains(msg, "INTERFACE=sbev") {
				t.Logf("uevent from %v: %.120s", from, msg)
				if _, err := pc.WriteTo([]byte("x"), from); !errors.Is(err, ErrReadOnly) {
					t.Errorf("write to netlink: %v", err)
				}
				return
			}
		}
		t.Fatal("no add@ uevent for the new interface")
	})
}
