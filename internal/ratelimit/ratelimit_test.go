package ratelimit

import (
	"context"
	"testing"
	"time"
)

func TestReserve(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(10, 5)
	l.now = func() time.Time { return now }
	for i := range 5 {
		if d := l.reserve(1); d != 0 {
			t.Fatalf("burst %d waited %v", i, d)
		}
	}
	if d := l.reserve(1); d != 100*time.Millisecond {
		t.Fatalf("6th: %v, want 100ms", d)
	}
	now = now.Add(time.Second) // refills 10, capped at burst 5, minus the debt of 1
	if d := l.reserve(5); d != 0 {
		t.Fatalf("after refill: %v", d)
	}
	// An amount above the burst waits for a full bucket, then leaves a debt.
	now = now.Add(10 * time.Second)
	if d := l.reserve(50); d != 0 {
		t.Fatalf("big: %v", d)
	}
	if d := l.reserve(1); d != 4600*time.Millisecond {
		t.Fatalf("after big: %v, want 4.6s (debt 45 + 1 at 10/s)", d)
	}
}

func TestNilAndCancel(t *testing.T) {
	var l *Limiter
	if err := l.Wait(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	if New(0, 1) != nil {
		t.Fatal("rate 0 should be no limiter")
	}
	l = New(1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, 10); err == nil {
		t.Fatal("cancelled wait returned nil")
	}
}
