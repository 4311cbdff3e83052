package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/monitor"
)

// Shared by listen, dial and relay (the "nc" family): flags, message
// framing, the connection table served on the control socket.

const (
	ncMaxMsg       = 64 << 10 // largest message read at once (line or chunk)
	ncClientQueue  = 256      // messages queued per client before it is dropped
	ncDefaultConns = 64
	ncMaxPeers     = 64 // datagram peers remembered for replies
)

// ncOpts are the flags common to listen, dial and relay.
type ncOpts struct {
	lines      bool
	tag        bool
	maxConns   int
	controlDir string
	noControl  bool
}

func (o *ncOpts) register(fs *flag.FlagSet, listen bool) {
	fs.BoolVar(&o.lines, "lines", false, "frame messages by lines (default: whatever each read returns)")
	if listen {
		fs.BoolVar(&o.tag, "tag", false, "prefix each line received with [peer] (implies --lines)")
		fs.IntVar(&o.maxConns, "max-conns", ncDefaultConns, "most clients served at once")
	}
	fs.StringVar(&o.controlDir, "control-dir", "", "directory of the control socket (default "+monitor.RuntimeDir()+")")
	fs.BoolVar(&o.noControl, "no-control", false, "do not serve statistics on a control socket")
}

// ncTable lists live connections for the control socket.
type ncTable struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]func(id string) monitor.Conn
}

func newNCTable() *ncTable { return &ncTable{m: make(map[uint64]func(string) monitor.Conn)} }

// add registers a connection; the returned func removes it.
func (t *ncTable) add(f func(id string) monitor.Conn) (remove func()) {
	t.mu.Lock()
	t.next++
	id := t.next
	t.m[id] = f
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.m, id)
		t.mu.Unlock()
	}
}

// Conns implements monitor.Source.
func (t *ncTable) Conns() []monitor.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]monitor.Conn, 0, len(t.m))
	for id, f := range t.m {
		out = append(out, f(strconv.FormatUint(id, 10)))
	}
	return out
}

// connRow describes a stream or connected datagram connection.
func connRow(id, door, state string, c *endpoint.Conn, queue func() int) monitor.Conn {
	st := c.Stats()
	m := monitor.Conn{ID: id, Proto: c.Proto(), Door: door, Local: c.Local(), Remote: c.Remote(), State: state,
		Since: c.Since(), MsgsIn: st.MsgsIn, MsgsOut: st.MsgsOut, BytesIn: st.BytesIn, BytesOut: st.BytesOut}
	if queue != nil {
		m.Queue = queue()
	}
	if ti, err := c.TCPInfo(); err == nil {
		m.RTT = ti.RTT.Microseconds()
	}
	return m
}

// packetRow describes a datagram socket.
func packetRow(id, door string, p *endpoint.PacketConn, remote string) monitor.Conn {
	st := p.Stats()
	return monitor.Conn{ID: id, Proto: p.Proto(), Door: door, Local: p.Local(), Remote: remote, State: "bound",
		Since: p.Since(), MsgsIn: st.MsgsIn, MsgsOut: st.MsgsOut, BytesIn: st.BytesIn, BytesOut: st.BytesOut}
}

// listenerRow describes a listening socket.
func listenerRow(id string, l *endpoint.Listener, since time.Time) monitor.Conn {
	return monitor.Conn{ID: id, Proto: l.Endpoint().Proto(), Door: l.Local(), Local: l.Local(), State: "listen", Since: since}
}

// startControl serves the table on this process's control socket, unless
// turned off. The returned stop func is never nil.
func startControl(ctx context.Context, stdio Stdio, o *ncOpts, command string, args []string, t *ncTable) (stop func()) {
	if o.noControl {
		return func() {}
	}
	srv, err := monitor.Serve(ctx, monitor.ServerConfig{Dir: o.controlDir, Process: monitor.Self(command, args, time.Now()), Source: t})
	if err != nil {
		fmt.Fprintf(stdio.Err, "switchboard %s: no control socket: %v\n", command, err)
		return func() {}
	}
	return func() { srv.Close() }
}

// ncReadMsgs reads messages from r: lines (the newline kept) with lines,
// else what each Read returns. Lines longer than ncMaxMsg come in pieces.
func ncReadMsgs(r io.Reader, lines bool, fn func([]byte) error) error {
	if lines {
		br := bufio.NewReaderSize(r, ncMaxMsg)
		for {
			b, err := br.ReadSlice('\n')
			if len(b) > 0 {
				if ferr := fn(append([]byte(nil), b...)); ferr != nil {
					return ferr
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				return err
			}
		}
	}
	buf := make([]byte, ncMaxMsg)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if ferr := fn(append([]byte(nil), buf[:n]...)); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return err
		}
	}
}

// ncOut writes whole messages to the output, one writer at a time, with an
// optional [peer] tag on each line.
type ncOut struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *ncOut) write(tag string, b []byte, addNewline bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if tag != "" {
		io.WriteString(o.w, "["+tag+"] ")
	}
	o.w.Write(b)
	if addNewline && (len(b) == 0 || b[len(b)-1] != '\n') {
		io.WriteString(o.w, "\n")
	}
}

// ncClient is one accepted stream client with its bounded send queue.
type ncClient struct {
	c       *endpoint.Conn
	q       chan []byte
	dropped atomic.Bool
}

func runListen(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlagSet(stdio, "listen", "[--lines] [--tag] SPEC")
	var o ncOpts
	o.register(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return ErrUsage
	}
	if o.tag {
		o.lines = true
	}
	spec := fs.Arg(0)
	l, err := endpoint.Listen(ctx, spec, nil)
	if errors.Is(err, endpoint.ErrWrongKind) {
		pc, perr := endpoint.ListenPacket(ctx, spec, nil)
		if perr != nil {
			return perr
		}
		return listenPacket(ctx, stdio, &o, args, spec, pc)
	}
	if err != nil {
		return err
	}
	return listenStream(ctx, stdio, &o, args, l)
}

func listenStream(ctx context.Context, stdio Stdio, o *ncOpts, args []string, l *endpoint.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if ep := l.Endpoint(); ep.Transport == endpoint.FD {
		fmt.Fprintf(stdio.Err, "switchboard listen: listening on %s (%s)\n", ep, l.Local())
	} else {
		fmt.Fprintf(stdio.Err, "switchboard listen: listening on %s\n", ep)
	}
	table := newNCTable()
	since := time.Now()
	defer table.add(func(id string) monitor.Conn { return listenerRow(id, l, since) })()
	defer startControl(ctx, stdio, o, "listen", args, table)()
	out := &ncOut{w: stdio.Out}

	var mu sync.Mutex
	clients := map[*ncClient]struct{}{}
	var wg sync.WaitGroup
	serve := func(cl *ncClient) {
		defer wg.Done()
		remove := table.add(func(id string) monitor.Conn {
			return connRow(id, l.Local(), "open", cl.c, func() int { return len(cl.q) })
		})
		defer remove()
		done := make(chan struct{})
		wg.Add(1)
		go func() { // writer: owns the queue
			defer wg.Done()
			for {
				select {
				case b := <-cl.q:
					cl.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
					if _, err := cl.c.Write(b); err != nil {
						cl.c.Close()
						return
					}
				case <-done:
					return
				}
			}
		}()
		tag := ""
		if o.tag {
			tag = cl.c.Remote()
		}
		_ = ncReadMsgs(cl.c, o.lines, func(b []byte) error {
			out.write(tag, b, o.tag)
			return nil
		})
		close(done)
		cl.c.Close()
		mu.Lock()
		delete(clients, cl)
		mu.Unlock()
	}
	wg.Add(1)
	go func() { // accept loop
		defer wg.Done()
		backoff := 5 * time.Millisecond
		for {
			c, err := l.AcceptConn()
			if err != nil {
				if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
					return
				}
				select { // temporary error: back off, never spin
				case <-time.After(backoff):
					backoff = min(2*backoff, time.Second)
					continue
				case <-ctx.Done():
					return
				}
			}
			backoff = 5 * time.Millisecond
			mu.Lock()
			if len(clients) >= o.maxConns || ctx.Err() != nil { // full, or shutting down
				mu.Unlock()
				c.Close()
				continue
			}
			cl := &ncClient{c: c, q: make(chan []byte, ncClientQueue)}
			clients[cl] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go serve(cl)
		}
	}()
	// stdin goes to every client. The reader of stdin cannot be
	// interrupted; it ends with stdin or with the process.
	go func() {
		_ = ncReadMsgs(stdio.In, o.lines, func(b []byte) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			mu.Lock()
			for cl := range clients {
				select {
				case cl.q <- b:
				default: // a client that cannot keep up is dropped
					if !cl.dropped.Swap(true) {
						cl.c.Close()
					}
				}
			}
			mu.Unlock()
			return nil
		})
	}()
	<-ctx.Done()
	l.Close()
	mu.Lock()
	for cl := range clients {
		cl.c.Close()
	}
	mu.Unlock()
	wg.Wait()
	return nil
}

func listenPacket(ctx context.Context, stdio Stdio, o *ncOpts, args []string, spec string, pc *endpoint.PacketConn) error {
	defer pc.Close()
	if strings.HasPrefix(spec, "fd:") {
		fmt.Fprintf(stdio.Err, "switchboard listen: listening on %s (%s://%s)\n", spec, pc.Proto(), pc.Local())
	} else {
		fmt.Fprintf(stdio.Err, "switchboard listen: listening on %s://%s\n", pc.Proto(), pc.Local())
	}
	table := newNCTable()
	var peersMu sync.Mutex
	var peers []net.Addr // most recent last
	lastPeer := func() string {
		peersMu.Lock()
		defer peersMu.Unlock()
		if len(peers) == 0 {
			return ""
		}
		return peers[len(peers)-1].String()
	}
	defer table.add(func(id string) monitor.Conn { return packetRow(id, pc.Local(), pc, lastPeer()) })()
	defer startControl(ctx, stdio, o, "listen", args, table)()
	out := &ncOut{w: stdio.Out}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, ncMaxMsg)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
					return
				}
				continue // a bad datagram does not stop the listener
			}
			msg := buf[:n]
			if pc.Proto() == endpoint.Netlink && o.lines {
				msg = append([]byte(nil), msg...)
				for i := range msg {
					if msg[i] == 0 {
						msg[i] = '\n'
					}
				}
			}
			tag := ""
			if o.tag && from != nil {
				tag = from.String()
			}
			out.write(tag, msg, o.lines)
			if from != nil && pc.Proto() != endpoint.Netlink {
				peersMu.Lock()
				seen := false
				for i, p := range peers {
					if p.String() == from.String() {
						peers = append(append(peers[:i:i], peers[i+1:]...), from)
						seen = true
						break
					}
				}
				if !seen {
					peers = append(peers, from)
					if len(peers) > ncMaxPeers {
						peers = peers[1:]
					}
				}
				peersMu.Unlock()
			}
		}
	}()
	go func() {
		_ = ncReadMsgs(stdio.In, o.lines, func(b []byte) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			peersMu.Lock()
			to := append([]net.Addr(nil), peers...)
			peersMu.Unlock()
			for _, p := range to {
				if _, err := pc.WriteTo(b, p); err != nil {
					fmt.Fprintf(stdio.Err, "switchboard listen: %v\n", err)
				}
			}
			return nil
		})
	}()
	select {
	case <-ctx.Done():
	case <-readDone:
	}
	pc.Close()
	<-readDone
	return nil
}

// ncIsTerminal reports whether f is a terminal (for stat's live view).
func ncIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
