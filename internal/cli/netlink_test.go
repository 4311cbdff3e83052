package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// TestIntegrationNetlinkListen runs `switchboard listen --lines
// netlink://kobject-uevent` inside a fresh network namespace and sees the
// kernel's uevent when the test adds an interface there.
func TestIntegrationNetlinkListen(t *testing.T) {
	ncLeakCheck(t)
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) not installed")
	}
	ns := fmt.Sprintf("sbcli%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	bin := buildSwitchboard(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, bin, "listen", "--no-control", "--lines", "netlink://kobject-uevent")
	out, errb := newNCBuf(), newNCBuf()
	cmd.Stdout, cmd.Stderr = out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	errb.waitMatch(t, regexp.MustCompile(`listening on netlink://kobject-uevent`), 15*time.Second)
	if o, err := exec.Command("ip", "-n", ns, "link", "add", "sbcli0", "type", "veth", "peer", "name", "sbcli1").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, o)
	}
	out.waitMatch(t, regexp.MustCompile(`(?m)^ACTION=add$`), 15*time.Second)
	out.waitMatch(t, regexp.MustCompile(`(?m)^INTERFACE=sbcli[01]$`), 15*time.Second)
}
