package hub

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Conn is one connection of a door, attached to a Hub. Its methods are
// the chat's requests; each validates its input and returns an error that
// errors.Is matches against ErrInvalid, ErrNoName, ErrNotInRoom, ErrLimit,
// ErrRate or ErrClosed. Methods are safe for concurrent use. The door must
// call Close when the connection goes away.
type Conn struct {
	h      *Hub
	peer   Peer
	grp    peerGroup   // the peer's group door; nil: none
	gone   atomic.Bool // detached, or its Deliver failed: deliver nothing more
	failed atomic.Bool // its Deliver failed once: the Hub closes the Peer

	// Guarded by h.mu.
	name     string
	rooms    map[string]*room
	detached bool
	tokens   float64
	last     time.Time
}

// Name returns the connection's user name, "" before SetName.
func (c *Conn) Name() string {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	return c.name
}

// Rooms returns the rooms the connection is in, sorted.
func (c *Conn) Rooms() []string {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	out := make([]string, 0, len(c.rooms))
	for name := range c.rooms {
		out = append(out, name)
	}
	sortStrings(out)
	return out
}

// SetName gives the connection a user name. Setting the name it already
// has does nothing; changing it is refused while the connection is in a
// room (ErrInRoom). When the connection is the name's first, presence
// "online" goes to every connection; if the old name had no other
// connection, "offline" goes out for it. It returns the users online.
func (c *Conn) SetName(name string) ([]string, error) {
	h := c.h
	if err := checkName(name, h.cfg.MaxNameLen); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.finish(true)
	if c.detached {
		return nil, ErrClosed
	}
	if c.name == name {
		return sortedKeys(h.users), nil
	}
	if len(c.rooms) > 0 {
		return nil, ErrInRoom
	}
	if h.users[name] >= h.cfg.MaxConnsPerUser {
		return nil, fmt.Errorf("%w: %d connections per user", ErrLimit, h.cfg.MaxConnsPerUser)
	}
	if !c.take(h.cfg.Now()) {
		return nil, ErrRate
	}
	h.dropName(c)
	c.name = name
	h.users[name]++
	set := h.named[name]
	if set == nil {
		set = make(map[*Conn]struct{})
		h.named[name] = set
	}
	set[c] = struct{}{}
	if h.users[name] == 1 {
		h.toAll(&Event{Kind: EventPresence, User: name, State: StateOnline})
	}
	return sortedKeys(h.users), nil
}

// Join puts the connection in room, creating the room if needed. The
// connection needs a name (ErrNoName). Joining a room it is in does
// nothing. When the connection is its user's first in the room, "joined"
// goes to every member of the room, this connection included. It returns
// the room's users.
func (c *Conn) Join(name string) ([]string, error) {
	h := c.h
	if err := checkRoom(name, h.cfg.MaxRoomLen); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.finish(true)
	if c.detached {
		return nil, ErrClosed
	}
	if c.name == "" {
		return nil, ErrNoName
	}
	if r := c.rooms[name]; r != nil {
		return sortedKeys(r.users), nil
	}
	if len(c.rooms) >= h.cfg.MaxRoomsPerConn {
		return nil, fmt.Errorf("%w: %d rooms per connection", ErrLimit, h.cfg.MaxRoomsPerConn)
	}
	if !c.take(h.cfg.Now()) {
		return nil, ErrRate
	}
	r := h.rooms[name]
	if r == nil {
		if len(h.rooms) >= h.cfg.MaxRooms {
			return nil, fmt.Errorf("%w: %d rooms", ErrLimit, h.cfg.MaxRooms)
		}
		r = h.newRoom(name)
		h.rooms[name] = r
	}
	if len(r.members) >= h.cfg.MaxRoomMembers {
		return nil, fmt.Errorf("%w: %d members per room", ErrLimit, h.cfg.MaxRoomMembers)
	}
	h.addMember(r, c)
	c.rooms[name] = r
	r.users[c.name]++
	if r.users[c.name] == 1 {
		h.toRoom(r, &Event{Kind: EventJoined, Room: name, User: c.name}, nil)
	}
	return sortedKeys(r.users), nil
}

// Leave takes the connection out of room (ErrNotInRoom if it is not
// there). When it was its user's last connection in the room, "left" goes
// to the members that remain.
func (c *Conn) Leave(room string) error {
	h := c.h
	if err := checkRoom(room, h.cfg.MaxRoomLen); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.finish(true)
	if c.detached {
		return ErrClosed
	}
	if c.rooms[room] == nil {
		return ErrNotInRoom
	}
	if !c.take(h.cfg.Now()) {
		return ErrRate
	}
	h.leave(c, room)
	return nil
}

// Say sends text to room, which the connection must be in. "said" goes to
// every member of the room except this connection (the user's other
// connections included). The returned Message carries the id and time the
// hub gave it. Say, Join, Leave and a name change share one rate limit per
// connection (Config.Rate and Burst; ErrRate).
func (c *Conn) Say(room, text string) (Message, error) {
	h := c.h
	if err := checkRoom(room, h.cfg.MaxRoomLen); err != nil {
		return Message{}, err
	}
	if err := checkText(text, h.cfg.MaxTextLen); err != nil {
		return Message{}, err
	}
	h.mu.Lock()
	defer h.finish(true)
	if c.detached {
		return Message{}, ErrClosed
	}
	if c.name == "" {
		return Message{}, ErrNoName
	}
	r := c.rooms[room]
	if r == nil {
		return Message{}, ErrNotInRoom
	}
	now := h.cfg.Now()
	if !c.take(now) {
		return Message{}, ErrRate
	}
	m := Message{Room: room, From: c.name, Text: text, ID: h.nextID(), At: now}
	h.toRoom(r, &Event{Kind: EventSaid, Room: room, User: c.name, Text: text, ID: m.ID, At: now}, c)
	return m, nil
}

// Tell sends text to the user named to: "told" goes to every connection
// of that user except this one (so a user may tell their other
// connections). It fails with ErrNoUser when no connection holds the
// name. It shares the rate limit of Say.
func (c *Conn) Tell(to, text string) (Message, error) {
	h := c.h
	if err := checkName(to, h.cfg.MaxNameLen); err != nil {
		return Message{}, err
	}
	if err := checkText(text, h.cfg.MaxTextLen); err != nil {
		return Message{}, err
	}
	h.mu.Lock()
	defer h.finish(true)
	if c.detached {
		return Message{}, ErrClosed
	}
	if c.name == "" {
		return Message{}, ErrNoName
	}
	if len(h.named[to]) == 0 {
		return Message{}, fmt.Errorf("%w: %s", ErrNoUser, to)
	}
	now := h.cfg.Now()
	if !c.take(now) {
		return Message{}, ErrRate
	}
	m := Message{From: c.name, To: to, Text: text, ID: h.nextID(), At: now}
	h.toUser(to, &Event{Kind: EventTold, User: c.name, To: to, Text: text, ID: m.ID, At: now}, c)
	return m, nil
}

// SetTopic sets the topic of room, which the connection must be in; ""
// clears it. The topic is one line of text (up to Config.MaxTextLen
// bytes) and lasts while the room has members. "topic" goes to every
// member of the room, this connection included. It shares the rate limit
// of Say.
func (c *Conn) SetTopic(room, topic string) error {
	h := c.h
	if err := checkRoom(room, h.cfg.MaxRoomLen); err != nil {
		return err
	}
	if err := checkTopic(topic, h.cfg.MaxTextLen); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.finish(true)
	if c.detached {
		return ErrClosed
	}
	if c.name == "" {
		return ErrNoName
	}
	r := c.rooms[room]
	if r == nil {
		return ErrNotInRoom
	}
	if !c.take(h.cfg.Now()) {
		return ErrRate
	}
	r.topic = topic
	h.toRoom(r, &Event{Kind: EventTopic, Room: room, User: c.name, Text: topic}, nil)
	return nil
}

// take spends one token of the connection's request bucket; h.mu is held.
func (c *Conn) take(now time.Time) bool {
	cfg := &c.h.cfg
	if d := now.Sub(c.last); d > 0 {
		c.tokens += d.Seconds() * cfg.Rate
		if burst := float64(cfg.Burst); c.tokens > burst {
			c.tokens = burst
		}
	}
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// Close detaches the connection: it leaves its rooms ("left" where it was
// its user's last there) and lets go of its name (presence "offline" where
// it was the last). It is idempotent and does not call the Peer's Close.
func (c *Conn) Close() error {
	h := c.h
	h.mu.Lock()
	defer h.finish(false)
	h.detach(c)
	return nil
}
