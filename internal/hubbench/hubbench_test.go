package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/testutil"
)

// TestMain runs the bare server when the test binary is started as
// "hubbench bare" (run starts its own executable for that side).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "bare" {
		if err := serveBare(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestRoundOf(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{`r12 hello`, 12},
		{`r0 x`, 0},
		{`42["said",{"at":1,"from":"u0","id":"1","room":"lobby","text":"r7 hello"}]`, 7},
		{`42["said",{"room":"lobby","from":"u0","text":"hello"}]`, -1},
		{``, -1},
		{`r`, -1},
	}
	for _, tt := range tests {
		if got := roundOf([]byte(tt.in)); got != tt.want {
			t.Errorf("roundOf(%q):\n- want: %d\n-  got: %d", tt.in, tt.want, got)
		}
	}
}

// A short run of all three sides prints the ratio table (a smoke test: the
// bare side is this test binary, built with -race when the tests are, so
// its figures mean nothing here).
func TestRunSmall(t *testing.T) {
	node, _ := testutil.Node(t)
	bin := filepath.Join(t.TempDir(), "switchboard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/switchboard")
	build.Dir = testutil.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script := filepath.Join(testutil.RepoRoot(t), "interop", "e2e", "bench_chat.js")
	var out bytes.Buffer
	err := run([]string{"-switchboard", bin, "-node", node, "-node-script", script,
		"-clients", "20", "-subs", "2", "-duration", "250ms"}, &out)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deliveries/s", "server CPU per delivery", "hub/bare"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestPaired(t *testing.T) {
	tests := []struct {
		a, b []float64
		want float64
	}{
		{[]float64{2, 4, 6}, []float64{1, 2, 3}, 2},
		{[]float64{1, 10, 1}, []float64{1, 5, 2}, 1}, // ratios 1, 2, 0.5
		{[]float64{3, 3}, []float64{1, 1, 1}, 3},     // extra rounds of one side ignored
		{nil, []float64{1}, 0},
	}
	for _, tt := range tests {
		if got := paired(tt.a, tt.b); got != tt.want {
			t.Errorf("paired(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
