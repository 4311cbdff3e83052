package zmqdoor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/internal/speakers"
	"github.com/switchboard/switchboard/zmq"
)

// PresenceTopic is the first frame of presence messages on the Pub socket.
const PresenceTopic = "@presence"

// Config configures a Door. The zero value of each field means its
// default or "off", which the field's doc names. Listen copies it.
type Config struct {
	// Pub is the endpoint of the XPUB socket ("" = off).
	Pub string
	// In is the endpoint of the PULL socket ("" = off).
	In string
	// InSub is the endpoint of the XSUB socket that PUB services connect
	// to ("" = off).
	InSub string
	// RPC is the endpoint of the ROUTER socket workers connect to
	// ("" = off).
	RPC string
	// Name is the user name of the Pub socket's Hub connection. Default
	// "zmq".
	Name string
	// From is the user that speaks [room, text] messages without a from
	// frame. Default "zmq-in".
	From string
	// MaxSpeakers bounds the from names speaking at once. Default 256.
	MaxSpeakers int
	// SpeakerIdle closes a from name's connection after this long
	// without a message. Default 5 minutes.
	SpeakerIdle time.Duration
	// RPCTimeout bounds a request made through ServeSocketIO. Default 5s.
	RPCTimeout time.Duration
	// MaxPending bounds the requests waiting for a reply. Default 1024.
	MaxPending int
	// MaxWorkers bounds the workers known at once. Default 1024.
	MaxWorkers int
	// Socket is the base configuration of every socket (high-water
	// marks, MaxMsgSize, Inproc, security). nil means zmq's defaults with
	// MaxMsgSize 64 KiB.
	Socket *zmq.Config
	// Logger receives debug records. nil means silent.
	Logger *slog.Logger
}

// Errors of Call. Each is also reported to browsers by code (see
// ServeSocketIO).
var (
	// ErrNoWorker: no worker has announced the service.
	ErrNoWorker = errors.New("zmqdoor: no worker for service")
	// ErrTimeout: the worker did not answer before the ctx ended; the
	// error also matches the ctx's error (context.DeadlineExceeded).
	ErrTimeout = errors.New("zmqdoor: no reply in time")
	// ErrLimit: too many requests pending.
	ErrLimit = errors.New("zmqdoor: too many pending requests")
	// ErrClosed: the door is not serving. It wraps net.ErrClosed.
	ErrClosed = fmt.Errorf("zmqdoor: closed: %w", hub.ErrClosed)
	// ErrInvalid: a malformed request (empty service, body too big).
	ErrInvalid = errors.New("zmqdoor: invalid request")
	// ErrOff: the RPC socket is not configured.
	ErrOff = errors.New("zmqdoor: rpc door is off")
)

// WorkerError is a failure a worker reported: [id, reason, "ERROR"].
type WorkerError struct {
	Service string
	Reason  string
}

func (e *WorkerError) Error() string {
	return "zmqdoor: worker for " + strconv.Quote(e.Service) + " failed: " + e.Reason
}

// Stats counts what a Door did.
type Stats struct {
	Published  uint64 // messages handed to XPUB
	PubDropped uint64 // messages the XPUB socket refused (closed)
	In         uint64 // messages said into rooms from In and InSub
	InRefused  uint64 // messages malformed or refused by the Hub
	Calls      uint64 // requests answered by a worker
	CallErrors uint64 // requests failed (no worker, timeout, worker error, ...)
	Workers    int    // workers known
	Speakers   int    // from names holding a Hub connection
	XPub       zmq.Stats
}

// Door is the ZeroMQ door of a Hub. Its methods are safe for concurrent
// use.
type Door struct {
	h   *hub.Hub
	cfg Config
	log *slog.Logger

	pub, in, inSub, rpc *zmq.Socket
	pool                *speakers.Pool

	published, pubDropped, inOK, inRefused, calls, callErrs atomic.Uint64

	mu       sync.Mutex
	serving  bool
	done     chan struct{}       // closed when Serve stops
	workers  map[string][]string // service → worker routing ids
	nworkers int
	rr       map[string]int
	pending  map[string]chan reply
	seq      uint64
	wg       sync.WaitGroup // request goroutines of ServeSocketIO
	stopped  bool
}

type reply struct {
	body []byte
	err  error
}

// Listen binds the configured sockets (nil cfg: nothing to bind is an
// error). The door does nothing until Serve.
func Listen(h *hub.Hub, cfg *Config) (*Door, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Pub == "" && c.In == "" && c.InSub == "" && c.RPC == "" {
		return nil, errors.New("zmqdoor: no endpoint configured")
	}
	if c.Name == "" {
		c.Name = "zmq"
	}
	if c.From == "" {
		c.From = "zmq-in"
	}
	for _, v := range []struct {
		p    *int
		def  int
		name string
	}{{&c.MaxPending, 1024, "MaxPending"}, {&c.MaxWorkers, 1024, "MaxWorkers"}, {&c.MaxSpeakers, 256, "MaxSpeakers"}} {
		if *v.p < 0 {
			return nil, fmt.Errorf("zmqdoor: Config.%s is negative", v.name)
		}
		if *v.p == 0 {
			*v.p = v.def
		}
	}
	if c.RPCTimeout < 0 || c.SpeakerIdle < 0 {
		return nil, errors.New("zmqdoor: negative duration in Config")
	}
	if c.RPCTimeout == 0 {
		c.RPCTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var sc zmq.Config
	if c.Socket != nil {
		sc = *c.Socket
	}
	if sc.MaxMsgSize == 0 {
		sc.MaxMsgSize = 64 << 10
	}
	sc.Logger = c.Logger
	d := &Door{
		h: h, cfg: c, log: c.Logger,
		pool:    speakers.New(h, c.MaxSpeakers, c.SpeakerIdle),
		done:    make(chan struct{}),
		workers: make(map[string][]string),
		rr:      make(map[string]int),
		pending: make(map[string]chan reply),
	}
	open := func(typ zmq.Type, ep string, cfg zmq.Config) (*zmq.Socket, error) {
		if ep == "" {
			return nil, nil
		}
		s, err := zmq.NewSocket(typ, &cfg)
		if err != nil {
			return nil, fmt.Errorf("zmqdoor: %v socket: %w", typ, err)
		}
		if err := s.Bind(ep); err != nil {
			s.Close()
			return nil, fmt.Errorf("zmqdoor: bind %v on %s: %w", typ, ep, err)
		}
		return s, nil
	}
	var err error
	rc := sc
	rc.RouterMandatory = true
	for _, o := range []struct {
		p   **zmq.Socket
		typ zmq.Type
		ep  string
		cfg zmq.Config
	}{{&d.pub, zmq.XPub, c.Pub, sc}, {&d.in, zmq.Pull, c.In, sc}, {&d.inSub, zmq.XSub, c.InSub, sc}, {&d.rpc, zmq.Router, c.RPC, rc}} {
		if *o.p, err = open(o.typ, o.ep, o.cfg); err != nil {
			d.closeSockets()
			return nil, err
		}
	}
	if d.inSub != nil {
		if err := d.inSub.Subscribe(nil); err != nil {
			d.closeSockets()
			return nil, fmt.Errorf("zmqdoor: subscribe: %w", err)
		}
	}
	return d, nil
}

func (d *Door) closeSockets() {
	for _, s := range []*zmq.Socket{d.pub, d.in, d.inSub, d.rpc} {
		if s != nil {
			s.Close()
		}
	}
}

func lastEndpoint(s *zmq.Socket) string {
	if s == nil {
		return ""
	}
	return s.LastEndpoint()
}

// PubAddr returns the endpoint the XPUB socket is bound to ("" if off),
// with the port a "tcp://127.0.0.1:*" or ":0" bind got.
func (d *Door) PubAddr() string { return lastEndpoint(d.pub) }

// InAddr returns the PULL socket's endpoint ("" if off).
func (d *Door) InAddr() string { return lastEndpoint(d.in) }

// InSubAddr returns the XSUB socket's endpoint ("" if off).
func (d *Door) InSubAddr() string { return lastEndpoint(d.inSub) }

// RPCAddr returns the ROUTER socket's endpoint ("" if off).
func (d *Door) RPCAddr() string { return lastEndpoint(d.rpc) }

// Stats returns the door's counters.
func (d *Door) Stats() Stats {
	st := Stats{
		Published: d.published.Load(), PubDropped: d.pubDropped.Load(),
		In: d.inOK.Load(), InRefused: d.inRefused.Load(),
		Calls: d.calls.Load(), CallErrors: d.callErrs.Load(),
		Speakers: d.pool.Len(),
	}
	d.mu.Lock()
	st.Workers = d.nworkers
	d.mu.Unlock()
	if d.pub != nil {
		st.XPub = d.pub.Stats()
	}
	return st
}

// Serve runs the door until ctx is done, then closes its sockets and Hub
// connections and waits for every goroutine it started. It returns nil
// after ctx is done, or the error that kept it from starting. Serve may be
// called once.
func (d *Door) Serve(ctx context.Context) error {
	d.mu.Lock()
	if d.serving || d.stopped {
		d.mu.Unlock()
		return errors.New("zmqdoor: Serve called twice")
	}
	d.serving = true
	d.mu.Unlock()
	defer d.stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	var pubConn *hub.Conn
	if d.pub != nil {
		c, err := d.h.Attach(&pubPeer{d: d, since: time.Now()})
		if err != nil {
			return fmt.Errorf("zmqdoor: %w", err)
		}
		pubConn = c
		if _, err := c.SetName(d.cfg.Name); err != nil {
			c.Close()
			return fmt.Errorf("zmqdoor: name %q: %w", d.cfg.Name, err)
		}
		run(func(ctx context.Context) { d.subscriptions(ctx, pubConn) })
	}
	var watchConns []*hub.Conn
	defer func() {
		for _, c := range watchConns {
			c.Close()
		}
	}()
	for _, w := range []struct {
		door string
		s    *zmq.Socket
	}{{"zmq-in", d.in}, {"zmq-in-sub", d.inSub}, {"zmq-rpc", d.rpc}} {
		if w.s == nil {
			continue
		}
		c, err := d.h.Attach(&sockPeer{door: w.door, s: w.s, since: time.Now()})
		if err != nil {
			if pubConn != nil {
				pubConn.Close()
			}
			return fmt.Errorf("zmqdoor: %w", err)
		}
		watchConns = append(watchConns, c)
	}
	for _, s := range []*zmq.Socket{d.in, d.inSub} {
		if s != nil {
			run(func(ctx context.Context) { d.receive(ctx, s) })
		}
	}
	if d.rpc != nil {
		run(d.route)
	}
	run(d.sweep)
	<-ctx.Done()
	cancel()
	wg.Wait()
	if pubConn != nil {
		pubConn.Close()
	}
	return nil
}

// stop ends serving: no new requests, pending ones fail, sockets close,
// request goroutines are waited for.
func (d *Door) stop() {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.stopped = true
	close(d.done)
	for id, ch := range d.pending {
		ch <- reply{err: ErrClosed}
		delete(d.pending, id)
	}
	d.mu.Unlock()
	d.closeSockets() // a request blocked in Send returns at once
	d.wg.Wait()
	d.pool.Close()
}

// Close releases a door whose Serve never ran (Serve closes on return).
func (d *Door) Close() error {
	d.stop()
	return nil
}

func (d *Door) sweep(ctx context.Context) {
	every := d.pool.Idle() / 4
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.pool.Sweep()
		}
	}
}

// pubPeer is the Pub socket's Hub connection.
type pubPeer struct {
	d     *Door
	since time.Time
}

// Deliver turns ev into a Pub message and queues it without blocking.
func (p *pubPeer) Deliver(ev *hub.Event) error {
	d := p.d
	var m zmq.Msg
	switch ev.Kind {
	case hub.EventSaid:
		if d.pool.Has(ev.User) {
			return nil // came in through In/InSub: never echo it
		}
		m = zmq.NewMsgString(ev.Room, ev.User, ev.Text, ev.ID, strconv.FormatInt(ev.At.UnixMilli(), 10))
	case hub.EventPresence:
		m = zmq.NewMsgString(PresenceTopic, ev.User, ev.State, "")
	case hub.EventJoined, hub.EventLeft:
		m = zmq.NewMsgString(PresenceTopic, ev.User, string(ev.Kind), ev.Room)
	default:
		return nil
	}
	// XPUB never blocks: at a subscriber's high-water mark it drops
	// (counted in Stats.XPub.Dropped).
	if err := d.pub.Send(context.Background(), m); err != nil {
		d.pubDropped.Add(1)
		return nil
	}
	d.published.Add(1)
	return nil
}

// Close is called by the Hub only after a failed Deliver, which never
// happens.
func (p *pubPeer) Close() {}

// subscriptions joins and leaves rooms as subscribers come and go.
func (d *Door) subscriptions(ctx context.Context, c *hub.Conn) {
	for {
		m, err := d.pub.Recv(ctx)
		if err != nil {
			return
		}
		if len(m) == 0 || len(m[0]) == 0 {
			continue
		}
		on, topic := m[0][0] == 1, string(m[0][1:])
		if topic == "" || topic[0] == '@' {
			continue
		}
		if on {
			_, err = c.Join(topic)
		} else {
			err = c.Leave(topic)
		}
		if err != nil && !errors.Is(err, hub.ErrInvalid) {
			d.log.Debug("zmqdoor: subscription", "topic", topic, "on", on, "err", err)
		}
	}
}

// receive says the [room, text(, from)] messages of a PULL or XSUB socket.
func (d *Door) receive(ctx context.Context, s *zmq.Socket) {
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return
		}
		d.take(m)
	}
}

// take says one [room, text(, from)] message, or counts it refused.
func (d *Door) take(m zmq.Msg) {
	if len(m) < 2 || len(m) > 3 {
		d.inRefused.Add(1)
		d.log.Debug("zmqdoor: in: want [room, text] or [room, text, from]", "frames", len(m))
		return
	}
	from := d.cfg.From
	if len(m) == 3 && len(m[2]) > 0 {
		from = string(m[2])
	}
	if _, err := d.pool.Say(from, string(m[0]), string(m[1])); err != nil {
		d.inRefused.Add(1)
		d.log.Debug("zmqdoor: in: refused", "room", string(m[0]), "from", from, "err", err)
		return
	}
	d.inOK.Add(1)
}
