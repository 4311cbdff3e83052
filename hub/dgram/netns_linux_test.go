//go:build linux

package dgram_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/dgram"
)

// inNetns runs f on a thread switched into the named network namespace;
// sockets f makes live there.
func inNetns(t *testing.T, name string, f func() error) {
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
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err // the thread stays locked and dies with the goroutine
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	if err := <-done; err != nil {
		t.Fatalf("in netns %s: %v", name, err)
	}
}

// TestNetlinkInNamespace: the door, listening on kobject-uevent inside a
// fresh network namespace, says the uevents of a veth pair added there.
func TestNetlinkInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) not installed")
	}
	ns := fmt.Sprintf("sbdg%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	h := newHub(t, nil)
	var pc *endpoint.PacketConn
	inNetns(t, ns, func() (err error) {
		pc, err = endpoint.ListenPacket(context.Background(), "netlink://kobject-uevent", nil)
		return err
	})
	n := dgram.NewNetlink(h, "kernel-events", pc, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	waitMember(t, h, "kernel-events", "kernel")
	ann, annEv := member(t, h, "ann", "kernel-events")
	if out, err := exec.Command("ip", "-n", ns, "link", "add", "sbdg0", "type", "veth", "peer", "name", "sbdg1").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	for {
		s := annEv.said(t)
		if !strings.HasPrefix(s, "kernel: add@") {
			t.Fatalf("said %q", s)
		}
		if strings.Contains(s, "\nINTERFACE=sbdg0\n") || strings.Contains(s, "\nINTERFACE=sbdg1\n") {
			if !strings.Contains(s, "\nACTION=add\n") {
				t.Fatalf("uevent without ACTION=add: %q", s)
			}
			break
		}
	}
	// Read-only: what the room says goes nowhere, and the door stays.
	if _, err := ann.Say("kernel-events", "hello kernel"); err != nil {
		t.Fatal(err)
	}
	if st := n.Stats(); st.Events == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestUeventText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
		ok   bool
	}{
		{"add@/devices/x\x00ACTION=add\x00SEQNUM=7\x00", 100, "add@/devices/x\nACTION=add\nSEQNUM=7", true},
		{"add@/devices/x\x00ACTION=add\x00SEQNUM=7\x00", 25, "add@/devices/x\nACTION=add", true},
		{"add@/d\x00K=\x01\xff\x00", 100, "add@/d\nK=??", true},
		{"libudev\x00\xfe\xed", 100, "", false},
		{"", 100, "", false},
		{"add@/" + strings.Repeat("x", 50), 10, "", false},
	} {
		got, ok := dgram.UeventText([]byte(tc.in), tc.max)
		if got != tc.want || ok != tc.ok {
			t.Errorf("UeventText(%q, %d) = %q, %v; want %q, %v", tc.in, tc.max, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzUeventText(f *testing.F) {
	f.Add([]byte("add@/devices/virtual/net/sbdg0\x00ACTION=add\x00INTERFACE=sbdg0\x00SEQNUM=1\x00"), 2000)
	f.Add([]byte("libudev\x00\xfe\xed\xca\xfe"), 100)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		s, ok := dgram.UeventText(b, max)
		if !ok {
			return
		}
		if len(s) > max || !utf8.ValidString(s) {
			t.Fatalf("%q: %d bytes, valid %v", s, len(s), utf8.ValidString(s))
		}
		for _, r := range s {
			if (r < 0x20 && r != '\n') || r == 0x7f {
				t.Fatalf("control character in %q", s)
			}
		}
	})
}

// TestMirrorAcrossNamespaces: two hubs, each mirroring "lobby" to one
// group from its own network namespace over a veth pair (a real
// interface, not lo): each side hears the other once.
func TestMirrorAcrossNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) not installed")
	}
	a, b := fmt.Sprintf("sbdm%d-a", os.Getpid()), fmt.Sprintf("sbdm%d-b", os.Getpid())
	ip := func(args ...string) error {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
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
	for _, s := range [][]string{
		{"link", "add", "va", "netns", a, "type", "veth", "peer", "name", "vb", "netns", b},
		{"-n", a, "addr", "add", "10.78.0.1/24", "dev", "va"},
		{"-n", b, "addr", "add", "10.78.0.2/24", "dev", "vb"},
		{"-n", a, "link", "set", "va", "up"},
		{"-n", b, "link", "set", "vb", "up"},
	} {
		if err := ip(s...); err != nil {
			t.Skipf("cannot set up a veth pair: %v", err)
		}
	}
	const spec = "udp://239.78.0.1:7078?iface=%s"
	hubs := make([]*hub.Hub, 2)
	for i, side := range []struct{ ns, dev string }{{a, "va"}, {b, "vb"}} {
		hubs[i] = newHub(t, &hub.Config{Rate: 1000, Burst: 1000})
		var m *dgram.Mirror
		inNetns(t, side.ns, func() (err error) {
			m, err = dgram.ListenMirror(context.Background(), hubs[i], "lobby", fmt.Sprintf(spec, side.dev), nil)
			return err
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Serve(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("mirror: %v", err)
			}
		})
		waitMember(t, hubs[i], "lobby", "mirror")
	}
	ann, annEv := member(t, hubs[0], "ann", "lobby")
	bob, bobEv := member(t, hubs[1], "bob", "lobby")
	// A fresh veth link may drop the first packets: probe until bob
	// hears one, then let the probes settle.
	for i := 0; ; i++ {
		if _, err := ann.Say("lobby", "probe"); err != nil {
			t.Fatal(err)
		}
		if got, ok := bobEv.saidWithin(200 * time.Millisecond); ok {
			if got != "ann: probe" {
				t.Fatalf("bob heard %q", got)
			}
			break
		}
		if i == 50 {
			t.Fatal("no datagram crossed the veth pair in 10s")
		}
	}
	if _, err := ann.Say("lobby", "over the wire"); err != nil {
		t.Fatal(err)
	}
	if got := bobEv.saidExcept(t, "ann: probe"); got != "ann: over the wire" {
		t.Fatalf("bob heard %q", got)
	}
	if _, err := bob.Say("lobby", "and back"); err != nil {
		t.Fatal(err)
	}
	if got := annEv.said(t); got != "bob: and back" {
		t.Fatalf("ann heard %q", got)
	}
	if _, err := ann.Say("lobby", "once"); err != nil {
		t.Fatal(err)
	}
	if got := bobEv.saidExcept(t, "ann: probe"); got != "ann: once" {
		t.Fatalf("bob heard %q (a copy?)", got)
	}
}
