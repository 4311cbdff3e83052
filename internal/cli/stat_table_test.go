package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/monitor"
)

func TestStatRooms(t *testing.T) {
	for _, tc := range []struct {
		rooms []string
		width int
		want  string
	}{
		{nil, 10, "-"},
		{[]string{"lobby"}, 10, "lobby"},
		{[]string{"a", "b"}, 3, "a,b"},
		{[]string{"lobby", "dev"}, 6, "lobby…"},
		{[]string{"ééééé"}, 3, "éé…"},
	} {
		if got := statRooms(tc.rooms, tc.width); got != tc.want {
			t.Errorf("statRooms(%q, %d):\n- want: %q\n-  got: %q", tc.rooms, tc.width, tc.want, got)
		}
	}
}

func TestStatTableUserRooms(t *testing.T) {
	snap := &monitor.Snapshot{
		Process: monitor.Process{PID: 7, Command: "switchboard"},
		Conns: []monitor.Conn{
			{ID: "1", Proto: "udp", Door: "udp", Local: "127.0.0.1:7000", State: "open", User: "ann",
				Rooms: []string{"lobby", "a-very-long-room-name", "another-room"}},
			{ID: "2", Proto: "tcp", Local: "127.0.0.1:5556", State: "open"},
		},
		Totals: monitor.Totals{Conns: 2},
	}
	var b strings.Builder
	statTable(&b, []*monitor.Snapshot{snap}, time.Now())
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 lines, got:\n%s", b.String())
	}
	h := strings.Fields(lines[0])
	if h[6] != "USER" || h[7] != "ROOMS" {
		t.Fatalf("header %q", lines[0])
	}
	if f := strings.Fields(lines[1]); f[6] != "ann" || !strings.HasPrefix(f[7], "lobby,a-very") || !strings.HasSuffix(f[7], "…") {
		t.Errorf("row %q", lines[1])
	}
	if f := strings.Fields(lines[2]); f[6] != "-" || f[7] != "-" {
		t.Errorf("row %q", lines[2])
	}
}
