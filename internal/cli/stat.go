package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard/switchboard/monitor"
)

func runStat(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlagSet(stdio, "stat", "[--json] [--once] [--interval D] [TARGET: pid, command name or socket path]")
	asJSON := fs.Bool("json", false, "print snapshots as JSON")
	once := fs.Bool("once", false, "print once and exit (default: refresh until interrupted)")
	interval := fs.Duration("interval", time.Second, "refresh interval")
	dir := fs.String("control-dir", "", "directory of control sockets (default "+monitor.RuntimeDir()+")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 || *interval < 10*time.Millisecond {
		fs.Usage()
		return ErrUsage
	}
	target := fs.Arg(0)
	live := ncIsTerminal(stdio.Out) && !*asJSON
	for {
		snaps, err := statCollect(ctx, *dir, target)
		if err != nil {
			return err
		}
		if live {
			io.WriteString(stdio.Out, "\x1b[H\x1b[2J")
		}
		if *asJSON {
			b, err := json.Marshal(snaps)
			if err != nil {
				return err
			}
			stdio.Out.Write(append(b, '\n'))
		} else {
			statTable(stdio.Out, snaps, time.Now())
		}
		if *once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// statCollect fetches the snapshots of the target processes.
func statCollect(ctx context.Context, dir, target string) ([]*monitor.Snapshot, error) {
	var paths []string
	if strings.ContainsRune(target, '/') {
		paths = []string{target}
	} else {
		all, err := monitor.Discover(dir)
		if err != nil {
			return nil, err
		}
		for _, p := range all {
			pid, cmd, _ := strings.Cut(strings.TrimSuffix(filepath.Base(p), ".sock"), ".")
			if target == "" || target == pid || target == cmd {
				paths = append(paths, p)
			}
		}
		if target != "" && len(paths) == 0 {
			return nil, fmt.Errorf("no switchboard process %q found (control sockets in %s)", target, statDir(dir))
		}
	}
	snaps := make([]*monitor.Snapshot, 0, len(paths))
	for _, p := range paths {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s, err := monitor.Fetch(fctx, p)
		cancel()
		if err != nil {
			if target != "" && len(paths) == 1 {
				return nil, err
			}
			continue // a process that just went away
		}
		snaps = append(snaps, s)
	}
	return snaps, nil
}

func statDir(dir string) string {
	if dir == "" {
		return monitor.RuntimeDir()
	}
	return dir
}

// statTable prints the connections of every snapshot, then the totals.
func statTable(w io.Writer, snaps []*monitor.Snapshot, now time.Time) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tCMD\tPROTO\tLOCAL\tREMOTE\tSTATE\tUSER\tROOMS\tAGE\tMSGS_IN\tMSGS_OUT\tBYTES_IN\tBYTES_OUT\tQUEUE")
	var t monitor.Totals
	for _, s := range snaps {
		for _, c := range s.Conns {
			remote := c.Remote
			if remote == "" {
				remote = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", s.Process.PID, s.Process.Command,
				c.Proto, c.Local, remote, c.State, statOr(c.User), statRooms(c.Rooms, statRoomsWidth), statAge(c.Age), c.MsgsIn, c.MsgsOut, c.BytesIn, c.BytesOut, c.Queue)
		}
		t.Conns += s.Totals.Conns
		t.MsgsIn += s.Totals.MsgsIn
		t.MsgsOut += s.Totals.MsgsOut
		t.BytesIn += s.Totals.BytesIn
		t.BytesOut += s.Totals.BytesOut
		t.Queue += s.Totals.Queue
	}
	fmt.Fprintf(tw, "TOTAL\t%d procs\t%d conns\t\t\t\t\t\t\t%d\t%d\t%d\t%d\t%d\n", len(snaps), t.Conns, t.MsgsIn, t.MsgsOut, t.BytesIn, t.BytesOut, t.Queue)
	tw.Flush()
}

func statAge(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// statRoomsWidth bounds the ROOMS column of the stat table.
const statRoomsWidth = 24

// statOr is s, or "-" when s is empty.
func statOr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// statRooms joins rooms with commas, cut to at most width runes (ending
// in "…" when cut); "-" when there are none.
func statRooms(rooms []string, width int) string {
	if len(rooms) == 0 {
		return "-"
	}
	r := []rune(strings.Join(rooms, ","))
	if len(r) <= width {
		return string(r)
	}
	return string(r[:width-1]) + "…"
}
