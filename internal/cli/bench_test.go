package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil"
)

// libzmq's perf tools print exactly these lines.
var (
	thrOutput = regexp.MustCompile(`^message size: (\d+) \[B\]\nmessage count: (\d+)\nmean throughput: \d+ \[msg/s\]\nmean throughput: \d+\.\d{3} \[Mb/s\]\n$`)
	latOutput = regexp.MustCompile(`^message size: (\d+) \[B\]\nroundtrip count: (\d+)\naverage latency: \d+\.\d{3} \[us\]\n$`)
)

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no args", []string{"bench"}},
		{"unknown tool", []string{"bench", "local_foo", "tcp://127.0.0.1:1", "1", "1"}},
		{"bad size", []string{"bench", "local_thr", "tcp://127.0.0.1:1", "x", "1"}},
		{"zero count", []string{"bench", "local_thr", "tcp://127.0.0.1:1", "1", "0"}},
		{"too many", []string{"bench", "local_thr", "tcp://127.0.0.1:1", "1", "1", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errw bytes.Buffer
			if err := Run(context.Background(), tt.args, Stdio{Err: &errw}); !errors.Is(err, ErrUsage) {
				t.Fatalf("Run(%q):\n- want: %v\n-  got: %v", tt.args, ErrUsage, err)
			}
		})
	}
}

// pairRun runs the local tool (binding) and the remote one (connecting)
// and returns what each printed. It fails the test on a tool's error and
// returns errStuck if ctx ends first.
func pairRun(t *testing.T, ctx context.Context, local, remote func() (string, error)) (localOut, remoteOut string, err error) {
	t.Helper()
	type res struct {
		out string
		err error
	}
	lc, rc := make(chan res, 1), make(chan res, 1)
	go func() { o, err := local(); lc <- res{o, err} }()
	go func() { o, err := remote(); rc <- res{o, err} }()
	var l, r res
	for i := 0; i < 2; i++ {
		select {
		case l = <-lc:
			if l.err != nil && ctx.Err() == nil {
				t.Fatalf("local: %v\n%s", l.err, l.out)
			}
		case r = <-rc:
			if r.err != nil && ctx.Err() == nil {
				t.Fatalf("remote: %v\n%s", r.err, r.out)
			}
		case <-ctx.Done():
			return l.out, r.out, errStuck
		}
	}
	if ctx.Err() != nil {
		return l.out, r.out, errStuck
	}
	return l.out, r.out, nil
}

var errStuck = errors.New("bench tools did not finish in time")

func ours(ctx context.Context, args ...string) func() (string, error) {
	return func() (string, error) {
		var out, errw bytes.Buffer
		err := Run(ctx, append([]string{"bench"}, args...), Stdio{Out: &out, Err: &errw})
		return out.String() + errw.String(), err
	}
}

func theirs(ctx context.Context, bin string, args ...string) func() (string, error) {
	return func() (string, error) {
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		return string(out), err
	}
}

func checkOutput(t *testing.T, re *regexp.Regexp, out string, size, count int) {
	t.Helper()
	m := re.FindStringSubmatch(out)
	if m == nil || m[1] != fmt.Sprint(size) || m[2] != fmt.Sprint(count) {
		t.Fatalf("output not in libzmq's format for size %d count %d:\n%s", size, count, out)
	}
}

func TestBenchOurs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	tests := []struct {
		name        string
		tools       [2]string
		size, count int
	}{
		{"thr 16B", [2]string{"local_thr", "remote_thr"}, 16, 10000},
		{"thr 0B", [2]string{"local_thr", "remote_thr"}, 0, 100},
		{"thr 64KiB", [2]string{"local_thr", "remote_thr"}, 65536, 200},
		{"lat 1B", [2]string{"local_lat", "remote_lat"}, 1, 200},
		{"lat 1KiB", [2]string{"local_lat", "remote_lat"}, 1024, 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := fmt.Sprintf("ipc://%s/b%d", dir, i)
			size, count := fmt.Sprint(tt.size), fmt.Sprint(tt.count)
			l, r, err := pairRun(t, ctx, ours(ctx, tt.tools[0], ep, size, count), ours(ctx, tt.tools[1], ep, size, count))
			if err != nil {
				t.Fatal(err)
			}
			if tt.tools[0] == "local_thr" {
				checkOutput(t, thrOutput, l, tt.size, tt.count)
				if r != "" {
					t.Fatalf("remote_thr printed %q", r)
				}
			} else {
				checkOutput(t, latOutput, r, tt.size, tt.count)
				if l != "" {
					t.Fatalf("local_lat printed %q", l)
				}
			}
		})
	}
}

// TestBenchInteropLibzmq swaps each side for libzmq's tools (our C
// programs in interop/libzmq, built against libzmq3-dev), over ipc: an
// ipc path is an endpoint both sides know before either starts.
func TestBenchInteropLibzmq(t *testing.T) {
	testutil.Interop(t)
	bin := t.TempDir()
	build := exec.Command("bash", filepath.Join(testutil.RepoRoot(t), "interop", "libzmq", "build.sh"), bin)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("interop peer missing: building the libzmq perf tools (needs cc, pkg-config, libzmq3-dev; make test installs them): %v\n%s", err, out)
	}
	tests := []struct {
		name          string
		local, remote string // "ours" or "libzmq"
		thr           bool
		size, count   int
	}{
		{"our remote_thr to libzmq local_thr", "libzmq", "ours", true, 16, 20000},
		{"libzmq remote_thr to our local_thr", "ours", "libzmq", true, 16, 20000},
		{"our remote_thr to libzmq local_thr 64KiB", "libzmq", "ours", true, 65536, 200},
		{"our remote_lat to libzmq local_lat", "libzmq", "ours", false, 1, 200},
		{"libzmq remote_lat to our local_lat", "ours", "libzmq", false, 1024, 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each run takes well under a second when all goes well.
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			ep := fmt.Sprintf("ipc://%s/x%d", t.TempDir(), i)
			localTool, remoteTool := "local_lat", "remote_lat"
			if tt.thr {
				localTool, remoteTool = "local_thr", "remote_thr"
			}
			size, count := fmt.Sprint(tt.size), fmt.Sprint(tt.count)
			side := func(who, tool string) func() (string, error) {
				if who == "ours" {
					return ours(ctx, tool, ep, size, count)
				}
				return theirs(ctx, filepath.Join(bin, tool), ep, size, count)
			}
			l, r, err := pairRun(t, ctx, side(tt.local, localTool), side(tt.remote, remoteTool))
			if err != nil {
				t.Fatal(err)
			}
			if tt.thr {
				checkOutput(t, thrOutput, l, tt.size, tt.count)
			} else {
				checkOutput(t, latOutput, r, tt.size, tt.count)
			}
		})
	}
}
