package hub

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Config configures a Hub. The zero value of each field means its default,
// which the field's doc names. New copies the Config; it is never modified.
type Config struct {
	// MaxNameLen bounds a user name, in bytes. Default 32.
	MaxNameLen int
	// MaxRoomLen bounds a room name, in bytes. Default 64.
	MaxRoomLen int
	// MaxTextLen bounds the text of one message, in bytes. Default 2000.
	MaxTextLen int
	// MaxConns bounds the connections attached at once. Default 10000.
	MaxConns int
	// MaxConnsPerUser bounds the connections one user name may hold at
	// once. Default 16.
	MaxConnsPerUser int
	// MaxRooms bounds the rooms that exist at once (a room exists while it
	// has members). Default 10000.
	MaxRooms int
	// MaxRoomsPerConn bounds the rooms one connection may be in. Default 32.
	MaxRoomsPerConn int
	// MaxRoomMembers bounds the connections in one room. Default 10000.
	MaxRoomMembers int
	// Rate is the sustained number of requests per second one connection
	// may make that others see (Say, Join, Leave, and SetName when it
	// changes the name); Burst how many it may make at once. Defaults 10
	// and 20.
	Rate  float64
	Burst int
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Logger receives debug records. nil means silent.
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	def := func(p *int, v int, name string) error {
		if *p < 0 {
			return fmt.Errorf("hub: Config.%s is negative", name)
		}
		if *p == 0 {
			*p = v
		}
		return nil
	}
	for _, d := range []struct {
		p    *int
		v    int
		name string
	}{
		{&cfg.MaxNameLen, 32, "MaxNameLen"},
		{&cfg.MaxRoomLen, 64, "MaxRoomLen"},
		{&cfg.MaxTextLen, 2000, "MaxTextLen"},
		{&cfg.MaxConns, 10000, "MaxConns"},
		{&cfg.MaxConnsPerUser, 16, "MaxConnsPerUser"},
		{&cfg.MaxRooms, 10000, "MaxRooms"},
		{&cfg.MaxRoomsPerConn, 32, "MaxRoomsPerConn"},
		{&cfg.MaxRoomMembers, 10000, "MaxRoomMembers"},
		{&cfg.Burst, 20, "Burst"},
	} {
		if err := def(d.p, d.v, d.name); err != nil {
			return cfg, err
		}
	}
	if cfg.Rate < 0 {
		return cfg, errors.New("hub: Config.Rate is negative")
	}
	if cfg.Rate == 0 {
		cfg.Rate = 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// Peer is a door's side of one connection: the Hub hands it the events
// addressed to the connection.
//
// The Hub calls Deliver from one goroutine at a time, without holding its
// lock, in the order the events happened, so every member of a room sees
// that room's events in one order. One *Event goes to every recipient of
// that event and must not be modified. Deliver must not block. It may close
// the connection, and the door may then call Conn.Close from within
// Deliver, but it must not call other methods of the Hub or its Conns. A
// non-nil error (say, a full send queue) makes the Hub detach the
// connection and then call Close.
type Peer interface {
	Deliver(*Event) error
	Close()
}

// Hub holds users, rooms and presence for every door. It knows nothing of
// the protocols; doors Attach their connections and translate.
//
// A user is a name; one user may hold several connections (browser tabs,
// a terminal). Presence "online" goes to every connection when a user's
// first connection takes the name, "offline" when its last one lets go.
// Room membership is per connection; "joined" and "left" are per user:
// they are sent when the user's first connection enters a room and when
// its last one leaves it.
//
// All methods are safe for concurrent use. Callers must call Close, which
// detaches every connection.
type Hub struct {
	cfg    Config
	log    *slog.Logger
	prefix string

	mu     sync.Mutex
	closed bool
	seq    uint64
	conns  map[*Conn]struct{}
	users  map[string]int                // name → connections holding it
	named  map[string]map[*Conn]struct{} // name → the connections holding it
	rooms  map[string]*room

	// Events go through an outbox that one goroutine at a time drains
	// (see finish), so Deliver runs without h.mu held and in order.
	outbox    []delivery
	spare     []delivery // the drained outbox's array, reused
	queued    uint64     // deliveries ever put in the outbox
	delivered uint64     // deliveries ever taken out and handed over
	draining  bool
	group     []peerGroup // the door groups filled for the event being drained
	drained   *sync.Cond  // on h.mu; signalled as delivered grows
}

// groupPeer is a Peer of an in-package door that delivers one event to
// many of its peers at once (the Socket.IO door encodes it once). Such a
// door handles its own delivery failures: it closes the connection, and
// its close handler calls Conn.Close.
type groupPeer interface {
	Peer
	group() peerGroup
}

// peerGroup is one such door. It mirrors the Hub's rooms: the Hub tells
// it, in the outbox's order, when one of its peers joins or leaves a room
// or goes, so an event for a room is handed to the door once (toRoom) and
// the door reaches its members there as they were when the event was
// queued. For events to users and to all, add collects the peers of one
// event and flush delivers it to them and forgets them. Only the draining
// goroutine calls these methods.
type peerGroup interface {
	add(groups []peerGroup, p Peer) []peerGroup // adds p; appends itself to groups when it was empty
	flush(ev *Event)
	toRoom(key string, ev *Event, skip Peer) // to the door's members of the room but skip (nil, or any door's peer)
	join(p Peer, key string)
	leave(p Peer, key string)
	drop(p Peer) // p is detached: forget it
}

// maxSpare bounds the outbox array kept for reuse.
const maxSpare = 4096

// delivery is one entry of the outbox: an event for one connection
// (op nil), or else an event for a group door's members of a room, or a
// change of a group door's rooms (op says which). It stays three words:
// a room of many connections of other doors queues one per member.
type delivery struct {
	c  *Conn  // the recipient; the member joining, leaving or gone; for toGroupRoom the connection skipped (nil: none)
	ev *Event // shared by the event's recipients
	op *groupOp
}

// groupOp is what a delivery to a group door is about.
type groupOp struct {
	kind deliveryKind
	g    peerGroup
	key  string // the room's key (room.key)
}

type deliveryKind uint8

const (
	toGroupRoom deliveryKind = iota // ev to g's members of room key but c
	groupJoin                       // c (of g) joined room key
	groupLeave                      // c (of g) left room key
	groupDrop                       // c (of g) is detached
)

type room struct {
	name    string
	key     string // the name as group doors know it: unique to this Hub
	members map[*Conn]struct{}
	solo    map[*Conn]struct{} // the members that are not of a group door
	groups  map[peerGroup]*groupMembers
	users   map[string]int // name → member connections of that user
	topic   string         // "" when none; gone with the room
}

// roomKeyPrefix starts every room key; socketio ids never hold ':'.
const roomKeyPrefix = "hub:"

func (h *Hub) newRoom(name string) *room {
	return &room{
		name:    name,
		key:     roomKeyPrefix + h.prefix + ":" + name,
		members: make(map[*Conn]struct{}),
		solo:    make(map[*Conn]struct{}),
		groups:  make(map[peerGroup]*groupMembers),
		users:   make(map[string]int),
	}
}

// groupMembers are a group door's members of a room.
type groupMembers struct {
	n    int     // member connections
	cast groupOp // the room's events to them
}

// addMember puts c in r; h.mu is held.
func (h *Hub) addMember(r *room, c *Conn) {
	r.members[c] = struct{}{}
	if c.grp == nil {
		r.solo[c] = struct{}{}
		return
	}
	gm := r.groups[c.grp]
	if gm == nil {
		gm = &groupMembers{cast: groupOp{kind: toGroupRoom, g: c.grp, key: r.key}}
		r.groups[c.grp] = gm
	}
	gm.n++
	h.queue(delivery{c: c, op: &groupOp{kind: groupJoin, g: c.grp, key: r.key}})
}

// delMember takes c out of r; h.mu is held.
func (h *Hub) delMember(r *room, c *Conn) {
	delete(r.members, c)
	if c.grp == nil {
		delete(r.solo, c)
		return
	}
	if gm := r.groups[c.grp]; gm != nil {
		if gm.n--; gm.n <= 0 {
			delete(r.groups, c.grp)
		}
	}
	h.queue(delivery{c: c, op: &groupOp{kind: groupLeave, g: c.grp, key: r.key}})
}

// New returns a Hub configured by cfg (nil means defaults).
func New(cfg *Config) (*Hub, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("hub: message id prefix: %w", err)
	}
	h := &Hub{
		cfg:    c,
		log:    c.Logger,
		prefix: hex.EncodeToString(b[:]),
		conns:  make(map[*Conn]struct{}),
		users:  make(map[string]int),
		named:  make(map[string]map[*Conn]struct{}),
		rooms:  make(map[string]*room),
	}
	h.drained = sync.NewCond(&h.mu)
	return h, nil
}

// Attach registers a connection of a door. The Conn starts without a name
// and in no room. It fails with ErrClosed after Close and ErrLimit when
// MaxConns connections are attached.
func (h *Hub) Attach(p Peer) (*Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if len(h.conns) >= h.cfg.MaxConns {
		return nil, fmt.Errorf("%w: %d connections", ErrLimit, h.cfg.MaxConns)
	}
	c := &Conn{
		h:      h,
		peer:   p,
		grp:    groupOf(p),
		rooms:  make(map[string]*room),
		tokens: float64(h.cfg.Burst),
		last:   h.cfg.Now(),
	}
	h.conns[c] = struct{}{}
	return c, nil
}

// Close detaches every connection (without presence or leave events) and
// makes later Attach calls fail. It does not close the peers.
func (h *Hub) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.conns {
		c.detached = true
		c.gone.Store(true)
	}
	clear(h.conns)
	clear(h.users)
	clear(h.named)
	clear(h.rooms)
	return nil
}

// Stats is a snapshot of a Hub's counts.
type Stats struct {
	Conns int // attached connections
	Users int // names online
	Rooms int // rooms with members
}

// Stats returns current counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Conns: len(h.conns), Users: len(h.users), Rooms: len(h.rooms)}
}

// Online returns the names of the users online, sorted.
func (h *Hub) Online() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return sortedKeys(h.users)
}

// Members returns the names of the users in room, sorted; nil if the room
// has no members.
func (h *Hub) Members(room string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[room]; r != nil {
		return sortedKeys(r.users)
	}
	return nil
}

// Topic returns the topic of room, "" if it has none or no members.
func (h *Hub) Topic(room string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[room]; r != nil {
		return r.topic
	}
	return ""
}

// Rooms returns the rooms that have members, sorted.
func (h *Hub) Rooms() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.rooms))
	for name := range h.rooms {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// toUser delivers ev to every connection holding name except skip; h.mu
// is held.
func (h *Hub) toUser(name string, ev *Event, skip *Conn) {
	for c := range h.named[name] {
		if c != skip {
			h.deliver(c, ev)
		}
	}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// groupOf returns p's group door, nil if it has none.
func groupOf(p Peer) peerGroup {
	if gp, ok := p.(groupPeer); ok {
		return gp.group()
	}
	return nil
}

// deliver queues ev for c; h.mu is held.
func (h *Hub) deliver(c *Conn, ev *Event) {
	if c.detached {
		return
	}
	h.queue(delivery{c: c, ev: ev})
}

// queue appends d to the outbox; h.mu is held.
func (h *Hub) queue(d delivery) {
	h.outbox = append(h.outbox, d)
	h.queued++
}

// toAll delivers ev to every connection; h.mu is held.
func (h *Hub) toAll(ev *Event) {
	for c := range h.conns {
		h.deliver(c, ev)
	}
}

// toRoom delivers ev to every member of r except skip; h.mu is held. A
// group door gets the event once for all its members there.
func (h *Hub) toRoom(r *room, ev *Event, skip *Conn) {
	for c := range r.solo {
		if c != skip {
			h.deliver(c, ev)
		}
	}
	for _, gm := range r.groups {
		h.queue(delivery{c: skip, ev: ev, op: &gm.cast})
	}
}

// finish hands the queued events to their peers and releases h.mu, which
// the caller holds. If no other goroutine is draining the outbox, this one
// does, until it is empty; Deliver runs with h.mu released. Peers whose
// Deliver fails are detached (queueing their left and offline events) and
// closed. With wait, finish returns only once the events queued so far
// have been handed over, so a request's events reach the peers' queues
// before the request's reply does. Calls from within Deliver (a door's
// Conn.Close) must not wait: they leave their events to the drainer.
func (h *Hub) finish(wait bool) {
	mine := h.queued
	for {
		if !h.draining && len(h.outbox) > 0 {
			h.drain()
			continue
		}
		if !wait || h.delivered >= mine {
			break
		}
		h.drained.Wait()
	}
	h.mu.Unlock()
}

// drain empties the outbox; h.mu is held on entry and exit.
func (h *Hub) drain() {
	h.draining = true
	for len(h.outbox) > 0 {
		batch := h.outbox
		h.outbox = h.spare[:0]
		h.spare = nil
		h.mu.Unlock()
		var failed []*Conn
		for i := 0; i < len(batch); {
			if d := batch[i]; d.op != nil {
				h.handGroup(d)
				i++
				continue
			}
			// The deliveries of one event are adjacent: hand those of
			// in-package doors that take many peers at once over together.
			ev := batch[i].ev
			j := i
			for j < len(batch) && batch[j].op == nil && batch[j].ev == ev {
				j++
			}
			for k := i; k < j; k++ {
				d := batch[k]
				if d.c.gone.Load() {
					continue
				}
				if g := d.c.grp; g != nil {
					h.group = g.add(h.group, d.c.peer)
					continue
				}
				if err := d.c.peer.Deliver(d.ev); err != nil {
					d.c.gone.Store(true)
					if !d.c.failed.Swap(true) {
						h.log.Debug("deliver failed, dropping connection", "err", err)
						failed = append(failed, d.c)
					}
				}
			}
			for _, g := range h.group {
				g.flush(ev)
			}
			h.group = h.group[:0]
			i = j
		}
		h.mu.Lock()
		for _, c := range failed {
			h.detach(c)
		}
		h.delivered += uint64(len(batch))
		if cap(batch) <= maxSpare {
			clear(batch) // drop the references
			h.spare = batch[:0]
		}
		h.drained.Broadcast()
		if len(failed) > 0 {
			h.mu.Unlock()
			for _, c := range failed {
				c.peer.Close()
			}
			h.mu.Lock()
		}
	}
	h.draining = false
	h.drained.Broadcast()
}

// handGroup hands a group door an outbox entry with an op; only the
// draining goroutine calls it.
func (h *Hub) handGroup(d delivery) {
	op := d.op
	switch op.kind {
	case toGroupRoom:
		var skip Peer
		if d.c != nil {
			skip = d.c.peer
		}
		op.g.toRoom(op.key, d.ev, skip)
	case groupJoin:
		op.g.join(d.c.peer, op.key)
	case groupLeave:
		op.g.leave(d.c.peer, op.key)
	case groupDrop:
		op.g.drop(d.c.peer)
	}
}

// detach removes c from its rooms and the user table, sending left and
// presence events; h.mu is held.
func (h *Hub) detach(c *Conn) {
	if c.detached {
		return
	}
	for name := range c.rooms {
		h.leave(c, name)
	}
	if c.grp != nil {
		h.queue(delivery{c: c, op: &groupOp{kind: groupDrop, g: c.grp}})
	}
	c.detached = true // the going connection is not told its own offline
	c.gone.Store(true)
	delete(h.conns, c)
	h.dropName(c)
}

// dropName releases c's name; h.mu is held.
func (h *Hub) dropName(c *Conn) {
	if c.name == "" {
		return
	}
	name := c.name
	c.name = ""
	h.users[name]--
	if set := h.named[name]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.named, name)
		}
	}
	if h.users[name] <= 0 {
		delete(h.users, name)
		h.toAll(&Event{Kind: EventPresence, User: name, State: StateOffline})
	}
}

// leave takes c out of room name; h.mu is held and c is in the room.
func (h *Hub) leave(c *Conn, name string) {
	r := c.rooms[name]
	delete(c.rooms, name)
	h.delMember(r, c)
	r.users[c.name]--
	if r.users[c.name] <= 0 {
		delete(r.users, c.name)
		h.toRoom(r, &Event{Kind: EventLeft, Room: name, User: c.name}, nil)
	}
	if len(r.members) == 0 {
		delete(h.rooms, name)
	}
}

func (h *Hub) nextID() string {
	h.seq++
	return h.prefix + "-" + strconv.FormatUint(h.seq, 36)
}
