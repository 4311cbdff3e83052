package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/socketio"
)

// ServeSocketIO makes ns a door of h: each socket that connects to ns is
// attached to h and speaks the chat protocol described in the package
// documentation. A socket refused by the Hub (ErrLimit, ErrClosed) is
// disconnected at once. Call it before the server accepts connections.
func ServeSocketIO(h *Hub, ns *socketio.Namespace) { serveSocketIO(h, ns, nil) }

// serveSocketIO is ServeSocketIO with a Guard (nil: none) that counts
// connections per address and audits accept, join and leave.
func serveSocketIO(h *Hub, ns *socketio.Namespace, g *Guard) *sioDoor {
	door := &sioDoor{ns: ns}
	ns.OnConnection(func(s *socketio.Socket) {
		release, ok := door.admit(g, s)
		if !ok {
			return
		}
		st := &sioStats{since: time.Now()}
		c, err := h.Attach(sioPeer{s, door, st})
		if err != nil {
			h.log.Debug("socket refused", "sid", s.ID(), "err", err)
			release()
			s.Disconnect(true)
			return
		}
		// Leave the hub's socketio rooms before socketio persists the
		// session for connection state recovery (disconnecting handlers
		// run first): a recovered socket's new Conn is in no room, so it
		// must not be restored into the old ones, even for a moment.
		s.OnDisconnecting(func(string) {
			for _, r := range s.Rooms() {
				if strings.HasPrefix(r, roomKeyPrefix) {
					s.Leave(r)
				}
			}
		})
		s.OnDisconnect(func(string) { c.Close(); release() })
		s.OnAny(func(event string, args []any) {
			st.msgsIn.Add(1)
			st.bytesIn.Add(uint64(len(event)) + argBytes(args, 0))
		})
		s.On("nick", func(args []any, ack socketio.AckFunc) {
			name, ok := stringArg(args)
			if !ok {
				reply(ack, nil, errArg("nick takes a name"))
				return
			}
			online, err := c.SetName(name)
			reply(ack, map[string]any{"nick": name, "online": online}, err)
		})
		s.On("join", func(args []any, ack socketio.AckFunc) {
			room, ok := stringArg(args)
			if !ok {
				reply(ack, nil, errArg("join takes a room"))
				return
			}
			members, err := c.Join(room)
			door.audited(err, "join", s, room)
			reply(ack, map[string]any{"room": room, "members": members, "topic": h.Topic(room)}, err)
		})
		s.On("leave", func(args []any, ack socketio.AckFunc) {
			room, ok := stringArg(args)
			if !ok {
				reply(ack, nil, errArg("leave takes a room"))
				return
			}
			err := c.Leave(room)
			door.audited(err, "leave", s, room)
			reply(ack, map[string]any{"room": room}, err)
		})
		s.On("say", func(args []any, ack socketio.AckFunc) {
			var m map[string]any
			if len(args) > 0 {
				m, _ = args[0].(map[string]any)
			}
			room, ok1 := m["room"].(string)
			text, ok2 := m["text"].(string)
			if !ok1 || !ok2 {
				reply(ack, nil, errArg("say takes {room, text}"))
				return
			}
			msg, err := c.Say(room, text)
			reply(ack, map[string]any{"id": msg.ID, "at": msg.At.UnixMilli()}, err)
		})
		s.On("tell", func(args []any, ack socketio.AckFunc) {
			to, text, ok := pairArg(args, "to", "text")
			if !ok {
				reply(ack, nil, errArg("tell takes {to, text}"))
				return
			}
			msg, err := c.Tell(to, text)
			reply(ack, map[string]any{"id": msg.ID, "at": msg.At.UnixMilli()}, err)
		})
		s.On("topic", func(args []any, ack socketio.AckFunc) {
			room, topic, ok := pairArg(args, "room", "topic")
			if !ok {
				reply(ack, nil, errArg("topic takes {room, topic}"))
				return
			}
			reply(ack, map[string]any{"room": room, "topic": topic}, c.SetTopic(room, topic))
		})
	})
	return door
}

// pairArg reads two string fields of the first argument, an object.
func pairArg(args []any, k1, k2 string) (string, string, bool) {
	var m map[string]any
	if len(args) > 0 {
		m, _ = args[0].(map[string]any)
	}
	v1, ok1 := m[k1].(string)
	v2, ok2 := m[k2].(string)
	return v1, v2, ok1 && ok2
}

func errArg(what string) error { return fmt.Errorf("%w: %s", ErrInvalid, what) }

func stringArg(args []any) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	s, ok := args[0].(string)
	return s, ok
}

// reply acks a request: {ok:true, ...fields} or {ok:false, code, error}.
func reply(ack socketio.AckFunc, fields map[string]any, err error) {
	if ack == nil {
		return
	}
	if err != nil {
		ack(map[string]any{"ok": false, "code": Code(err), "error": err.Error()})
		return
	}
	out := map[string]any{"ok": true}
	for k, v := range fields {
		out[k] = v
	}
	ack(out)
}

// The payloads of the server's events.
type (
	saidPayload struct {
		Room string `json:"room"`
		From string `json:"from"`
		Text string `json:"text"`
		ID   string `json:"id"`
		At   int64  `json:"at"`
	}
	roomPayload struct {
		Room string `json:"room"`
		User string `json:"user"`
	}
	presencePayload struct {
		User  string `json:"user"`
		State string `json:"state"`
	}
	toldPayload struct {
		From string `json:"from"`
		To   string `json:"to"`
		Text string `json:"text"`
		ID   string `json:"id"`
		At   int64  `json:"at"`
	}
	topicPayload struct {
		Room  string `json:"room"`
		User  string `json:"user"`
		Topic string `json:"topic"`
	}
)

// sioDoor holds what the door's peers share: the JSON of the event being
// delivered, encoded once for all its recipients. The Hub calls Deliver
// from one goroutine at a time, so no lock is needed.
type sioDoor struct {
	ns    *socketio.Namespace
	last  *Event
	raw   json.RawMessage
	ids   []string              // socket ids collected for the event being delivered
	stats []*sioStats           // and their counters
	rooms map[string]*roomCount // by key: the rooms the door's sockets are in
	local atomic.Pointer[string]
	audit *slog.Logger // nil: none
}

// add collects p's socket for the event being delivered.
func (d *sioDoor) add(groups []peerGroup, p Peer) []peerGroup {
	if len(d.ids) == 0 {
		groups = append(groups, d)
	}
	sp := p.(sioPeer)
	d.ids = append(d.ids, sp.s.ID())
	d.stats = append(d.stats, sp.st)
	return groups
}

// roomCount counts what a room delivered to each of the door's members:
// a member's counters are its own plus, for each of its rooms, how much
// the room's grew since it joined (sioStats.marks).
type roomCount struct {
	msgs, bytes atomic.Uint64
	members     int // the door's sockets in the room; only the drainer uses it
}

// join puts p's socket in the room key (a socketio room of the door's
// namespace) and marks the room's counters for it.
func (d *sioDoor) join(p Peer, key string) {
	sp := p.(sioPeer)
	if !sp.s.Connected() {
		return // gone: its drop follows
	}
	sp.s.Join(key)
	rc := d.rooms[key]
	if rc == nil {
		if d.rooms == nil {
			d.rooms = make(map[string]*roomCount)
		}
		rc = &roomCount{}
		d.rooms[key] = rc
	}
	sp.st.mu.Lock()
	if sp.st.marks == nil {
		sp.st.marks = make(map[string]roomMark)
	}
	if _, ok := sp.st.marks[key]; !ok {
		sp.st.marks[key] = roomMark{rc: rc, msgs: rc.msgs.Load(), bytes: rc.bytes.Load()}
		rc.members++
	}
	sp.st.mu.Unlock()
}

// leave takes p's socket out of the room key.
func (d *sioDoor) leave(p Peer, key string) {
	sp := p.(sioPeer)
	sp.s.Leave(key)
	if sp.st.unmark(key) {
		if rc := d.rooms[key]; rc != nil {
			if rc.members--; rc.members <= 0 {
				delete(d.rooms, key)
			}
		}
	}
}

// drop forgets p's socket, detached from the Hub. A join that raced
// with the socket's disconnection may have put its id back in the
// adapter: unless a recovered socket took the id over, it leaves every
// room there.
func (d *sioDoor) drop(p Peer) {
	sp := p.(sioPeer)
	for _, key := range sp.st.unmarkAll() {
		if rc := d.rooms[key]; rc != nil {
			if rc.members--; rc.members <= 0 {
				delete(d.rooms, key)
			}
		}
	}
	if _, live := d.ns.Socket(sp.s.ID()); !live {
		d.ns.Adapter().DelAll(sp.s.ID())
	}
}

// toRoom emits ev once to the door's sockets in the room key but skip's:
// socketio encodes the packet once and hands it to every socket's queue,
// as a handler's own broadcast does.
func (d *sioDoor) toRoom(key string, ev *Event, skip Peer) {
	raw, err := d.encode(ev)
	if err != nil {
		return
	}
	n := uint64(len(ev.Kind) + len(raw))
	if rc := d.rooms[key]; rc != nil {
		rc.msgs.Add(1)
		rc.bytes.Add(n)
	}
	op := d.ns.To(key)
	if sp, ok := skip.(sioPeer); ok && sp.door == d {
		op = op.Except(sp.s.ID())
		// The room counted it for the skipped member too: take it back
		// (after the room's add, so a reader never sees less than 0).
		sp.st.msgsOut.Add(^uint64(0))
		sp.st.bytesOut.Add(-n)
	}
	op.Emit(string(ev.Kind), raw)
}

// flush emits ev to the collected sockets at once: socketio encodes the
// packet once and closes any connection whose queue is full (whose close
// handler then detaches it from the Hub).
func (d *sioDoor) flush(ev *Event) {
	ids, stats := d.ids, d.stats
	d.ids, d.stats = d.ids[:0], d.stats[:0]
	raw, err := d.encode(ev)
	if err != nil {
		return
	}
	for _, st := range stats {
		st.count(ev, raw)
	}
	clear(stats)
	d.ns.To(ids...).Emit(string(ev.Kind), raw)
}

func (d *sioDoor) encode(ev *Event) (json.RawMessage, error) {
	if ev == d.last {
		return d.raw, nil
	}
	var payload any
	switch ev.Kind {
	case EventSaid:
		payload = saidPayload{Room: ev.Room, From: ev.User, Text: ev.Text, ID: ev.ID, At: ev.At.UnixMilli()}
	case EventJoined, EventLeft:
		payload = roomPayload{Room: ev.Room, User: ev.User}
	case EventPresence:
		payload = presencePayload{User: ev.User, State: ev.State}
	case EventTold:
		payload = toldPayload{From: ev.User, To: ev.To, Text: ev.Text, ID: ev.ID, At: ev.At.UnixMilli()}
	case EventTopic:
		payload = topicPayload{Room: ev.Room, User: ev.User, Topic: ev.Text}
	default:
		return nil, errors.New("hub: unknown event kind " + string(ev.Kind))
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("hub: encode %s: %w", ev.Kind, err)
	}
	d.last, d.raw = ev, raw
	return raw, nil
}

// sioPeer is the Socket.IO door's Peer.
type sioPeer struct {
	s    *socketio.Socket
	door *sioDoor
	st   *sioStats
}

// Deliver emits ev. Emit never blocks; when the connection's queue is full
// socketio closes the connection and Emit fails.
func (p sioPeer) Deliver(ev *Event) error {
	raw, err := p.door.encode(ev)
	if err != nil {
		return err
	}
	p.st.count(ev, raw)
	return p.s.Emit(string(ev.Kind), raw)
}

// Close disconnects the socket's whole connection.
func (p sioPeer) Close() { p.s.Disconnect(true) }

func (p sioPeer) group() peerGroup { return p.door }
