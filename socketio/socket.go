package socketio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/socketio/internal/parser"
)

// EventHandler handles an incoming event. args are the event's arguments
// decoded as encoding/json does into an any (float64, string, bool, nil,
// []any, map[string]any), binary attachments as []byte. ack is nil unless
// the client asked for an acknowledgement; calling it sends one (only the
// first call counts).
//
// Handlers run synchronously on the connection's goroutine, in arrival
// order: a slow handler delays the next packets of that connection (of all
// its namespaces) but no other connection. Do expensive work elsewhere.
type EventHandler func(args []any, ack AckFunc)

// AckFunc sends an acknowledgement with args. It returns ErrDisconnected
// when the socket is gone.
type AckFunc func(args ...any) error

// AnyHandler is a catch-all listener: it sees every incoming event (OnAny)
// or every outgoing one (OnAnyOutgoing), before the event's own handler.
type AnyHandler func(event string, args []any)

// Handshake holds the details of the connection that created a socket.
type Handshake struct {
	Header  http.Header
	Time    time.Time
	Address string // remote address
	Secure  bool
	URL     string
	Query   url.Values
	// Auth is the CONNECT packet's payload (socket.io-client's auth
	// option), nil when absent.
	Auth map[string]any
}

// maxPendingAcks bounds the acknowledgements one socket may owe.
const maxPendingAcks = 4096

// Socket is one client's connection to one namespace. All its methods are
// safe for concurrent use. Handlers set with On, OnAny, OnDisconnect run on
// the connection's goroutine (see EventHandler); install them in the
// namespace's OnConnection handler.
type Socket struct {
	ns   *Namespace
	conn *conn
	id   string
	pid  string

	// The Handshake is built on first use (guarded by mu), from the
	// connection's request and these: an idle socket whose Handshake
	// nobody reads keeps no parsed query nor URL text.
	handshake *Handshake
	auth      map[string]any
	connTime  int64 // Unix nanoseconds

	connected atomic.Bool
	hasAnyOut atomic.Bool
	recovered bool

	mu       sync.Mutex
	data     any
	handlers []eventHandler // few per socket: a slice is smaller than a map
	more     *listeners     // made on first use: most sockets have none
	acks     map[uint64]func([]any, error)
}

// listeners are a socket's less common handlers, kept apart so that a
// socket without them stays small.
type listeners struct {
	anyIn, anyOut   []AnyHandler
	onDisconnect    []func(reason string)
	onDisconnecting []func(reason string)
}

// moreLocked returns s.more, made if needed; s.mu is held.
func (s *Socket) moreLocked() *listeners {
	if s.more == nil {
		s.more = &listeners{}
	}
	return s.more
}

// ID returns the socket's id, also the name of its own room.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.ns }

// Handshake returns the details of the socket's connection.
func (s *Socket) Handshake() *Handshake {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handshake == nil {
		s.handshake = s.conn.handshake(s.auth, time.Unix(0, s.connTime))
		s.auth = nil
	}
	return s.handshake
}

// Recovered reports whether the socket's state (id, rooms, data) was
// restored by connection state recovery, with its missed packets sent.
func (s *Socket) Recovered() bool { return s.recovered }

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool { return s.connected.Load() }

// Transport returns the connection's current transport, "polling" or
// "websocket".
func (s *Socket) Transport() string { return s.conn.ec.Transport() }

// Data returns the per-socket data set with SetData (kept across a
// recovered reconnection).
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData sets the per-socket data.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// On sets the handler of event, replacing any previous one.
func (s *Socket) On(event string, h EventHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.handlers {
		if s.handlers[i].event == event {
			s.handlers[i].h = h
			return
		}
	}
	s.handlers = append(s.handlers, eventHandler{event, h})
}

// eventHandler is one handler set with On.
type eventHandler struct {
	event string
	h     EventHandler
}

// handlerLocked returns the handler of event, or nil; s.mu is held.
func (s *Socket) handlerLocked(event string) EventHandler {
	for i := range s.handlers {
		if s.handlers[i].event == event {
			return s.handlers[i].h
		}
	}
	return nil
}

// Off removes the handler of event.
func (s *Socket) Off(event string) {
	s.mu.Lock()
	s.handlers = slices.DeleteFunc(s.handlers, func(e eventHandler) bool { return e.event == event })
	s.mu.Unlock()
}

// OnAny adds a catch-all listener of incoming events.
func (s *Socket) OnAny(h AnyHandler) {
	s.mu.Lock()
	m := s.moreLocked()
	m.anyIn = append(m.anyIn, h)
	s.mu.Unlock()
}

// OnAnyOutgoing adds a catch-all listener of outgoing events (emits and
// broadcasts reaching this socket). It runs on the emitting goroutine.
func (s *Socket) OnAnyOutgoing(h AnyHandler) {
	s.mu.Lock()
	m := s.moreLocked()
	m.anyOut = append(m.anyOut, h)
	s.hasAnyOut.Store(true)
	s.mu.Unlock()
}

// OnDisconnect adds a handler called once when the socket disconnects, with
// the reason: "server namespace disconnect", "client namespace disconnect",
// "transport close", "transport error", "ping timeout", "parse error",
// "forced close", "server shutting down", "forced server close". The socket
// has left its rooms by then.
func (s *Socket) OnDisconnect(fn func(reason string)) {
	s.mu.Lock()
	m := s.moreLocked()
	m.onDisconnect = append(m.onDisconnect, fn)
	s.mu.Unlock()
}

// OnDisconnecting adds a handler called when the socket is about to
// disconnect, while it is still in its rooms.
func (s *Socket) OnDisconnecting(fn func(reason string)) {
	s.mu.Lock()
	m := s.moreLocked()
	m.onDisconnecting = append(m.onDisconnecting, fn)
	s.mu.Unlock()
}

// Join adds the socket to rooms.
func (s *Socket) Join(rooms ...string) { s.ns.adapter.AddAll(s.id, rooms) }

// Leave removes the socket from room.
func (s *Socket) Leave(room string) { s.ns.adapter.Del(s.id, room) }

// Rooms returns the socket's rooms, its own room (its id) included.
func (s *Socket) Rooms() []string { return s.ns.adapter.SocketRooms(s.id) }

// To returns an operator targeting rooms, excluding this socket.
func (s *Socket) To(rooms ...string) BroadcastOperator {
	return s.ns.op().Except(s.id).To(rooms...)
}

// In is To.
func (s *Socket) In(rooms ...string) BroadcastOperator { return s.To(rooms...) }

// Except returns an operator targeting every socket of the namespace but
// this one and those in rooms.
func (s *Socket) Except(rooms ...string) BroadcastOperator {
	return s.ns.op().Except(s.id).Except(rooms...)
}

// Broadcast returns an operator targeting every socket of the namespace but
// this one.
func (s *Socket) Broadcast() BroadcastOperator { return s.ns.op().Except(s.id) }

// Volatile returns an operator targeting this socket only, whose packets
// are dropped when its queue is full.
func (s *Socket) Volatile() BroadcastOperator { return s.ns.op().To(s.id).Volatile() }

// Emit sends an event to this socket. []byte arguments travel as binary
// attachments. It never blocks: when the connection's queue is full the
// connection is closed (a slow consumer) and Emit returns the error.
func (s *Socket) Emit(event string, args ...any) error {
	if !s.connected.Load() {
		return ErrDisconnected
	}
	data, err := eventData(event, args)
	if err != nil {
		return err
	}
	p := &Packet{Type: PacketEvent, Namespace: s.ns.name, Data: data}
	if s.ns.srv.cfg.ConnectionStateRecovery != nil {
		// Through the adapter, so the packet gets an offset and is kept.
		return s.ns.adapter.Broadcast(p, &BroadcastOptions{Rooms: []string{s.id}})
	}
	s.notifyOutgoing(data)
	return s.sendPacket(p, false)
}

// EmitWithAck sends an event and waits for the client's acknowledgement
// until ctx is done. On ctx's deadline the error wraps ErrAckTimeout and
// the ctx error; when the socket disconnects first, ErrDisconnected.
//
// The acknowledgement arrives on the connection's goroutine, so calling
// EmitWithAck from one of this socket's handlers can only end by ctx: call
// it from another goroutine.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) ([]any, error) {
	data, err := eventData(event, args)
	if err != nil {
		return nil, err
	}
	type result struct {
		args []any
		err  error
	}
	ch := make(chan result, 1)
	id := s.ns.nextID()
	if !s.addAck(id, func(a []any, err error) { ch <- result{a, err} }) {
		return nil, ErrDisconnected
	}
	s.notifyOutgoing(data)
	if err := s.sendPacket(&Packet{Type: PacketEvent, Namespace: s.ns.name, ID: id, HasID: true, Data: data}, false); err != nil {
		s.removeAck(id)
		return nil, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		s.removeAck(id)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: %w", ErrAckTimeout, ctx.Err())
		}
		return nil, ctx.Err()
	}
}

// Disconnect disconnects the socket from its namespace (reason "server
// namespace disconnect"); with close true it closes the whole connection,
// disconnecting its sockets of every namespace. Disconnect handlers run on
// the calling goroutine.
func (s *Socket) Disconnect(close bool) {
	if !s.connected.Load() {
		return
	}
	if close {
		s.conn.disconnectAll()
		return
	}
	_ = s.sendPacket(&Packet{Type: PacketDisconnect, Namespace: s.ns.name}, false)
	s.onClose("server namespace disconnect")
}

// sendConnect sends the CONNECT reply, alone in its write (writeAlone).
func (s *Socket) sendConnect(reply map[string]any) error {
	msgs, err := encodePacket(&Packet{Type: PacketConnect, Namespace: s.ns.name, Data: reply})
	if err != nil {
		return err
	}
	return s.conn.writeAlone(msgs[0])
}

func (s *Socket) sendPacket(p *Packet, volatile bool) error {
	msgs, err := encodePacket(p)
	if err != nil {
		return err
	}
	return s.conn.write(msgs, volatile)
}

// addAck registers the acknowledgement id. When maxPendingAcks are owed
// (clients that never answer broadcasts whose wait ended), the oldest is
// dropped and told ErrAckTimeout.
func (s *Socket) addAck(id uint64, fn func([]any, error)) bool {
	s.mu.Lock()
	if !s.connected.Load() {
		s.mu.Unlock()
		return false
	}
	if s.acks == nil {
		s.acks = make(map[uint64]func([]any, error))
	}
	var evicted func([]any, error)
	if len(s.acks) >= maxPendingAcks {
		oldest := uint64(1<<64 - 1)
		for k := range s.acks {
			oldest = min(oldest, k)
		}
		evicted = s.acks[oldest]
		delete(s.acks, oldest)
	}
	s.acks[id] = fn
	s.mu.Unlock()
	if evicted != nil {
		evicted(nil, ErrAckTimeout)
	}
	return true
}

func (s *Socket) removeAck(id uint64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.mu.Unlock()
}

func (s *Socket) notifyOutgoing(data []any) {
	if !s.hasAnyOut.Load() || len(data) == 0 {
		return
	}
	s.mu.Lock()
	hs := s.more.anyOut // hasAnyOut: more is set
	s.mu.Unlock()
	ev, _ := data[0].(string)
	for _, h := range hs {
		h(ev, data[1:])
	}
}

// onPacket handles a packet for this socket, on the connection goroutine.
func (s *Socket) onPacket(p *parser.Packet) {
	switch p.Type {
	case parser.Event, parser.BinaryEvent:
		s.onEvent(p)
	case parser.Ack, parser.BinaryAck:
		s.mu.Lock()
		fn := s.acks[p.ID]
		delete(s.acks, p.ID)
		s.mu.Unlock()
		if fn != nil {
			args, _ := p.Data.([]any)
			fn(args, nil)
		}
	case parser.Disconnect:
		s.onClose("client namespace disconnect")
	}
}

func (s *Socket) onEvent(p *parser.Packet) {
	data := p.Data.([]any) // validated by the parser: non-empty
	var event string
	switch v := data[0].(type) {
	case string:
		event = v
	case float64:
		event = strconv.FormatFloat(v, 'f', -1, 64)
	}
	args := data[1:]
	var ack AckFunc
	if p.HasID {
		id := p.ID
		var sent atomic.Bool
		ack = func(a ...any) error {
			if !sent.CompareAndSwap(false, true) {
				return nil
			}
			if !s.connected.Load() {
				return ErrDisconnected
			}
			if a == nil {
				a = []any{}
			}
			return s.sendPacket(&Packet{Type: PacketAck, Namespace: s.ns.name, ID: id, HasID: true, Data: a}, false)
		}
	}
	s.mu.Lock()
	var anyIn []AnyHandler
	if s.more != nil {
		anyIn = s.more.anyIn
	}
	h := s.handlerLocked(event)
	s.mu.Unlock()
	for _, fn := range anyIn {
		fn(event, args)
	}
	if h != nil {
		h(args, ack)
	}
}

// onClose disconnects the socket with reason; it runs at most once.
func (s *Socket) onClose(reason string) {
	if !s.connected.CompareAndSwap(true, false) {
		return
	}
	var ing, hs []func(reason string)
	s.mu.Lock()
	if s.more != nil {
		ing = s.more.onDisconnecting
	}
	s.mu.Unlock()
	for _, fn := range ing {
		fn(reason)
	}
	if s.ns.srv.cfg.ConnectionStateRecovery != nil && recoverable[reason] {
		s.ns.adapter.PersistSession(&Session{SID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data()})
	}
	s.ns.adapter.DelAll(s.id)
	s.ns.remove(s)
	s.conn.remove(s)
	s.mu.Lock()
	acks := s.acks
	s.acks = nil
	if s.more != nil {
		hs = s.more.onDisconnect
	}
	s.mu.Unlock()
	for _, fn := range acks {
		fn(nil, ErrDisconnected)
	}
	for _, fn := range hs {
		fn(reason)
	}
}

var recoverable = map[string]bool{
	"transport error": true, "transport close": true, "forced close": true,
	"ping timeout": true, "server shutting down": true, "forced server close": true,
}

// RemoteSocket is a snapshot of a socket returned by FetchSockets, with
// methods acting on the socket. The socket may live on another node of a
// cluster: its methods then go through the namespace's adapter.
type RemoteSocket struct {
	ID        string
	Handshake *Handshake
	Rooms     []string
	Data      any

	ns *Namespace
	s  *Socket // nil on another node
}

// NewRemoteSocket describes a socket of namespace ns living on another
// node; for cluster adapters implementing FetchSockets.
func NewRemoteSocket(ns *Namespace, id string, hs *Handshake, rooms []string, data any) *RemoteSocket {
	return &RemoteSocket{ID: id, Handshake: hs, Rooms: rooms, Data: data, ns: ns}
}

func (s *Socket) remote() *RemoteSocket {
	return &RemoteSocket{ID: s.id, Handshake: s.Handshake(), Rooms: s.Rooms(), Data: s.Data(), ns: s.ns, s: s}
}

// Emit sends an event to the socket.
func (r *RemoteSocket) Emit(event string, args ...any) error {
	if r.s != nil {
		return r.s.Emit(event, args...)
	}
	return r.ns.To(r.ID).Emit(event, args...)
}

// Join adds the socket to rooms.
func (r *RemoteSocket) Join(rooms ...string) {
	if r.s != nil {
		r.s.Join(rooms...)
		return
	}
	r.ns.In(r.ID).SocketsJoin(rooms...)
}

// Leave removes the socket from room.
func (r *RemoteSocket) Leave(room string) {
	if r.s != nil {
		r.s.Leave(room)
		return
	}
	r.ns.In(r.ID).SocketsLeave(room)
}

// Disconnect disconnects the socket (see Socket.Disconnect).
func (r *RemoteSocket) Disconnect(close bool) {
	if r.s != nil {
		r.s.Disconnect(close)
		return
	}
	r.ns.In(r.ID).DisconnectSockets(close)
}
