package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/internal/ratelimit"
	"github.com/switchboard/switchboard/monitor"
)

// relaySideFlag collects --listen and --dial in command-line order.
type relaySideFlag struct {
	listen bool
	sides  *[]relaySpec
}

type relaySpec struct {
	listen bool
	spec   string
}

func (f relaySideFlag) String() string { return "" }
func (f relaySideFlag) Set(v string) error {
	*f.sides = append(*f.sides, relaySpec{f.listen, v})
	return nil
}

// relayEnd is one side of a relay.
type relayEnd interface {
	// run reads messages from the side into push until ctx is done.
	run(ctx context.Context, push func([]byte)) error
	// send delivers one message to the side.
	send(ctx context.Context, b []byte) error
	// datagram reports whether the side carries datagrams (its messages
	// are dropped, not held back, when the queue is full).
	datagram() bool
}

// relayDir is one direction of the relay with its queue and limits.
type relayDir struct {
	name                       string
	q                          chan []byte
	msgs                       *ratelimit.Limiter
	bytes                      *ratelimit.Limiter
	in, inBytes, out, outBytes atomic.Uint64
	dropped                    atomic.Uint64
}

func (d *relayDir) stats() string {
	return fmt.Sprintf("%s: %d msgs (%d bytes) in, %d msgs (%d bytes) out, %d dropped, queue %d/%d",
		d.name, d.in.Load(), d.inBytes.Load(), d.out.Load(), d.outBytes.Load(), d.dropped.Load(), len(d.q), cap(d.q))
}

// pump moves messages from the queue to dst, within the rate limits.
func (d *relayDir) pump(ctx context.Context, dst relayEnd) {
	for {
		var b []byte
		select {
		case b = <-d.q:
		case <-ctx.Done():
			return
		}
		if d.msgs.Wait(ctx, 1) != nil || d.bytes.Wait(ctx, len(b)) != nil {
			return
		}
		if err := dst.send(ctx, b); err != nil {
			if ctx.Err() != nil {
				return
			}
			d.dropped.Add(1)
			continue
		}
		d.out.Add(1)
		d.outBytes.Add(uint64(len(b)))
	}
}

func runRelay(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlagSet(stdio, "relay", "(--listen SPEC | --dial SPEC) (--listen SPEC | --dial SPEC) [--lines] [--rate N] [--byte-rate N] [--burst N]")
	var sides []relaySpec
	fs.Var(relaySideFlag{true, &sides}, "listen", "a side that listens on SPEC")
	fs.Var(relaySideFlag{false, &sides}, "dial", "a side that dials SPEC (redialled with backoff when lost)")
	var o ncOpts
	o.register(fs, false)
	rate := fs.Float64("rate", 0, "messages per second in each direction (0: unlimited)")
	byteRate := fs.Float64("byte-rate", 0, "bytes per second in each direction (0: unlimited)")
	burst := fs.Int("burst", 0, "messages (bytes with --byte-rate alone) allowed at once (default 1 message, 1/10 s of bytes)")
	queue := fs.Int("queue", 1024, "messages queued per direction")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(sides) != 2 || fs.NArg() != 0 || *queue < 1 || *queue > 1<<20 || *rate < 0 || *byteRate < 0 || *burst < 0 {
		fs.Usage()
		return ErrUsage
	}
	// SIGUSR1 prints the statistics, like socat's.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	table := newNCTable()
	dirs := [2]*relayDir{}
	for i := range dirs {
		msgBurst, byteBurst := max(*burst, 1), max(int(*byteRate/10), 1)
		if *rate == 0 && *burst > 0 {
			byteBurst = *burst
		}
		dirs[i] = &relayDir{q: make(chan []byte, *queue), msgs: ratelimit.New(*rate, msgBurst), bytes: ratelimit.New(*byteRate, byteBurst)}
	}
	dirs[0].name, dirs[1].name = "A->B", "B->A"
	var ends [2]relayEnd
	for i, s := range sides {
		door := string(rune('A' + i))
		// The queue toward this side is the other direction's.
		toward := dirs[1-i]
		e, err := newRelayEnd(ctx, stdio, &o, s, door, table, func() int { return len(toward.q) })
		if err != nil {
			return err
		}
		ends[i] = e
	}
	defer startControl(ctx, stdio, &o, "relay", args, table)()

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for i := range 2 {
		d, src := dirs[i], ends[i]
		wg.Add(2)
		go func() { defer wg.Done(); d.pump(ctx, ends[1-i]) }()
		go func() {
			defer wg.Done()
			errc <- src.run(ctx, func(b []byte) {
				d.in.Add(1)
				d.inBytes.Add(uint64(len(b)))
				if src.datagram() {
					select {
					case d.q <- b:
					default:
						d.dropped.Add(1)
					}
					return
				}
				select { // a stream waits: backpressure to its sender
				case d.q <- b:
				case <-ctx.Done():
				}
			})
		}()
	}
	var result error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-usr1:
			for _, d := range dirs {
				fmt.Fprintf(stdio.Err, "switchboard relay: %s\n", d.stats())
			}
		case err := <-errc:
			if err != nil && ctx.Err() == nil {
				result = err
				break loop
			}
		}
	}
	cancel()
	wg.Wait()
	for _, d := range dirs {
		fmt.Fprintf(stdio.Err, "switchboard relay: %s\n", d.stats())
	}
	return result
}

func newRelayEnd(ctx context.Context, stdio Stdio, o *ncOpts, s relaySpec, door string, table *ncTable, queue func() int) (relayEnd, error) {
	if !s.listen {
		if _, err := endpoint.Parse(s.spec); err != nil {
			return nil, err
		}
		return &relayDialEnd{spec: s.spec, o: o, door: door, table: table, queue: queue, ready: make(chan struct{})}, nil
	}
	l, err := endpoint.Listen(ctx, s.spec, nil)
	if errors.Is(err, endpoint.ErrWrongKind) {
		pc, perr := endpoint.ListenPacket(ctx, s.spec, nil)
		if perr != nil {
			return nil, perr
		}
		fmt.Fprintf(stdio.Err, "switchboard relay: %s listening on %s://%s\n", door, pc.Proto(), pc.Local())
		return &relayPacketEnd{pc: pc, o: o, door: door, table: table}, nil
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdio.Err, "switchboard relay: %s listening on %s\n", door, l.Endpoint())
	return &relayListenEnd{l: l, o: o, door: door, table: table, queue: queue, clients: map[*ncClient]struct{}{}}, nil
}

// relayListenEnd accepts stream clients: what any client sends goes to the
// other side, and what comes from the other side goes to every client.
type relayListenEnd struct {
	l       *endpoint.Listener
	o       *ncOpts
	door    string
	table   *ncTable
	queue   func() int
	mu      sync.Mutex
	clients map[*ncClient]struct{}
}

func (e *relayListenEnd) datagram() bool { return false }

func (e *relayListenEnd) run(ctx context.Context, push func([]byte)) error {
	since := time.Now()
	defer e.table.add(func(id string) monitor.Conn {
		r := listenerRow(id, e.l, since)
		r.Door = e.door
		return r
	})()
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() {
		e.l.Close()
		e.mu.Lock()
		for cl := range e.clients {
			cl.c.Close()
		}
		e.mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	backoff := 5 * time.Millisecond
	for {
		c, err := e.l.AcceptConn()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			select {
			case <-time.After(backoff):
				backoff = min(2*backoff, time.Second)
				continue
			case <-ctx.Done():
				return nil
			}
		}
		backoff = 5 * time.Millisecond
		e.mu.Lock()
		if len(e.clients) >= e.o.maxConns && e.o.maxConns > 0 || ctx.Err() != nil {
			e.mu.Unlock()
			c.Close()
			continue
		}
		cl := &ncClient{c: c, q: make(chan []byte, ncClientQueue)}
		e.clients[cl] = struct{}{}
		e.mu.Unlock()
		wg.Add(2)
		done := make(chan struct{})
		go func() { // writer
			defer wg.Done()
			for {
				select {
				case b := <-cl.q:
					c.SetWriteDeadline(time.Now().Add(30 * time.Second))
					if _, err := c.Write(b); err != nil {
						c.Close()
						return
					}
				case <-done:
					return
				}
			}
		}()
		go func() { // reader
			defer wg.Done()
			remove := e.table.add(func(id string) monitor.Conn {
				return connRow(id, e.door, "open", c, func() int { return len(cl.q) + e.queue() })
			})
			_ = ncReadMsgs(c, e.o.lines, func(b []byte) error { push(b); return ctx.Err() })
			remove()
			close(done)
			c.Close()
			e.mu.Lock()
			delete(e.clients, cl)
			e.mu.Unlock()
		}()
	}
}

func (e *relayListenEnd) send(ctx context.Context, b []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.clients) == 0 {
		return errors.New("relay: no client connected")
	}
	for cl := range e.clients {
		select {
		case cl.q <- b:
		default:
			if !cl.dropped.Swap(true) {
				cl.c.Close() // too slow: dropped
			}
		}
	}
	return nil
}

// relayPacketEnd is a listening datagram socket: replies go to the peers
// that sent something.
type relayPacketEnd struct {
	pc    *endpoint.PacketConn
	o     *ncOpts
	door  string
	table *ncTable
	mu    sync.Mutex
	peers []net.Addr
}

func (e *relayPacketEnd) datagram() bool { return true }

func (e *relayPacketEnd) run(ctx context.Context, push func([]byte)) error {
	defer e.table.add(func(id string) monitor.Conn {
		e.mu.Lock()
		remote := ""
		if len(e.peers) > 0 {
			remote = e.peers[len(e.peers)-1].String()
		}
		e.mu.Unlock()
		r := packetRow(id, e.door, e.pc, remote)
		return r
	})()
	stop := context.AfterFunc(ctx, func() { e.pc.Close() })
	defer stop()
	defer e.pc.Close()
	buf := make([]byte, ncMaxMsg)
	for {
		n, from, err := e.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			continue
		}
		if from != nil {
			e.mu.Lock()
			known := false
			for _, p := range e.peers {
				if p.String() == from.String() {
					known = true
					break
				}
			}
			if !known {
				e.peers = append(e.peers, from)
				if len(e.peers) > ncMaxPeers {
					e.peers = e.peers[1:]
				}
			}
			e.mu.Unlock()
		}
		push(append([]byte(nil), buf[:n]...))
	}
}

func (e *relayPacketEnd) send(ctx context.Context, b []byte) error {
	e.mu.Lock()
	peers := append([]net.Addr(nil), e.peers...)
	e.mu.Unlock()
	if len(peers) == 0 {
		return errors.New("relay: no datagram peer known yet")
	}
	var first error
	for _, p := range peers {
		if _, err := e.pc.WriteTo(b, p); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// relayDialEnd keeps one connection up, redialling with backoff.
type relayDialEnd struct {
	spec  string
	o     *ncOpts
	door  string
	table *ncTable
	queue func() int
	mu    sync.Mutex
	cur   *endpoint.Conn
	ready chan struct{} // closed when cur is set; replaced when it is lost
	dgram atomic.Bool
}

func (e *relayDialEnd) datagram() bool { return e.dgram.Load() }

func (e *relayDialEnd) run(ctx context.Context, push func([]byte)) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := endpoint.Dial(dctx, e.spec, nil)
		cancel()
		if err != nil {
			var oe *endpoint.OptionError
			if errors.As(err, &oe) {
				return err // will never work
			}
			select {
			case <-time.After(backoff):
				backoff = min(2*backoff, 5*time.Second)
				continue
			case <-ctx.Done():
				return nil
			}
		}
		backoff = 100 * time.Millisecond
		e.dgram.Store(c.Proto() == endpoint.UDP || c.Proto() == endpoint.Unixgram)
		remove := e.table.add(func(id string) monitor.Conn { return connRow(id, e.door, "open", c, e.queue) })
		e.mu.Lock()
		e.cur = c
		close(e.ready)
		e.mu.Unlock()
		stop := context.AfterFunc(ctx, func() { c.Close() })
		_ = ncReadMsgs(c, e.o.lines && !e.dgram.Load(), func(b []byte) error { push(b); return ctx.Err() })
		stop()
		c.Close()
		remove()
		e.mu.Lock()
		e.cur = nil
		e.ready = make(chan struct{})
		e.mu.Unlock()
	}
	return nil
}

func (e *relayDialEnd) send(ctx context.Context, b []byte) error {
	for {
		e.mu.Lock()
		c, ready := e.cur, e.ready
		e.mu.Unlock()
		if c != nil {
			c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			_, err := c.Write(b)
			if err != nil && !errors.Is(err, endpoint.ErrMessageSize) {
				c.Close() // run redials
			}
			return err
		}
		select { // held while the side is (re)connecting
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

var _ flag.Value = relaySideFlag{}
