package monitor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sample(now time.Time) []Conn {
	return []Conn{
		{ID: "b", Proto: "tcp", Local: "127.0.0.1:7000", Remote: "127.0.0.1:5555", State: "open", Since: now.Add(-2 * time.Second), MsgsIn: 3, BytesIn: 30, MsgsOut: 1, BytesOut: 10, Queue: 2},
		{ID: "a", Proto: "udp", Local: "127.0.0.1:7001", State: "listen", Since: now.Add(-5 * time.Second), MsgsIn: 1, BytesIn: 5},
	}
}

func TestNewSnapshot(t *testing.T) {
	now := time.Unix(1000, 0)
	s := NewSnapshot(Process{PID: 1, Command: "listen"}, now, sample(now))
	if s.Conns[0].ID != "a" || s.Conns[0].Age != 5 || s.Conns[1].Age != 2 {
		t.Fatalf("order/age: %+v", s.Conns)
	}
	want := Totals{Conns: 2, MsgsIn: 4, MsgsOut: 1, BytesIn: 35, BytesOut: 10, Queue: 2}
	if s.Totals != want {
		t.Fatalf("totals %+v, want %+v", s.Totals, want)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil || back.Totals != want || len(back.Conns) != 2 {
		t.Fatalf("JSON round trip: %v %+v", err, back)
	}
}

func TestHandler(t *testing.T) {
	now := time.Now()
	h := Handler(Process{PID: 7, Command: "relay"}, SourceFunc(func() []Conn { return sample(now) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/snapshot", nil))
	var s Snapshot
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || s.Process.PID != 7 || s.Totals.Conns != 2 {
		t.Fatalf("%v %+v", err, s)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/snapshot", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

func TestControlSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := t.TempDir()
	now := time.Now()
	srv, err := Serve(ctx, ServerConfig{Dir: dir, Process: Self("listen", nil, now), Source: SourceFunc(func() []Conn { return sample(now) })})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(srv.Path()) != SocketName(os.Getpid(), "listen") {
		t.Fatalf("path %s", srv.Path())
	}
	// A socket of a process that is gone is not listed.
	if err := os.WriteFile(filepath.Join(dir, "999999999.x.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	paths, err := Discover(dir)
	if err != nil || len(paths) != 1 || paths[0] != srv.Path() {
		t.Fatalf("Discover: %v %v", paths, err)
	}
	s, err := Fetch(ctx, srv.Path())
	if err != nil {
		t.Fatal(err)
	}
	if s.Process.PID != os.Getpid() || s.Totals.Conns != 2 || s.Conns[1].Remote != "127.0.0.1:5555" {
		t.Fatalf("%+v", s)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(srv.Path()); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	if _, err := Fetch(ctx, srv.Path()); err == nil {
		t.Fatal("fetch after close succeeded")
	}
}
