package dgram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/internal/speakers"
)

// MirrorConfig configures a Mirror. The zero value of each field means its
// default, which the field's doc names.
type MirrorConfig struct {
	// Name is the user the mirror joins the room as. Default "mirror".
	Name string
	// From is the user that says datagrams without a "from<TAB>" prefix.
	// Default "mcast".
	From string
	// MaxSpeakers bounds the from names speaking at once. Default 256.
	MaxSpeakers int
	// SpeakerIdle closes a from name's connection after this long
	// without a datagram. Default 5 minutes.
	SpeakerIdle time.Duration
	// Queue bounds the datagrams waiting to go to the group. Default 256;
	// more are dropped and counted.
	Queue int
	// Logger receives debug records. nil means silent.
	Logger *slog.Logger
}

// MirrorStats counts what a Mirror did.
type MirrorStats struct {
	Out      uint64 // datagrams sent to the group
	In       uint64 // datagrams from the group said in the room
	Looped   uint64 // own datagrams looped back by the kernel, dropped
	Refused  uint64 // datagrams from the group the Hub refused
	Dropped  uint64 // datagrams not sent: queue full or write failed
	Speakers int
}

// Mirror mirrors a room to a multicast group (or any datagram peer).
type Mirror struct {
	h    *hub.Hub
	room string
	cfg  MirrorConfig
	log  *slog.Logger
	rx   net.PacketConn // receives from the group
	tx   net.Conn       // sends to the group
	self string         // tx's local address: our datagrams coming back
	pool *speakers.Pool
	out  chan []byte

	sent, in, looped, refused, dropped atomic.Uint64
	bytesIn, bytesOut                  atomic.Uint64
	since                              time.Time
	once                               sync.Once
}

// NewMirror returns a Mirror of room that receives on rx and sends on tx,
// both of which it owns from now on.
func NewMirror(h *hub.Hub, room string, rx net.PacketConn, tx net.Conn, cfg *MirrorConfig) (*Mirror, error) {
	var c MirrorConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Name == "" {
		c.Name = "mirror"
	}
	if c.From == "" {
		c.From = "mcast"
	}
	if c.Queue < 0 || c.MaxSpeakers < 0 || c.SpeakerIdle < 0 {
		return nil, errors.New("dgram: negative value in MirrorConfig")
	}
	if c.Queue == 0 {
		c.Queue = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Mirror{
		h: h, room: room, cfg: c, log: c.Logger, rx: rx, tx: tx,
		self:  tx.LocalAddr().String(),
		pool:  speakers.New(h, c.MaxSpeakers, c.SpeakerIdle),
		out:   make(chan []byte, c.Queue),
		since: time.Now(),
	}, nil
}

// ListenMirror mirrors room to the group of spec, a datagram endpoint
// such as "udp://239.1.2.3:7000?iface=eth0": it listens on spec (joining
// the group) and sends to it from a socket of its own.
func ListenMirror(ctx context.Context, h *hub.Hub, room, spec string, cfg *MirrorConfig) (*Mirror, error) {
	rx, err := endpoint.ListenPacket(ctx, spec, nil)
	if err != nil {
		return nil, fmt.Errorf("dgram: mirror %s: %w", room, err)
	}
	// The sending socket uses the group and port the listener got.
	ep, err := endpoint.Parse(spec)
	if err != nil {
		rx.Close()
		return nil, fmt.Errorf("dgram: mirror %s: %w", room, err)
	}
	if ua, ok := rx.LocalAddr().(*net.UDPAddr); ok {
		host, _, _ := net.SplitHostPort(ep.Address)
		ep.Address = net.JoinHostPort(host, fmt.Sprint(ua.Port))
	}
	tx, err := endpoint.Dial(ctx, ep.String(), nil)
	if err != nil {
		rx.Close()
		return nil, fmt.Errorf("dgram: mirror %s: %w", room, err)
	}
	m, err := NewMirror(h, room, rx, tx, cfg)
	if err != nil {
		rx.Close()
		tx.Close()
	}
	return m, err
}

// GroupAddr returns the address the mirror sends to.
func (m *Mirror) GroupAddr() net.Addr { return m.tx.RemoteAddr() }

// LocalAddr returns the address the mirror listens on.
func (m *Mirror) LocalAddr() net.Addr { return m.rx.LocalAddr() }

// Stats returns the mirror's counters.
func (m *Mirror) Stats() MirrorStats {
	return MirrorStats{Out: m.sent.Load(), In: m.in.Load(), Looped: m.looped.Load(),
		Refused: m.refused.Load(), Dropped: m.dropped.Load(), Speakers: m.pool.Len()}
}

// Close closes the sockets and the speakers' connections. Serve calls it.
func (m *Mirror) Close() error {
	m.once.Do(func() {
		m.rx.Close()
		m.tx.Close()
		m.pool.Close()
	})
	return nil
}

// mirrorPeer is the mirror's Hub connection in the room.
type mirrorPeer struct{ m *Mirror }

func (p mirrorPeer) Deliver(ev *hub.Event) error {
	m := p.m
	if ev.Kind != hub.EventSaid || ev.Room != m.room || m.pool.Has(ev.User) {
		return nil // presence is not mirrored; what came from the group stays
	}
	select {
	case m.out <- []byte(ev.User + "\t" + ev.Text):
	default:
		m.dropped.Add(1)
	}
	return nil
}

func (p mirrorPeer) Close() {}

// Serve mirrors until ctx is done or a socket fails, then closes the
// mirror and waits for its goroutines. It returns nil after ctx is done.
func (m *Mirror) Serve(ctx context.Context) error {
	defer m.Close()
	c, err := m.h.Attach(mirrorPeer{m})
	if err != nil {
		return fmt.Errorf("dgram: mirror: %w", err)
	}
	defer c.Close()
	if _, err := c.SetName(m.cfg.Name); err != nil {
		return fmt.Errorf("dgram: mirror name %q: %w", m.cfg.Name, err)
	}
	if _, err := c.Join(m.room); err != nil {
		return fmt.Errorf("dgram: mirror room %q: %w", m.room, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { m.rx.SetReadDeadline(time.Now()) })
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.write(ctx) }()
	go func() { defer wg.Done(); sweep(ctx, m.pool) }()
	buf := make([]byte, 65536)
	for {
		n, from, rerr := m.rx.ReadFrom(buf)
		if rerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("dgram: mirror read: %w", rerr)
			}
			break
		}
		if from != nil && from.String() == m.self {
			m.looped.Add(1)
			continue
		}
		who, text := m.cfg.From, strings.TrimRight(string(buf[:n]), "\n")
		if f, t, ok := strings.Cut(text, "\t"); ok && f != "" {
			who, text = f, t
		}
		if _, serr := m.pool.Say(who, m.room, text); serr != nil {
			m.refused.Add(1)
			m.log.Debug("dgram: mirror: refused", "from", from, "user", who, "err", serr)
			continue
		}
		m.in.Add(1)
		m.bytesIn.Add(uint64(n))
	}
	cancel()
	wg.Wait()
	return err
}

func (m *Mirror) write(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-m.out:
			m.tx.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := m.tx.Write(b); err != nil {
				m.dropped.Add(1)
				m.log.Debug("dgram: mirror write", "err", err)
				continue
			}
			m.sent.Add(1)
			m.bytesOut.Add(uint64(len(b)))
		}
	}
}

// sweep closes a pool's idle speakers until ctx is done.
func sweep(ctx context.Context, p *speakers.Pool) {
	every := p.Idle() / 4
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
			p.Sweep()
		}
	}
}
