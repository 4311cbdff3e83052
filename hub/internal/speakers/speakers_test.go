package speakers

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/hub"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPool(t *testing.T) {
	h, err := hub.New(&hub.Config{Rate: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	p := New(h, 2, time.Minute)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	for _, tc := range []struct {
		name, room string
		err        error
	}{
		{"svc", "lobby", nil},
		{"svc", "kitchen", nil},
		{"ci", "lobby", nil},
		{"third", "lobby", hub.ErrLimit},
		{"bad name!", "lobby", hub.ErrLimit},
		{"svc", "bad room!", hub.ErrInvalid},
	} {
		if _, err := p.Say(tc.name, tc.room, "hi"); !errors.Is(err, tc.err) {
			t.Errorf("Say(%q, %q): %v, want %v", tc.name, tc.room, err, tc.err)
		}
	}
	if !p.Has("svc") || !p.Has("ci") || p.Has("third") || p.Len() != 2 {
		t.Fatalf("pool holds the wrong names: %d", p.Len())
	}
	if got := h.Members("lobby"); len(got) != 2 {
		t.Fatalf("lobby %v", got)
	}
	now = now.Add(30 * time.Second)
	p.Say("ci", "lobby", "still here")
	now = now.Add(45 * time.Second)
	if n := p.Sweep(); n != 1 || p.Has("svc") || !p.Has("ci") {
		t.Fatalf("swept %d; svc %v ci %v", n, p.Has("svc"), p.Has("ci"))
	}
	if _, err := p.Say("bad name!", "lobby", "x"); !errors.Is(err, hub.ErrInvalid) || p.Has("bad name!") {
		t.Fatalf("bad name: %v", err)
	}
	p.Close()
	if _, err := p.Say("ci", "lobby", "x"); !errors.Is(err, hub.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if s := h.Stats(); s.Conns != 0 {
		t.Fatalf("%d connections left", s.Conns)
	}
}
