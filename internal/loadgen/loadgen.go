// Package loadgen is a Socket.IO load generator: many clients on
// switchboard's Engine.IO client (engineio.ClientConn) with a lean
// Socket.IO layer on top, so that the generator costs little next to the
// server it measures, or (Config.Full) on the complete Go client
// (socketio.ClientSocket). It measures deliveries per second at the clients,
// echo-with-ack round trips, and its own CPU per delivery.
//
// The server under test follows the convention of the project's benchmark
// servers (interop/node/sio/bench-server.js):
//
//   - broadcast: on "go" (count, payload) it emits count "m" events (i,
//     payload) to every client. One client drives rounds of "go"; every
//     client counts the "m" it receives.
//   - echo: on "echo" (args..., ack) it acknowledges with the same args.
//     Each client keeps one echo in flight and records its round trip.
//   - idle: clients connect and stay (heartbeats only).
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/socketio"
)

// Modes.
const (
	ModeBroadcast = "broadcast"
	ModeEcho      = "echo"
	ModeIdle      = "idle"
)

// Config describes one run. Zero fields take the defaults in their docs.
type Config struct {
	// URL is the server (http://host:port[/namespace]).
	URL string
	// Path is the Socket.IO path; default "/socket.io/".
	Path string
	// Clients is the number of clients; default 10.
	Clients int
	// Transport is "websocket" (default), "polling" or "upgrade".
	Transport string
	// Duration is the measured time; default 5s.
	Duration time.Duration
	// Mode is ModeBroadcast (default), ModeEcho or ModeIdle.
	Mode string
	// Payload is the size in bytes of the string payload; default 64.
	Payload int
	// Round is the number of "m" events asked per "go" in broadcast mode;
	// default 100.
	Round int
	// ConnectConcurrency bounds simultaneous connection attempts; default
	// 64.
	ConnectConcurrency int
	// ConnectTimeout bounds each client's connection; default 10s.
	ConnectTimeout time.Duration
	// Full runs each client on the complete Go client
	// (socketio.ClientSocket: JSON decoding, handlers, acks) instead of
	// the lean path that only looks at packet prefixes.
	Full bool
}

func (c *Config) withDefaults() (Config, error) {
	d := *c
	if d.Path == "" {
		d.Path = "/socket.io/"
	}
	if d.Clients == 0 {
		d.Clients = 10
	}
	if d.Transport == "" {
		d.Transport = "websocket"
	}
	if d.Duration == 0 {
		d.Duration = 5 * time.Second
	}
	if d.Mode == "" {
		d.Mode = ModeBroadcast
	}
	if d.Payload == 0 {
		d.Payload = 64
	}
	if d.Round == 0 {
		d.Round = 100
	}
	if d.ConnectConcurrency == 0 {
		d.ConnectConcurrency = 64
	}
	if d.ConnectTimeout == 0 {
		d.ConnectTimeout = 10 * time.Second
	}
	switch {
	case d.Clients < 1 || d.Duration < 0 || d.Payload < 0 || d.Round < 1 || d.ConnectConcurrency < 1 || d.ConnectTimeout < 0:
		return d, errors.New("loadgen: clients, round and concurrency must be ≥ 1, sizes and durations ≥ 0")
	case d.Mode != ModeBroadcast && d.Mode != ModeEcho && d.Mode != ModeIdle:
		return d, fmt.Errorf("loadgen: unknown mode %q", d.Mode)
	case d.Transport != "websocket" && d.Transport != "polling" && d.Transport != "upgrade":
		return d, fmt.Errorf("loadgen: unknown transport %q", d.Transport)
	}
	return d, nil
}

// Result is what a run measured.
type Result struct {
	Mode, Transport string
	// Client is "lean" or "full" (Config.Full).
	Client        string
	Clients       int
	Connected     int
	ConnectFailed int
	ConnectP50    time.Duration
	Elapsed       time.Duration
	// Deliveries counts events received by the clients ("m" in broadcast
	// mode, acknowledgements in echo mode).
	Deliveries uint64
	// Disconnects counts clients that lost their connection during the run.
	Disconnects uint64
	// Echo round trips (echo mode).
	RTTp50, RTTp99, RTTMax time.Duration
	// CPU is the generator process's user+system CPU time during the
	// measurement.
	CPU time.Duration
	// HeapPerClient is the generator's live heap growth per connected
	// client, measured after a GC once all clients are connected.
	HeapPerClient int64
	// FirstError is the first client error seen, if any.
	FirstError error
}

// DeliveriesPerSec returns Deliveries over Elapsed.
func (r *Result) DeliveriesPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Deliveries) / r.Elapsed.Seconds()
}

// CPUPerDelivery returns the generator's CPU time per delivery.
func (r *Result) CPUPerDelivery() time.Duration {
	if r.Deliveries == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Deliveries)
}

// WriteTo prints r as stable "key: value" lines.
func (r *Result) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s: %v\n", k, v) }
	kv("mode", r.Mode)
	kv("transport", r.Transport)
	kv("client", r.Client)
	kv("clients", r.Clients)
	kv("connected", r.Connected)
	kv("connect_failed", r.ConnectFailed)
	kv("connect_p50_ms", fmt.Sprintf("%.2f", ms(r.ConnectP50)))
	kv("duration_s", fmt.Sprintf("%.3f", r.Elapsed.Seconds()))
	kv("deliveries", r.Deliveries)
	kv("deliveries_per_s", fmt.Sprintf("%.0f", r.DeliveriesPerSec()))
	if r.Mode == ModeEcho {
		kv("rtt_p50_us", fmt.Sprintf("%.1f", us(r.RTTp50)))
		kv("rtt_p99_us", fmt.Sprintf("%.1f", us(r.RTTp99)))
		kv("rtt_max_us", fmt.Sprintf("%.1f", us(r.RTTMax)))
	}
	kv("disconnects", r.Disconnects)
	kv("gen_heap_per_client_kb", fmt.Sprintf("%.1f", float64(r.HeapPerClient)/1024))
	kv("gen_cpu_s", fmt.Sprintf("%.3f", r.CPU.Seconds()))
	cores := 0.0
	if r.Elapsed > 0 {
		cores = r.CPU.Seconds() / r.Elapsed.Seconds()
	}
	kv("gen_cpu_cores", fmt.Sprintf("%.2f", cores))
	kv("gen_cpu_per_delivery_us", fmt.Sprintf("%.2f", us(r.CPUPerDelivery())))
	if r.FirstError != nil {
		kv("first_error", strconv.Quote(r.FirstError.Error()))
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// client is one Socket.IO client: lean (conn) or full (sock).
type client struct {
	sock   *socketio.ClientSocket
	conn   *engineio.ClientConn
	prefix string // "2" or "2/nsp," (EVENT)
	ackPfx string // "3" or "3/nsp," (ACK)
}

type run struct {
	cfg        Config
	nsp        string
	deliveries atomic.Uint64
	disconn    atomic.Uint64
	errOnce    sync.Once
	firstErr   error
	measuring  atomic.Bool
}

func (r *run) fail(err error) {
	r.errOnce.Do(func() { r.firstErr = err })
}

// Run connects the clients, measures for cfg.Duration (or until ctx ends),
// and closes everything before returning.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	nsp := u.Path
	if nsp == "" {
		nsp = "/"
	}
	u.Path = ""
	base := u.String()
	r := &run{cfg: c, nsp: nsp}
	res := &Result{Mode: c.Mode, Transport: c.Transport, Clients: c.Clients, Client: "lean"}
	if c.Full {
		res.Client = "full"
	}

	heap0 := liveHeap()
	clients, connectTimes := r.connectAll(ctx, base)
	if len(clients) > 0 {
		res.HeapPerClient = (liveHeap() - heap0) / int64(len(clients))
	}
	defer func() {
		var wg sync.WaitGroup
		for _, cl := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); cl.close() }()
		}
		wg.Wait()
	}()
	res.Connected = len(clients)
	res.ConnectFailed = c.Clients - len(clients)
	if len(connectTimes) > 0 {
		slices.Sort(connectTimes)
		res.ConnectP50 = connectTimes[len(connectTimes)/2]
	}
	if len(clients) == 0 {
		res.FirstError = r.firstErr
		return res, fmt.Errorf("loadgen: no client connected: %w", r.firstErr)
	}

	mctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	rtts := make([][]time.Duration, len(clients))
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	r.measuring.Store(true)
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch c.Mode {
			case ModeEcho:
				rtts[i] = r.echo(mctx, cl)
			default:
				r.receive(mctx, cl)
			}
		}()
	}
	if c.Mode == ModeBroadcast {
		r.drive(mctx, clients[0], uint64(len(clients)))
	}
	wg.Wait()
	r.measuring.Store(false)
	res.Elapsed = time.Since(start)
	res.CPU = cpuTime() - cpu0
	res.Deliveries = r.deliveries.Load()
	res.Disconnects = r.disconn.Load()
	res.FirstError = r.firstErr
	if c.Mode == ModeEcho {
		var all []time.Duration
		for _, x := range rtts {
			all = append(all, x...)
		}
		if len(all) > 0 {
			slices.Sort(all)
			res.RTTp50 = all[len(all)/2]
			res.RTTp99 = all[min(len(all)-1, int(math.Ceil(float64(len(all))*0.99))-1)]
			res.RTTMax = all[len(all)-1]
		}
	}
	return res, nil
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func (r *run) engineConfig() *engineio.DialConfig {
	d := &engineio.DialConfig{Path: r.cfg.Path, MaxQueuedPackets: 1 << 16}
	switch r.cfg.Transport {
	case "websocket":
		d.Transports = []string{engineio.TransportWebSocket}
	case "polling":
		d.Transports = []string{engineio.TransportPolling}
	}
	return d
}

// connectAll connects the clients, at most ConnectConcurrency at a time.
func (r *run) connectAll(ctx context.Context, base string) ([]*client, []time.Duration) {
	var (
		mu      sync.Mutex
		clients []*client
		times   []time.Duration
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, r.cfg.ConnectConcurrency)
	for range r.cfg.Clients {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			cl, err := r.connect(ctx, base)
			if err != nil {
				r.fail(err)
				return
			}
			d := time.Since(t0)
			mu.Lock()
			clients = append(clients, cl)
			times = append(times, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return clients, times
}

func (cl *client) close() {
	if cl.sock != nil {
		cl.sock.Close()
		return
	}
	cl.conn.Close()
}

// connectFull connects one complete Go client.
func (r *run) connectFull(ctx context.Context, base string) (*client, error) {
	cfg := &socketio.ClientConfig{Path: r.cfg.Path, Engine: r.engineConfig(), NoReconnect: true}
	s, err := socketio.Connect(ctx, base+r.nsp, cfg, nil)
	if err != nil {
		return nil, err
	}
	s.On("m", func([]any, socketio.AckFunc) {
		if r.measuring.Load() {
			r.deliveries.Add(1)
		}
	})
	s.OnDisconnect(func(reason string) {
		if r.measuring.Load() {
			r.disconn.Add(1)
			r.fail(fmt.Errorf("loadgen: disconnected: %s", reason))
		}
	})
	return &client{sock: s}, nil
}

// connect opens one engine session and joins the namespace.
func (r *run) connect(ctx context.Context, base string) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	if r.cfg.Full {
		return r.connectFull(ctx, base)
	}
	conn, err := engineio.Dial(ctx, base, r.engineConfig())
	if err != nil {
		return nil, err
	}
	// Socket.IO packets inside Engine.IO messages: 0 CONNECT, 2 EVENT,
	// 3 ACK, 4 CONNECT_ERROR.
	cl := &client{conn: conn, prefix: "2", ackPfx: "3"}
	connect := "0"
	if r.nsp != "/" {
		cl.prefix, cl.ackPfx, connect = "2"+r.nsp+",", "3"+r.nsp+",", "0"+r.nsp+","
	}
	if err := conn.Send(engineio.Message{Data: []byte(connect)}); err != nil {
		conn.Close()
		return nil, err
	}
	for {
		m, err := conn.Recv(ctx)
		if err != nil {
			conn.Close()
			return nil, err
		}
		if m.Binary {
			continue
		}
		if bytes.HasPrefix(m.Data, []byte(connect)) {
			return cl, nil
		}
		if bytes.HasPrefix(m.Data, []byte("4")) {
			conn.Close()
			return nil, fmt.Errorf("loadgen: connect refused: %s", m.Data)
		}
	}
}

// receive counts "m" events until ctx ends.
func (r *run) receive(ctx context.Context, cl *client) {
	if cl.sock != nil { // counted by the "m" handler
		<-ctx.Done()
		return
	}
	want := []byte(cl.prefix + `["m"`)
	for {
		m, err := cl.conn.Recv(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.disconn.Add(1)
				r.fail(err)
			}
			return
		}
		if !m.Binary && bytes.HasPrefix(m.Data, want) && r.measuring.Load() {
			r.deliveries.Add(1)
		}
	}
}

// drive asks for broadcast rounds from one client: a new round when the
// previous one arrived everywhere (or after a second), so the server's
// queues are never overrun by the generator itself.
func (r *run) drive(ctx context.Context, cl *client, n uint64) {
	payload := strconv.Quote(strings.Repeat("x", r.cfg.Payload))
	msg := []byte(cl.prefix + `["go",` + strconv.Itoa(r.cfg.Round) + "," + payload + "]")
	per := uint64(r.cfg.Round) * n
	target := uint64(0)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		target += per
		var err error
		if cl.sock != nil {
			err = cl.sock.Emit("go", r.cfg.Round, strings.Repeat("x", r.cfg.Payload))
		} else {
			err = cl.conn.Send(engineio.Message{Data: msg})
		}
		if err != nil {
			r.fail(err)
			return
		}
		deadline := time.Now().Add(time.Second)
		// Start the next round when 90% of this one has arrived.
		for r.deliveries.Load() < target-per/10 && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		if r.deliveries.Load() < target-per/10 {
			target = r.deliveries.Load() // resynchronise after losses
		}
	}
}

// echo keeps one echo in flight and returns the round trips.
func (r *run) echo(ctx context.Context, cl *client) []time.Duration {
	payload := strconv.Quote(strings.Repeat("x", r.cfg.Payload))
	var rtts []time.Duration
	if cl.sock != nil {
		raw := strings.Repeat("x", r.cfg.Payload)
		for ctx.Err() == nil {
			t0 := time.Now()
			if _, err := cl.sock.EmitWithAck(ctx, "echo", raw); err != nil {
				if ctx.Err() == nil {
					r.fail(err)
				}
				return rtts
			}
			if len(rtts) < 1<<20 {
				rtts = append(rtts, time.Since(t0))
			}
			r.deliveries.Add(1)
		}
		return rtts
	}
	var buf []byte
	for id := uint64(0); ctx.Err() == nil; id++ {
		buf = append(buf[:0], cl.prefix...)
		buf = strconv.AppendUint(buf, id, 10)
		buf = append(buf, `["echo",`...)
		buf = append(buf, payload...)
		buf = append(buf, ']')
		want := strconv.AppendUint([]byte(cl.ackPfx), id, 10)
		want = append(want, '[')
		t0 := time.Now()
		if err := cl.conn.Send(engineio.Message{Data: bytes.Clone(buf)}); err != nil {
			r.fail(err)
			return rtts
		}
		for {
			m, err := cl.conn.Recv(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.disconn.Add(1)
					r.fail(err)
				}
				return rtts
			}
			if !m.Binary && bytes.HasPrefix(m.Data, want) {
				break
			}
		}
		if len(rtts) < 1<<20 {
			rtts = append(rtts, time.Since(t0))
		}
		r.deliveries.Add(1)
	}
	return rtts
}
