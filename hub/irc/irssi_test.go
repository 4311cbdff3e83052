package irc

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// TestInteropIrssi drives a real irssi in tmux against the door: it
// joins #lobby, hears an nc-style client, talks back, and quits. It runs
// when irssi and tmux are installed (Debian packages irssi, tmux).
func TestInteropIrssi(t *testing.T) {
	testutil.Interop(t)
	irssi, err := exec.LookPath("irssi")
	if err != nil {
		t.Skip("irssi not installed (apt-get install irssi)")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("interop peer missing: tmux: %v", err)
	}
	s := startServer(t, nil, nil)
	host, port, _ := strings.Cut(s.addr, ":")
	session := fmt.Sprintf("sbirc%d", time.Now().UnixNano())
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	run("new-session", "-d", "-s", session, "-x", "200", "-y", "50",
		fmt.Sprintf("%s --home=%s -n tmuxie -c %s -p %s", irssi, home, host, port))
	t.Cleanup(func() { exec.Command(tmux, "kill-session", "-t", session).Run() })
	screen := func(want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			out := run("capture-pane", "-p", "-t", session)
			if strings.Contains(out, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("irssi never showed %q; screen:\n%s", want, out)
			}
			time.Sleep(50 * time.Millisecond) // polling the screen, bounded by the deadline
		}
	}

	nc := dialRaw(t, s.addr)
	nc.register("ncuser")
	nc.send("JOIN #lobby")
	nc.expect(" 366 ")
	nc.expect("*** tmuxie has logged in")
	run("send-keys", "-t", session, "/join #lobby", "Enter")
	nc.expect(":tmuxie!tmuxie@switchboard JOIN #lobby")
	nc.send("PRIVMSG #lobby :hello irssi")
	screen("< ncuser> hello irssi")
	run("send-keys", "-t", session, "hello from irssi", "Enter")
	nc.expect(":tmuxie!tmuxie@switchboard PRIVMSG #lobby :hello from irssi")
	run("send-keys", "-t", session, "/me waves", "Enter")
	nc.expect("PRIVMSG #lobby :\x01ACTION waves\x01")
	nc.send("TOPIC #lobby :set from nc")
	screen("set from nc")
	run("send-keys", "-t", session, "/quit bye", "Enter")
	nc.expect(":tmuxie!tmuxie@switchboard PART #lobby")
	nc.expect("*** tmuxie has logged out")
}
