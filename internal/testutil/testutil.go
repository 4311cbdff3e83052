// Package testutil holds helpers shared by switchboard's tests: finding the
// repository, and finding the real peers (libzmq through python3-zmq, Node's
// socket.io packages, Chromium) that interop tests run against.
//
// Interop tests run when SWITCHBOARD_INTEROP=1 is set, as `make test` does
// after installing every peer. Then a missing peer fails the test loudly.
// Without the variable they are skipped, so `go test ./...` works anywhere.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InteropEnv is the environment variable that turns interop tests on.
const InteropEnv = "SWITCHBOARD_INTEROP"

// Interop skips the test unless interop tests are on.
func Interop(t testing.TB) {
	t.Helper()
	if os.Getenv(InteropEnv) == "" {
		t.Skipf("interop test: set %s=1 (make test does, after installing the peers)", InteropEnv)
	}
}

// RepoRoot returns the repository's root directory (where go.mod is).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testutil: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Python returns Debian's /usr/bin/python3 after checking that it imports
// every module named. It calls Interop first.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	Interop(t)
	const py = "/usr/bin/python3"
	for _, m := range modules {
		if out, err := exec.Command(py, "-c", "import "+m).CombinedOutput(); err != nil {
			t.Fatalf("interop peer missing: %s cannot import %s: %v\n%s\n(run make test, which installs it)", py, m, err, out)
		}
	}
	return py
}

// Node returns the node binary and the directory holding the pinned npm
// packages (interop/node, with node_modules installed). It calls Interop.
func Node(t testing.TB) (node, dir string) {
	t.Helper()
	Interop(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("interop peer missing: node not on PATH: %v", err)
	}
	dir = filepath.Join(RepoRoot(t), "interop", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		t.Fatalf("interop peer missing: %v (run make test, which runs npm ci in interop/node)", err)
	}
	return node, dir
}

// Chromium returns Debian's chromium binary. It calls Interop.
func Chromium(t testing.TB) string {
	t.Helper()
	Interop(t)
	const p = "/usr/bin/chromium"
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("interop peer missing: %v (run make test, which installs chromium)", err)
	}
	return p
}

// Short reports whether long tests should be skipped.
func Short() bool { return testing.Short() }
