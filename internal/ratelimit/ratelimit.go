// Package ratelimit is a token bucket that callers wait on, so a relay
// never sends faster than a stated rate of messages or bytes.
package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Limiter allows Rate units per second on average, with bursts of up to
// Burst units. A unit is whatever the caller counts: messages or bytes. It
// is safe for concurrent use. A nil *Limiter allows everything at once.
type Limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

// New returns a limiter of rate units per second with the given burst
// (at least 1). A rate <= 0 returns nil: no limit.
func New(rate float64, burst int) *Limiter {
	if rate <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	return &Limiter{rate: rate, burst: float64(burst), tokens: float64(burst), now: time.Now}
}

// Wait takes n units, waiting until the bucket has them or ctx is done.
// Amounts larger than the burst are let through once the bucket is full,
// leaving a debt the next callers wait out, so the average holds.
func (l *Limiter) Wait(ctx context.Context, n int) error {
	if l == nil || n <= 0 {
		return ctx.Err()
	}
	d := l.reserve(float64(n))
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		l.refund(float64(n))
		return ctx.Err()
	}
}

// reserve takes n tokens (possibly going into debt) and returns how long
// the caller must wait before acting.
func (l *Limiter) reserve(n float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.burst {
			l.tokens = l.burst
		}
	}
	l.last = now
	need := min(n, l.burst) // a big amount waits for a full bucket, not more
	var wait time.Duration
	if l.tokens < need {
		wait = time.Duration((need - l.tokens) / l.rate * float64(time.Second))
	}
	l.tokens -= n
	return wait
}

func (l *Limiter) refund(n float64) {
	l.mu.Lock()
	l.tokens += n
	l.mu.Unlock()
}
