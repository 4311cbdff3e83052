package deptest

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// forbidden reports why a package must not be a dependency of a protocol
// library ("" if it may be).
func forbidden(pkg string) string {
	const mod = "github.com/switchboard/switchboard/"
	switch {
	case strings.HasPrefix(pkg, "github.com/prometheus/"):
		return "Prometheus belongs to the daemon (monitor), not to the protocols"
	case strings.Contains(strings.ToLower(pkg), "redis"):
		return "Redis belongs to the cluster adapter, not to the protocols"
	case pkg == mod+"internal/cli" || strings.HasPrefix(pkg, mod+"internal/cli/"):
		return "the CLI depends on the libraries, not the other way"
	case pkg == mod+"hub" || strings.HasPrefix(pkg, mod+"hub/"):
		return "the hub depends on the libraries, not the other way"
	case pkg == mod+"monitor" || strings.HasPrefix(pkg, mod+"cmd/"):
		return "monitoring and commands sit above the libraries"
	}
	return ""
}

// graph lists the packages patterns depend on (test files left out: only
// what an importer gets), as import path → its imports, and the packages
// the patterns matched. With -e, a package that does not build is listed
// with the imports it has.
func graph(t *testing.T, patterns ...string) (imports map[string][]string, roots []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return string(out)
	}
	roots = strings.Fields(run(append([]string{"list", "-e"}, patterns...)...))
	imports = map[string][]string{}
	out := run(append([]string{"list", "-e", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`}, patterns...)...)
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) > 0 {
			imports[f[0]] = f[1:]
		}
	}
	return imports, roots
}

// chain returns an import chain from one of roots to target.
func chain(imports map[string][]string, roots []string, target string) []string {
	prev := map[string]string{}
	queue := slices.Clone(roots)
	for _, r := range roots {
		prev[r] = ""
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == target {
			var c []string
			for ; p != ""; p = prev[p] {
				c = append(c, p)
			}
			slices.Reverse(c)
			return c
		}
		for _, q := range imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}

// violations lists the forbidden dependencies of patterns, each with its
// reason and import chain.
func violations(t *testing.T, patterns ...string) []string {
	imports, roots := graph(t, patterns...)
	if len(roots) == 0 {
		t.Fatalf("%v matched no package", patterns)
	}
	var bad []string
	for pkg := range imports {
		if why := forbidden(pkg); why != "" {
			bad = append(bad, pkg+": "+why+"\n\t"+strings.Join(chain(imports, roots, pkg), "\n\t-> "))
		}
	}
	slices.Sort(bad)
	return bad
}

func TestProtocolLibrariesDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, lib := range []string{"engineio", "socketio", "zmq", "endpoint"} {
		t.Run(lib, func(t *testing.T) {
			for _, v := range violations(t, "./"+lib+"/...") {
				t.Errorf("%s must not depend on %s", lib, v)
			}
		})
	}
}

// The check sees a dependency that is there: monitor uses client_golang.
func TestDepsDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	v := violations(t, "./monitor")
	if !slices.ContainsFunc(v, func(s string) bool {
		return strings.HasPrefix(s, "github.com/prometheus/client_golang/prometheus:") &&
			strings.Contains(s, "github.com/switchboard/switchboard/monitor\n\t-> github.com/prometheus/client_golang/prometheus")
	}) {
		t.Errorf("monitor's Prometheus dependency not found: %q", v)
	}
}
