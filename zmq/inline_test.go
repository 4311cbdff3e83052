package zmq

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/zmq/internal/zmtp"
	"golang.org/x/sys/unix"
)

// TestInlineWriteOrder: a relaxed REQ writes each request from Send while
// the connection is idle. Against a peer that reads nothing at first, the
// socket buffer fills, a write goes partly through and the writer
// goroutine takes the rest; once the peer reads, every request arrives
// whole and in order.
func TestInlineWriteOrder(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = t.TempDir() + "/s"
			}
			// Small kernel buffers on the peer's side (set before
			// listen, so accepted sockets inherit them) fill at once.
			lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) {
					unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
				})
			}}
			ln, err := lc.Listen(ctx, network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ep := "tcp://" + ln.Addr().String()
			if network == "unix" {
				ep = "ipc://" + addr
			}
			req := newSock(t, Req, &Config{ReqRelaxed: true, SendHWM: -1})
			if err := req.Connect(ep + "?sndbuf=4096"); err != nil {
				t.Fatal(err)
			}
			nc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(20 * time.Second))
			peer := &rawPeer{Conn: nc}
			peer.br = bufio.NewReader(peer.Conn)
			peer.handshake(t, "REP")
			// Sizes around inlineMax; each body carries its index.
			const n = 200
			size := func(i int) int { return []int{100, inlineMax - 20, inlineMax + 100, 3000}[i%4] }
			sent := make(chan error, 1)
			go func() {
				for i := range n {
					b := make([]byte, size(i))
					binary.BigEndian.PutUint32(b, uint32(i))
					if err := req.Send(ctx, Msg{b}); err != nil {
						sent <- err
						return
					}
					if i < 40 {
						// Let the writer go idle, so that the next Send
						// writes itself into a full socket buffer.
						time.Sleep(time.Millisecond)
					}
				}
				sent <- nil
			}()
			time.Sleep(200 * time.Millisecond) // let the buffers fill
			for i := range n {
				// Delimiter, then the body.
				flags, body, err := zmtp.ReadFrame(peer.br, nil, 1<<20)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if flags&zmtp.FlagMore == 0 || len(body) != 0 {
					t.Fatalf("request %d: want an empty delimiter, got flags %#x and %d bytes", i, flags, len(body))
				}
				flags, body, err = zmtp.ReadFrame(peer.br, nil, 1<<20)
				if err != nil {
					t.Fatalf("request %d body: %v", i, err)
				}
				want := make([]byte, size(i))
				binary.BigEndian.PutUint32(want, uint32(i))
				if flags&zmtp.FlagMore != 0 || !bytes.Equal(body, want) {
					t.Fatalf("request %d: flags %#x, %d bytes, index %d", i, flags, len(body), binary.BigEndian.Uint32(body))
				}
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			st := req.Stats()
			if len(st.Conns) != 1 || st.Conns[0].MsgsOut != n {
				t.Fatalf("stats: %+v, want %d messages out", st.Conns, n)
			}
			if req.inlineRest.Load() == 0 {
				t.Error("no Send left part of its message to the writer")
			}
		})
	}
}

// TestInlineWriteHeartbeat: with heartbeats, the writer's write deadline
// does not outlive its flush, so requests sent after an idle spell longer
// than the heartbeat timeout (here shorter than the interval, so that no
// PING renews the deadline) still go out from Send.
func TestInlineWriteHeartbeat(t *testing.T) {
	ctx := testCtx(t)
	hb := &Config{HeartbeatIvl: 100 * time.Millisecond, HeartbeatTimeout: 30 * time.Millisecond}
	hb2 := *hb
	rep, req := pairUp(t, Rep, Req, "tcp://127.0.0.1:*", hb, &hb2)
	for i := range 3 {
		if err := req.Send(ctx, NewMsgString("ping")); err != nil {
			t.Fatal(err)
		}
		m, err := rep.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := req.Recv(ctx); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			time.Sleep(150 * time.Millisecond) // idle: heartbeats only
		}
	}
	if n := req.inlineRest.Load() + rep.inlineRest.Load(); n != 0 {
		t.Fatalf("%d inline writes left their message to the writer", n)
	}
}
