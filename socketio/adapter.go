package socketio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/socketio/internal/parser"
)

// Packet is a Socket.IO packet as adapters see it. For an EVENT, Data is a
// []any holding the event name then the arguments.
type Packet = parser.Packet

// PacketType is the type of a Packet.
type PacketType = parser.Type

// Packet types of protocol 5.
const (
	PacketConnect      = parser.Connect
	PacketDisconnect   = parser.Disconnect
	PacketEvent        = parser.Event
	PacketAck          = parser.Ack
	PacketConnectError = parser.ConnectError
	PacketBinaryEvent  = parser.BinaryEvent
	PacketBinaryAck    = parser.BinaryAck
)

// BroadcastFlags modify a broadcast.
type BroadcastFlags struct {
	// Volatile packets are dropped for receivers whose queue is full.
	Volatile bool
	// Local restricts a cluster adapter to this node.
	Local bool
	// Timeout bounds the wait for acknowledgements; 0 means the ctx only.
	Timeout time.Duration
}

// BroadcastOptions select the receivers of a broadcast: the sockets in any
// of Rooms (all sockets when Rooms is empty) and in none of Except.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	Flags  BroadcastFlags
}

// Session is the state kept for a disconnected socket when connection
// state recovery is on.
type Session struct {
	SID   string // the socket id, restored
	PID   string // the private session id the client sends back
	Rooms []string
	Data  any
	// MissedPackets are the EVENT payloads (event name, args, offset) the
	// socket missed, filled by RestoreSession.
	MissedPackets [][]any

	disconnectedAt time.Time
}

// Adapter stores the rooms of a namespace and delivers its broadcasts. The
// default, MemoryAdapter, serves one process; a cluster adapter (Redis)
// implements the same methods, usually by embedding a MemoryAdapter for
// local delivery. It mirrors socket.io-adapter's Adapter class.
//
// Methods are called from many goroutines and must be safe for concurrent
// use. They must not call back into the adapter while holding its locks.
type Adapter interface {
	// AddAll adds socket id to rooms.
	AddAll(id string, rooms []string)
	// Del removes socket id from room.
	Del(id, room string)
	// DelAll removes socket id from every room.
	DelAll(id string)
	// Broadcast sends p to the sockets selected by opts.
	Broadcast(p *Packet, opts *BroadcastOptions) error
	// BroadcastWithAck sends p to the selected sockets, each expected to
	// acknowledge: clientCount is called once with the number of receivers,
	// ack once per receiver (args, or err when it disconnected). ack may run
	// before clientCount, on any goroutine.
	BroadcastWithAck(p *Packet, opts *BroadcastOptions, clientCount func(n int), ack func(args []any, err error)) error
	// Sockets returns the ids of the sockets in any of rooms (all when
	// rooms is empty).
	Sockets(rooms []string) []string
	// SocketRooms returns the rooms of socket id.
	SocketRooms(id string) []string
	// FetchSockets returns the sockets selected by opts.
	FetchSockets(ctx context.Context, opts *BroadcastOptions) ([]*RemoteSocket, error)
	// AddSockets makes the selected sockets join rooms.
	AddSockets(opts *BroadcastOptions, rooms []string)
	// DelSockets makes the selected sockets leave rooms.
	DelSockets(opts *BroadcastOptions, rooms []string)
	// DisconnectSockets disconnects the selected sockets, closing their
	// connection when close is true.
	DisconnectSockets(opts *BroadcastOptions, close bool)
	// ServerSideEmit sends an event to the other nodes of a cluster; a
	// single-node adapter does nothing.
	ServerSideEmit(args []any) error
	// PersistSession keeps the state of a disconnected socket.
	PersistSession(s *Session)
	// RestoreSession returns the session pid with the packets missed since
	// offset, or nil when it expired or offset is unknown.
	RestoreSession(pid, offset string) (*Session, error)
	// Close releases the adapter's resources.
	Close() error
}

// MemoryAdapter is the in-memory Adapter of one process. With connection
// state recovery on it also keeps disconnected sessions and recent
// broadcasts, pruned lazily (no goroutine). It is safe for concurrent use.
type MemoryAdapter struct {
	ns *Namespace

	mu    sync.RWMutex
	rooms map[string]map[string]*member
	sids  map[string]*member

	// Recovery (nil rec: off).
	rec       *RecoveryConfig
	smu       sync.Mutex
	sessions  map[string]*Session
	packets   []storedPacket
	prefix    string
	offsetSeq uint64
	lastPrune time.Time
}

// member is a socket id's entry: its rooms, and the local socket once it
// is reachable (bound by the namespace after CONNECT; an adapter wrapping a
// MemoryAdapter without embedding it is not bound, and sockets are then
// looked up in the namespace). Lock order: MemoryAdapter.mu, then
// Namespace.mu.
//
// The room named by the socket's own id is not stored in rooms nor in the
// adapter's room map (it would cost an idle socket a map of its own): own
// records that the socket is in it, and a lookup of a room also finds the
// socket whose id it is in sids. rooms is nil until another room is
// joined.
type member struct {
	rooms map[string]struct{}
	s     *Socket
	own   bool
}

type storedPacket struct {
	id        string
	rooms     []string
	except    []string
	data      []any
	emittedAt time.Time
}

var _ Adapter = (*MemoryAdapter)(nil)

// NewMemoryAdapter returns the in-memory adapter of ns.
func NewMemoryAdapter(ns *Namespace) *MemoryAdapter {
	a := &MemoryAdapter{
		ns:    ns,
		rooms: make(map[string]map[string]*member),
		sids:  make(map[string]*member),
	}
	if rc := ns.srv.cfg.ConnectionStateRecovery; rc != nil {
		a.rec = rc
		a.sessions = make(map[string]*Session)
		var b [4]byte
		_, _ = rand.Read(b[:])
		a.prefix = hex.EncodeToString(b[:]) + "-"
	}
	return a
}

// AddAll adds socket id to rooms.
func (a *MemoryAdapter) AddAll(id string, rooms []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.sids[id]
	if m == nil {
		m = &member{}
		a.sids[id] = m
	}
	for _, r := range rooms {
		if r == id {
			m.own = true
			continue
		}
		if m.rooms == nil {
			m.rooms = make(map[string]struct{}, len(rooms))
		}
		m.rooms[r] = struct{}{}
		rm := a.rooms[r]
		if rm == nil {
			rm = make(map[string]*member)
			a.rooms[r] = rm
		}
		rm[id] = m
	}
}

// bind makes the local socket s reachable by broadcasts.
func (a *MemoryAdapter) bind(s *Socket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := a.sids[s.id]; m != nil {
		m.s = s
	}
}

// Del removes socket id from room.
func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := a.sids[id]; m != nil {
		if room == id {
			m.own = false
			return
		}
		delete(m.rooms, room)
	}
	a.delRoomLocked(id, room)
}

// ownLocked returns the member whose own-id room is room, or nil.
func (a *MemoryAdapter) ownLocked(room string) *member {
	if m := a.sids[room]; m != nil && m.own {
		return m
	}
	return nil
}

func (a *MemoryAdapter) delRoomLocked(id, room string) {
	if m := a.rooms[room]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(a.rooms, room)
		}
	}
}

// DelAll removes socket id from every room.
func (a *MemoryAdapter) DelAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := a.sids[id]; m != nil {
		for r := range m.rooms {
			a.delRoomLocked(id, r)
		}
	}
	delete(a.sids, id)
}

// Sockets returns the ids of the sockets in any of rooms, all when empty.
func (a *MemoryAdapter) Sockets(rooms []string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []string
	if len(rooms) == 0 {
		for id := range a.sids {
			out = append(out, id)
		}
		return out
	}
	seen := make(map[string]struct{})
	add := func(id string) {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	for _, r := range rooms {
		if a.ownLocked(r) != nil {
			add(r)
		}
		for id := range a.rooms[r] {
			add(id)
		}
	}
	return out
}

// SocketRooms returns the rooms of socket id.
func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	m := a.sids[id]
	if m == nil {
		return []string{}
	}
	out := make([]string, 0, len(m.rooms)+1)
	if m.own {
		out = append(out, id)
	}
	for r := range m.rooms {
		out = append(out, r)
	}
	return out
}

// selectSockets returns the reachable local sockets selected by opts. No
// lock is held when it returns, so callers may deliver (and so close
// connections).
func (a *MemoryAdapter) selectSockets(opts *BroadcastOptions) []*Socket {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var except map[*member]struct{}
	if len(opts.Except) > 0 {
		except = make(map[*member]struct{})
		for _, r := range opts.Except {
			if m := a.ownLocked(r); m != nil {
				except[m] = struct{}{}
			}
			for _, m := range a.rooms[r] {
				except[m] = struct{}{}
			}
		}
	}
	var out []*Socket
	add := func(id string, m *member) {
		if _, ok := except[m]; ok {
			return
		}
		if s := m.s; s != nil {
			out = append(out, s)
		} else if s, ok := a.ns.Socket(id); ok {
			// Not bound: the adapter is used through another type.
			out = append(out, s)
		}
	}
	switch len(opts.Rooms) {
	case 0:
		out = make([]*Socket, 0, len(a.sids))
		for id, m := range a.sids {
			add(id, m)
		}
	case 1:
		r := opts.Rooms[0]
		rm := a.rooms[r]
		own := a.ownLocked(r)
		if own != nil {
			// A socket's own room: usually it alone.
			out = make([]*Socket, 0, len(rm)+1)
			add(r, own)
		} else {
			out = make([]*Socket, 0, len(rm))
		}
		for id, m := range rm {
			add(id, m)
		}
	default:
		seen := make(map[*member]struct{})
		for _, r := range opts.Rooms {
			if m := a.ownLocked(r); m != nil {
				if _, ok := seen[m]; !ok {
					seen[m] = struct{}{}
					add(r, m)
				}
			}
			for id, m := range a.rooms[r] {
				if _, ok := seen[m]; !ok {
					seen[m] = struct{}{}
					add(id, m)
				}
			}
		}
	}
	return out
}

// Broadcast encodes p once and hands the same messages to every selected
// socket. With recovery on, a non-volatile EVENT without ack id gets an
// offset appended as its last argument and is kept for missed-packet
// replay.
func (a *MemoryAdapter) Broadcast(p *Packet, opts *BroadcastOptions) error {
	if a.rec != nil && (p.Type == PacketEvent || p.Type == PacketBinaryEvent) && !p.HasID && !opts.Flags.Volatile {
		if args, ok := p.Data.([]any); ok {
			p.Data = a.store(args, opts)
		}
	}
	msgs, err := encodePacket(p)
	if err != nil {
		return err
	}
	args, _ := p.Data.([]any)
	for _, s := range a.selectSockets(opts) {
		s.notifyOutgoing(args)
		s.conn.write(msgs, opts.Flags.Volatile)
	}
	return nil
}

// BroadcastWithAck sends p with one ack id to every selected socket.
func (a *MemoryAdapter) BroadcastWithAck(p *Packet, opts *BroadcastOptions, clientCount func(int), ack func([]any, error)) error {
	p.ID, p.HasID = a.ns.nextID(), true
	msgs, err := encodePacket(p)
	if err != nil {
		return err
	}
	args, _ := p.Data.([]any)
	n := 0
	for _, s := range a.selectSockets(opts) {
		if !s.addAck(p.ID, ack) {
			continue
		}
		n++
		s.notifyOutgoing(args)
		s.conn.write(msgs, opts.Flags.Volatile)
	}
	clientCount(n)
	return nil
}

// FetchSockets returns the local sockets selected by opts.
func (a *MemoryAdapter) FetchSockets(_ context.Context, opts *BroadcastOptions) ([]*RemoteSocket, error) {
	ss := a.selectSockets(opts)
	out := make([]*RemoteSocket, len(ss))
	for i, s := range ss {
		out[i] = s.remote()
	}
	return out, nil
}

// AddSockets makes the selected sockets join rooms.
func (a *MemoryAdapter) AddSockets(opts *BroadcastOptions, rooms []string) {
	for _, s := range a.selectSockets(opts) {
		s.Join(rooms...)
	}
}

// DelSockets makes the selected sockets leave rooms.
func (a *MemoryAdapter) DelSockets(opts *BroadcastOptions, rooms []string) {
	for _, s := range a.selectSockets(opts) {
		for _, r := range rooms {
			s.Leave(r)
		}
	}
}

// DisconnectSockets disconnects the selected sockets.
func (a *MemoryAdapter) DisconnectSockets(opts *BroadcastOptions, close bool) {
	for _, s := range a.selectSockets(opts) {
		s.Disconnect(close)
	}
}

// ServerSideEmit does nothing: there is no other node.
func (a *MemoryAdapter) ServerSideEmit([]any) error { return nil }

// Close releases nothing; it exists for the interface.
func (a *MemoryAdapter) Close() error { return nil }

// maxStoredPackets bounds the packets kept for recovery.
const maxStoredPackets = 10000

func (a *MemoryAdapter) store(args []any, opts *BroadcastOptions) []any {
	a.smu.Lock()
	defer a.smu.Unlock()
	a.offsetSeq++
	id := a.prefix + strconv.FormatUint(a.offsetSeq, 36)
	data := make([]any, len(args)+1)
	copy(data, args)
	data[len(args)] = id
	now := time.Now()
	a.pruneLocked(now)
	if len(a.packets) >= maxStoredPackets {
		a.packets = slices.Delete(a.packets, 0, len(a.packets)-maxStoredPackets+1)
	}
	a.packets = append(a.packets, storedPacket{
		id: id, rooms: slices.Clone(opts.Rooms), except: slices.Clone(opts.Except),
		data: data, emittedAt: now,
	})
	return data
}

// pruneLocked drops expired packets and sessions, at most once a second.
func (a *MemoryAdapter) pruneLocked(now time.Time) {
	if now.Sub(a.lastPrune) < time.Second {
		return
	}
	a.lastPrune = now
	threshold := now.Add(-a.rec.maxDuration())
	i := 0
	for i < len(a.packets) && a.packets[i].emittedAt.Before(threshold) {
		i++
	}
	if i > 0 {
		a.packets = slices.Delete(a.packets, 0, i)
	}
	for pid, s := range a.sessions {
		if s.disconnectedAt.Before(threshold) {
			delete(a.sessions, pid)
		}
	}
}

// PersistSession keeps s until MaxDisconnectionDuration passes.
func (a *MemoryAdapter) PersistSession(s *Session) {
	if a.rec == nil {
		return
	}
	a.smu.Lock()
	defer a.smu.Unlock()
	now := time.Now()
	a.pruneLocked(now)
	s.disconnectedAt = now
	a.sessions[s.PID] = s
}

// RestoreSession returns session pid with the packets missed after offset.
func (a *MemoryAdapter) RestoreSession(pid, offset string) (*Session, error) {
	if a.rec == nil {
		return nil, nil
	}
	a.smu.Lock()
	defer a.smu.Unlock()
	s := a.sessions[pid]
	if s == nil {
		return nil, nil
	}
	delete(a.sessions, pid)
	if time.Since(s.disconnectedAt) > a.rec.maxDuration() {
		return nil, nil
	}
	idx := slices.IndexFunc(a.packets, func(p storedPacket) bool { return p.id == offset })
	if idx < 0 {
		return nil, nil
	}
	out := *s
	out.MissedPackets = nil
	for _, p := range a.packets[idx+1:] {
		if includes(s.Rooms, p.rooms, p.except) {
			out.MissedPackets = append(out.MissedPackets, p.data)
		}
	}
	return &out, nil
}

func includes(sessionRooms, rooms, except []string) bool {
	included := len(rooms) == 0
	for _, r := range sessionRooms {
		if slices.Contains(except, r) {
			return false
		}
		if !included && slices.Contains(rooms, r) {
			included = true
		}
	}
	return included
}

// encodePacket encodes p into its engine messages, once.
func encodePacket(p *Packet) ([]engineio.Message, error) {
	text, atts, err := parser.Encode(p)
	if err != nil {
		return nil, err
	}
	msgs := make([]engineio.Message, 1+len(atts))
	msgs[0] = engineio.Message{Data: text}
	for i, b := range atts {
		msgs[i+1] = engineio.Message{Binary: true, Data: b}
	}
	return msgs, nil
}
