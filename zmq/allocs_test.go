package zmq

import "testing"

// TestNoAllocsPerMessage guards the steady state: sending and receiving a
// small message allocates nothing per message (tcp carves received frames
// out of shared slabs, so a few slab allocations are spread over
// thousands of messages).
func TestNoAllocsPerMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counting")
	}
	for _, tt := range []struct {
		name      string
		ep        string
		a, b      Type
		max       float64
		roundTrip bool
	}{
		{"inproc PUSH/PULL", "inproc://allocs", Pull, Push, 0.01, false},
		{"tcp PUSH/PULL", "tcp://127.0.0.1:*", Pull, Push, 0.05, false},
		{"tcp REQ/REP", "tcp://127.0.0.1:*", Rep, Req, 0.05, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			a, b := pairUp(t, tt.a, tt.b, tt.ep, nil, nil)
			msg := Msg{make([]byte, 200)}
			step := func() {
				if err := b.Send(ctx, msg); err != nil {
					t.Fatal(err)
				}
				m, err := a.Recv(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if tt.roundTrip {
					if err := a.Send(ctx, m); err != nil {
						t.Fatal(err)
					}
					if _, err := b.Recv(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			for range 100 {
				step() // warm up queues and buffers
			}
			if got := testing.AllocsPerRun(2000, step); got > tt.max {
				t.Fatalf("%.3f allocations per message, want at most %.2f", got, tt.max)
			}
		})
	}
}
