package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// TestIntegrationChatTmux runs a real "switchboard serve" and "switchboard
// chat" in a tmux pane: a typed line is confirmed, "switchboard stat" lists
// the chat's connection, and SIGTERM makes serve tell the chat why and
// exit 0.
func TestIntegrationChatTmux(t *testing.T) {
	testutil.Interop(t)
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("tmux missing: %v", err)
	}
	bin := buildSwitchboard(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	serve := exec.CommandContext(ctx, bin, "serve", "--http", "127.0.0.1:0", "--zmq-pub", "off", "--zmq-in", "off", "--zmq-rpc", "off", "--udp", "off", "--control-dir", dir, "--drain", "3s")
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var serveErr syncBuffer
	serve.Stderr = &serveErr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	defer func() {
		if !waited {
			serve.Process.Kill()
			serve.Wait()
		}
	}()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`chat on (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
	}()
	var url string
	select {
	case url = <-urlc:
	case <-time.After(15 * time.Second):
		t.Fatalf("serve printed no URL:\n%s", serveErr.String())
	}

	sock := filepath.Join(dir, "tmux.sock")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("-f", "/dev/null", "new-session", "-d", "-s", "chat", "-x", "150", "-y", "40",
		fmt.Sprintf("%s chat --nick tom --room lobby %s; sleep 30", bin, url))
	defer exec.Command(tmux, "-S", sock, "kill-server").Run()
	pane := func(re string) {
		t.Helper()
		rx := regexp.MustCompile(re)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(15 * time.Second)
		for {
			got := run("capture-pane", "-p", "-t", "chat")
			if rx.MatchString(got) {
				return
			}
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("pane never matched %q:\n%s", re, got)
			}
		}
	}
	pane(`(?m)^\* in lobby with tom$`)
	run("send-keys", "-t", "chat", "hello from tmux", "Enter")
	pane(`(?m)^✓ \d\d:\d\d:\d\d #1 \[lobby\] hello from tmux$`)

	out, err := exec.CommandContext(ctx, bin, "stat", "--once", "--json", "--control-dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"user":"tom","rooms":["lobby"]`) {
		t.Errorf("stat: %v\n%s", err, out)
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = serve.Wait()
	waited = true
	if err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, serveErr.String())
	}
	pane(`(?m)^\* server: server shutting down$`)
	if ents, _ := os.ReadDir(dir); len(ents) != 1 { // tmux.sock only
		t.Errorf("control socket left behind: %v", ents)
	}
}
