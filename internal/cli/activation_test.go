package cli

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// buildSwitchboard builds the switchboard binary into a temporary directory.
func buildSwitchboard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "switchboard")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/switchboard")
	cmd.Dir = testutil.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestIntegrationSocketActivation runs `systemd-socket-activate -l ADDR
// switchboard listen fd://...` (Debian's systemd) and talks to it.
func TestIntegrationSocketActivation(t *testing.T) {
	ncLeakCheck(t)
	ssa, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		if os.Getenv(testutil.InteropEnv) != "" {
			t.Fatalf("systemd-socket-activate missing (make test installs systemd): %v", err)
		}
		t.Skip("systemd-socket-activate not installed")
	}
	bin := buildSwitchboard(t)
	dir := t.TempDir()
	tests := []struct {
		name     string
		listen   func(try int) string // the -l argument
		spec     string
		fdname   string
		datagram bool
	}{
		{"unix-by-name", func(int) string { return filepath.Join(dir, "act.sock") }, "fd://web", "web", false},
		{"unix-fd3", func(int) string { return filepath.Join(dir, "act3.sock") }, "fd://3", "", false},
		{"tcp-by-name", func(int) string { return "127.0.0.1:" + strconv.Itoa(20000+rand.IntN(30000)) }, "fd://web", "web", false},
		{"unixgram-datagram", func(int) string { return filepath.Join(dir, "dg.sock") }, "fd://3", "", true},
	}
	listeningRE := regexp.MustCompile(`Listening on (\S+) as 3\.`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// systemd-socket-activate needs a fixed port: retry a few
			// random ones if one is taken.
			for try := range 5 {
				addr := tt.listen(try)
				args := []string{"-l", addr}
				if tt.datagram {
					args = append(args, "-d")
				}
				if tt.fdname != "" {
					args = append(args, "--fdname="+tt.fdname)
				}
				args = append(args, bin, "listen", "--no-control", "--lines", tt.spec)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, ssa, args...)
				out, errb := newNCBuf(), newNCBuf()
				cmd.Stdout, cmd.Stderr = out, errb
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				ready := make(chan struct{})
				go func() { // stderr shows the bind, or exit shows the failure
					for {
						select {
						case <-errb.sig:
							if listeningRE.MatchString(errb.String()) {
								close(ready)
								return
							}
						case <-ctx.Done():
							return
						}
					}
				}()
				select {
				case <-ready:
				case err := <-exited:
					if strings.Contains(errb.String(), "in use") && try < 4 {
						cancel()
						continue
					}
					t.Fatalf("systemd-socket-activate exited: %v\n%s", err, errb.String())
				case <-ctx.Done():
					t.Fatalf("systemd-socket-activate did not bind:\n%s", errb.String())
				}
				network := "unix"
				if strings.Contains(addr, ":") {
					network = "tcp"
				}
				if tt.datagram {
					network = "unixgram"
				}
				c, err := net.Dial(network, addr)
				if err != nil {
					t.Fatal(err)
				}
				c.Write([]byte("activated\n"))
				out.waitMatch(t, regexp.MustCompile(`activated\n`), 15*time.Second)
				c.Close()
				errb.waitMatch(t, regexp.MustCompile(`switchboard listen: listening on `+regexp.QuoteMeta(tt.spec)), 10*time.Second)
				cmd.Process.Signal(os.Interrupt)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					cmd.Process.Kill()
					<-exited
					t.Fatal("switchboard did not exit on SIGINT")
				}
				return
			}
		})
	}
}
