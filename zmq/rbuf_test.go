package zmq

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestReadBufsLifecycle: a buffer comes back once it is retired and all
// its frames are recycled, whichever comes last; frames from elsewhere
// and empty frames are ignored; a full registry drops the buffer retired
// longest ago.
func TestReadBufsLifecycle(t *testing.T) {
	var rs readBufs
	a, ab := rs.get(1024)
	if a == nil {
		t.Fatal("no tracked buffer")
	}
	f1, f2 := ab[0:10:10], ab[10:20:20]
	rs.recycle(f1) // back before the reader retires the buffer
	rs.recycle(make([]byte, 10))
	rs.recycle(ab[20:20])
	rs.retire(a, 2)
	if len(rs.free) != 0 {
		t.Fatal("freed with a frame out")
	}
	rs.recycle(f2)
	if len(rs.free) != 1 || rs.free[0] != a {
		t.Fatalf("free list %v after the last frame", rs.free)
	}
	if b, _ := rs.get(1024); b != a {
		t.Fatal("the free buffer is not reused")
	}
	rs.retire(a, 0)
	if len(rs.free) != 1 {
		t.Fatal("a buffer with no frames out is not freed at once")
	}
	rs.get(1024)
	// Fill the registry with buffers whose frames never come back.
	var held []*rbuf
	for range maxReadBufs - 1 {
		rb, _ := rs.get(1024)
		held = append(held, rb)
	}
	for _, rb := range held {
		rs.retire(rb, 1)
	}
	extra, _ := rs.get(1024)
	if extra == nil {
		t.Fatal("a full registry with retired buffers gives no tracked buffer")
	}
	reg := *rs.reg.Load()
	if len(reg) != maxReadBufs {
		t.Fatalf("%d registered, want %d", len(reg), maxReadBufs)
	}
	for _, r := range reg {
		if r.rb == held[0] {
			t.Fatal("the buffer retired longest ago is still registered")
		}
	}
	if held[0].state != rbufDropped {
		t.Fatal("dropped buffer not marked")
	}
}

// TestRecycleReadBuffers: a receiver that recycles some small messages
// and keeps others sees every kept message intact while its connection's
// read buffers are reused, and the buffers in use stay few.
func TestRecycleReadBuffers(t *testing.T) {
	ctx := testCtx(t)
	pull, push := pairUp(t, Pull, Push, "tcp://127.0.0.1:*", nil, nil)
	const n = 40000
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = 8 + rng.IntN(600)
	}
	body := func(i int) []byte {
		b := make([]byte, sizes[i])
		for j := range b {
			b[j] = byte(i + j)
		}
		binary.BigEndian.PutUint32(b, uint32(i))
		return b
	}
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			if err := push.Send(ctx, Msg{body(i), body(i)[:4]}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	check := func(i int, m Msg) error {
		want := body(i)
		if len(m) != 2 || string(m[0]) != string(want) || string(m[1]) != string(want[:4]) {
			return fmt.Errorf("message %d changed", i)
		}
		return nil
	}
	type kept struct {
		i int
		m Msg
	}
	var keep []kept
	for i := range n {
		m, err := pull.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := check(i, m); err != nil {
			t.Fatal(err)
		}
		if i%97 == 0 {
			keep = append(keep, kept{i, m}) // held while more arrive
		} else {
			pull.Recycle(m)
		}
		if len(keep) > 20 {
			k := keep[0]
			keep = keep[1:]
			if err := check(k.i, k.m); err != nil {
				t.Fatalf("kept %v", err)
			}
			pull.Recycle(k.m) // later than the others
		}
	}
	for _, k := range keep {
		if err := check(k.i, k.m); err != nil {
			t.Fatalf("kept %v", err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	rs := &pull.pool.reads
	rs.mu.Lock()
	made := rs.made
	rs.mu.Unlock()
	// Without reuse, the stream (about 13 MB) takes some 200 buffers.
	if made == 0 || made > 60 {
		t.Fatalf("%d read buffers allocated", made)
	}
	t.Logf("%d read buffers allocated", made)
}

// TestRecycleStripped: frames the socket strips or drops itself (REQ's
// correlation ids, replies it discards) count as recycled, so a REQ that
// recycles its replies keeps reusing a few read buffers.
func TestRecycleStripped(t *testing.T) {
	ctx := testCtx(t)
	rep, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*", nil, &Config{ReqCorrelate: true})
	body := make([]byte, 900)
	for i := range 3000 {
		if err := req.Send(ctx, Msg{body}); err != nil {
			t.Fatal(err)
		}
		m, err := rep.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		r, err := req.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r) != 1 || len(r[0]) != len(body) {
			t.Fatalf("reply %d: %d frames", i, len(r))
		}
		req.Recycle(r)
	}
	rs := &req.pool.reads
	rs.mu.Lock()
	made := rs.made
	rs.mu.Unlock()
	// Without the ids counted back, each 64 KiB of replies (about 70)
	// pins a buffer: some 40 in all.
	if made > 8 {
		t.Fatalf("%d read buffers allocated", made)
	}
}
