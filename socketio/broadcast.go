package socketio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// BroadcastOperator selects receivers in a namespace: rooms, exceptions and
// flags. It is an immutable value; each method returns a new operator, so
// one operator may be reused and shared between goroutines.
type BroadcastOperator struct {
	ns     *Namespace
	rooms  []string
	except []string
	flags  BroadcastFlags
}

// To adds rooms: the operator targets the sockets in any of its rooms.
func (b BroadcastOperator) To(rooms ...string) BroadcastOperator {
	b.rooms = append(slices.Clip(b.rooms), rooms...)
	return b
}

// In is To.
func (b BroadcastOperator) In(rooms ...string) BroadcastOperator { return b.To(rooms...) }

// Except excludes the sockets in any of rooms.
func (b BroadcastOperator) Except(rooms ...string) BroadcastOperator {
	b.except = append(slices.Clip(b.except), rooms...)
	return b
}

// Volatile marks the packets droppable for receivers whose queue is full.
func (b BroadcastOperator) Volatile() BroadcastOperator {
	b.flags.Volatile = true
	return b
}

// Local restricts the operator to this node (for cluster adapters).
func (b BroadcastOperator) Local() BroadcastOperator {
	b.flags.Local = true
	return b
}

// Timeout bounds EmitWithAck's wait to d.
func (b BroadcastOperator) Timeout(d time.Duration) BroadcastOperator {
	b.flags.Timeout = d
	return b
}

func (b BroadcastOperator) opts() *BroadcastOptions {
	return &BroadcastOptions{Rooms: b.rooms, Except: b.except, Flags: b.flags}
}

func eventData(event string, args []any) ([]any, error) {
	if reservedEvents[event] {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data := make([]any, 0, 1+len(args))
	data = append(data, event)
	return append(data, args...), nil
}

var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

// Emit sends an event to the selected sockets. The packet is encoded once
// whatever the number of receivers. []byte arguments (also nested in []any
// and map[string]any) travel as binary attachments. A receiver whose queue
// is full is disconnected (counted in Stats.SlowConsumers) unless the
// operator is Volatile, in which case the packet is dropped for it.
func (b BroadcastOperator) Emit(event string, args ...any) error {
	data, err := eventData(event, args)
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range b.ns.targets() {
		p := &Packet{Type: PacketEvent, Namespace: ns.name, Data: data}
		if err := ns.adapter.Broadcast(p, b.opts()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// EmitWithAck sends an event to the selected sockets and waits for every
// one to acknowledge, for at most the operator's Timeout and until ctx is
// done. It returns the arguments of each acknowledgement, in arrival order.
// When some did not come, it returns those that did and an error wrapping
// ErrAckTimeout (and the ctx error when ctx ended the wait); receivers that
// disconnected meanwhile make it wrap ErrDisconnected.
//
// Acknowledgements arrive on the receivers' connection goroutines: calling
// EmitWithAck from an event handler blocks that connection until it
// returns, and an acknowledgement expected over that same connection only
// arrives after the wait ends.
func (b BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([][]any, error) {
	data, err := eventData(event, args)
	if err != nil {
		return nil, err
	}
	if b.flags.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.flags.Timeout)
		defer cancel()
	}
	col := &ackCollector{done: make(chan struct{})}
	targets := b.ns.targets()
	col.pendingCounts = len(targets)
	for _, ns := range targets {
		p := &Packet{Type: PacketEvent, Namespace: ns.name, Data: data}
		if err := ns.adapter.BroadcastWithAck(p, b.opts(), col.count, col.ack); err != nil {
			col.count(0)
			return nil, err
		}
	}
	if len(targets) == 0 {
		return nil, nil
	}
	select {
	case <-col.done:
	case <-ctx.Done():
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	col.closed = true
	res := col.responses
	switch {
	case col.isDone():
		if col.disconnected > 0 {
			return res, fmt.Errorf("%w: %d receivers left before acknowledging", ErrDisconnected, col.disconnected)
		}
		return res, nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return res, fmt.Errorf("%w: %d of %d acknowledged: %w", ErrAckTimeout, len(res), col.expected, ctx.Err())
	default:
		return res, ctx.Err()
	}
}

type ackCollector struct {
	mu            sync.Mutex
	pendingCounts int // clientCount calls still to come
	expected      int
	got           int // acks and disconnects
	disconnected  int
	responses     [][]any
	done          chan struct{}
	doneClosed    bool
	closed        bool
}

func (c *ackCollector) isDone() bool { return c.pendingCounts == 0 && c.got >= c.expected }

func (c *ackCollector) check() {
	if !c.doneClosed && c.isDone() {
		c.doneClosed = true
		close(c.done)
	}
}

func (c *ackCollector) count(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pendingCounts--
	c.expected += n
	c.check()
}

func (c *ackCollector) ack(args []any, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.got++
	if err != nil {
		c.disconnected++
	} else {
		c.responses = append(c.responses, args)
	}
	c.check()
}

// FetchSockets returns the selected sockets.
func (b BroadcastOperator) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	var out []*RemoteSocket
	for _, ns := range b.ns.targets() {
		ss, err := ns.adapter.FetchSockets(ctx, b.opts())
		if err != nil {
			return out, err
		}
		out = append(out, ss...)
	}
	return out, nil
}

// SocketsJoin makes the selected sockets join rooms.
func (b BroadcastOperator) SocketsJoin(rooms ...string) {
	for _, ns := range b.ns.targets() {
		ns.adapter.AddSockets(b.opts(), rooms)
	}
}

// SocketsLeave makes the selected sockets leave rooms.
func (b BroadcastOperator) SocketsLeave(rooms ...string) {
	for _, ns := range b.ns.targets() {
		ns.adapter.DelSockets(b.opts(), rooms)
	}
}

// DisconnectSockets disconnects the selected sockets, closing their
// connections when close is true.
func (b BroadcastOperator) DisconnectSockets(close bool) {
	for _, ns := range b.ns.targets() {
		ns.adapter.DisconnectSockets(b.opts(), close)
	}
}
