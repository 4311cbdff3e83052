package dgram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
)

// NetlinkConfig configures a Netlink door. The zero value of each field
// means its default, which the field's doc names.
type NetlinkConfig struct {
	// Name is the user the door speaks as. Default "kernel".
	Name string
	// MaxText bounds the text of one message, in bytes; longer uevents are
	// cut at a line boundary. Default 2000 (the Hub's default limit).
	MaxText int
	// Logger receives debug records. nil means silent.
	Logger *slog.Logger
}

// NetlinkStats counts what a Netlink door did.
type NetlinkStats struct {
	Events  uint64 // uevents said in the room
	Refused uint64 // uevents refused by the Hub (rate, limits), unreadable, or lost (ENOBUFS)
}

// Netlink says kernel uevents in a room. It is read-only: nothing said in
// the room reaches the kernel.
type Netlink struct {
	h    *hub.Hub
	room string
	pc   net.PacketConn
	cfg  NetlinkConfig
	log  *slog.Logger

	events, refused, bytesIn atomic.Uint64
	since                    time.Time
	once                     sync.Once
}

// ListenNetlink opens spec ("netlink://kobject-uevent", see package
// endpoint) and returns a door that says its uevents in room.
func ListenNetlink(ctx context.Context, h *hub.Hub, room, spec string, cfg *NetlinkConfig) (*Netlink, error) {
	pc, err := endpoint.ListenPacket(ctx, spec, nil)
	if err != nil {
		return nil, fmt.Errorf("dgram: netlink: %w", err)
	}
	return NewNetlink(h, room, pc, cfg), nil
}

// NewNetlink returns a door that says the uevents read from pc in room.
// It owns pc from now on.
func NewNetlink(h *hub.Hub, room string, pc net.PacketConn, cfg *NetlinkConfig) *Netlink {
	var c NetlinkConfig
	if cfg != nil {
		c = *cfg
	}
	if c.Name == "" {
		c.Name = "kernel"
	}
	if c.MaxText <= 0 {
		c.MaxText = 2000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Netlink{h: h, room: room, pc: pc, cfg: c, log: c.Logger, since: time.Now()}
}

// Stats returns the door's counters.
func (n *Netlink) Stats() NetlinkStats {
	return NetlinkStats{Events: n.events.Load(), Refused: n.refused.Load()}
}

// Close closes the socket. Serve calls it.
func (n *Netlink) Close() error {
	n.once.Do(func() { n.pc.Close() })
	return nil
}

// netlinkPeer is the door's Hub connection: it hears nothing.
type netlinkPeer struct{ n *Netlink }

func (netlinkPeer) Deliver(*hub.Event) error { return nil }
func (netlinkPeer) Close()                   {}

// Serve says uevents until ctx is done or the socket fails, then closes
// the door. It returns nil after ctx is done.
func (n *Netlink) Serve(ctx context.Context) error {
	defer n.Close()
	c, err := n.h.Attach(netlinkPeer{n})
	if err != nil {
		return fmt.Errorf("dgram: netlink: %w", err)
	}
	defer c.Close()
	if _, err := c.SetName(n.cfg.Name); err != nil {
		return fmt.Errorf("dgram: netlink name %q: %w", n.cfg.Name, err)
	}
	if _, err := c.Join(n.room); err != nil {
		return fmt.Errorf("dgram: netlink room %q: %w", n.room, err)
	}
	stop := context.AfterFunc(ctx, func() { n.pc.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 65536)
	for {
		k, _, err := n.pc.ReadFrom(buf)
		if errors.Is(err, syscall.ENOBUFS) {
			// The kernel had more uevents than the socket buffer held:
			// some are lost, the socket still works.
			n.refused.Add(1)
			n.log.Debug("dgram: netlink: uevents lost (ENOBUFS)")
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dgram: netlink read: %w", err)
		}
		text, ok := UeventText(buf[:k], n.cfg.MaxText)
		if !ok {
			n.refused.Add(1)
			continue
		}
		if _, err := c.Say(n.room, text); err != nil {
			n.refused.Add(1)
			n.log.Debug("dgram: netlink: refused", "err", err)
			continue
		}
		n.events.Add(1)
		n.bytesIn.Add(uint64(k))
	}
}

// UeventText turns a kernel uevent ("ACTION@DEVPATH\0KEY=VALUE\0...") into
// text: the header and each field on a line of its own, control
// characters and invalid UTF-8 replaced, cut at a line boundary to at most
// max bytes. It reports false for what is not a kernel uevent (libudev's
// messages start with "libudev\0").
func UeventText(b []byte, max int) (string, bool) {
	fields := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	if len(fields) == 0 || !bytes.Contains(fields[0], []byte("@")) {
		return "", false
	}
	var sb strings.Builder
	for i, f := range fields {
		line := strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
				return '?'
			}
			return r
		}, string(f))
		if line == "" {
			continue
		}
		if sb.Len()+len(line)+1 > max {
			if i == 0 {
				return "", false
			}
			break
		}
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(line)
	}
	return sb.String(), true
}
