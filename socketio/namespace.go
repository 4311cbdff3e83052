package socketio

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Middleware runs before a socket joins a namespace; a non-nil error refuses
// the connection with a CONNECT_ERROR (see ConnectError to add data). It
// runs synchronously on the connection's goroutine.
type Middleware func(s *Socket) error

// Namespace is a communication channel multiplexed over the connections:
// its own middlewares, connection handlers, sockets and rooms. A parent
// namespace (Server.OfFunc, Server.OfRegexp) stands for the dynamic
// namespaces it creates. All methods are safe for concurrent use.
type Namespace struct {
	srv     *Server
	name    string
	adapter Adapter
	ids     atomic.Uint64

	// Dynamic namespaces: a parent has match set; a child has parent set.
	match  func(name string, auth map[string]any) bool
	parent *Namespace

	mu          sync.RWMutex
	sockets     map[string]*Socket
	middlewares []Middleware
	onConn      []func(*Socket)
	onServer    []AnyHandler
	children    []*Namespace
}

func newNamespace(s *Server, name string, match func(string, map[string]any) bool) *Namespace {
	ns := &Namespace{srv: s, name: name, match: match, sockets: make(map[string]*Socket)}
	if match == nil {
		if s.cfg.NewAdapter != nil {
			ns.adapter = s.cfg.NewAdapter(ns)
		} else {
			ns.adapter = NewMemoryAdapter(ns)
		}
	}
	return ns
}

// Name returns the namespace's name ("/chat"); a regexp parent's name is
// its pattern.
func (n *Namespace) Name() string { return n.name }

// Server returns the namespace's server.
func (n *Namespace) Server() *Server { return n.srv }

// Adapter returns the namespace's adapter (nil for a parent namespace).
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Use adds a middleware. Middlewares run in order for each connecting
// socket; on a parent namespace they run for every child.
func (n *Namespace) Use(m Middleware) {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, m)
	n.mu.Unlock()
}

// OnConnection adds a handler called for each socket once it is connected
// (after the middlewares, after CONNECT was sent). Install the socket's
// event handlers there: it runs on the connection's goroutine before any
// event of the socket is delivered.
func (n *Namespace) OnConnection(fn func(s *Socket)) {
	n.mu.Lock()
	n.onConn = append(n.onConn, fn)
	n.mu.Unlock()
}

// Socket returns the socket id connected to this namespace on this server.
func (n *Namespace) Socket(id string) (*Socket, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	s, ok := n.sockets[id]
	return s, ok
}

// Len returns the number of sockets connected to the namespace here.
func (n *Namespace) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

func (n *Namespace) nextID() uint64 { return n.ids.Add(1) - 1 }

func (n *Namespace) addChild(c *Namespace) {
	n.mu.Lock()
	n.children = append(n.children, c)
	n.mu.Unlock()
}

// chain returns the middlewares and connection handlers: a child's parent's
// first, then its own.
func (n *Namespace) chain() ([]Middleware, []func(*Socket)) {
	var mws []Middleware
	var hs []func(*Socket)
	if n.parent != nil {
		mws, hs = n.parent.chain()
	}
	n.mu.RLock()
	mws = append(mws, n.middlewares...)
	hs = append(hs, n.onConn...)
	n.mu.RUnlock()
	return mws, hs
}

func (n *Namespace) targets() []*Namespace {
	if n.match == nil {
		return []*Namespace{n}
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return append([]*Namespace(nil), n.children...)
}

func (n *Namespace) op() BroadcastOperator { return BroadcastOperator{ns: n} }

// To returns an operator targeting the sockets in any of rooms.
func (n *Namespace) To(rooms ...string) BroadcastOperator { return n.op().To(rooms...) }

// In is To.
func (n *Namespace) In(rooms ...string) BroadcastOperator { return n.op().To(rooms...) }

// Except returns an operator excluding the sockets in any of rooms.
func (n *Namespace) Except(rooms ...string) BroadcastOperator { return n.op().Except(rooms...) }

// Volatile returns an operator whose packets may be dropped for receivers
// whose queue is full.
func (n *Namespace) Volatile() BroadcastOperator { return n.op().Volatile() }

// Local returns an operator restricted to this node.
func (n *Namespace) Local() BroadcastOperator { return n.op().Local() }

// Timeout returns an operator whose EmitWithAck waits at most d.
func (n *Namespace) Timeout(d time.Duration) BroadcastOperator { return n.op().Timeout(d) }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.op().Emit(event, args...) }

// EmitWithAck sends an event to every socket and collects their
// acknowledgements; see BroadcastOperator.EmitWithAck.
func (n *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([][]any, error) {
	return n.op().EmitWithAck(ctx, event, args...)
}

// FetchSockets returns the sockets of the namespace.
func (n *Namespace) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return n.op().FetchSockets(ctx)
}

// SocketsJoin makes every socket join rooms.
func (n *Namespace) SocketsJoin(rooms ...string) { n.op().SocketsJoin(rooms...) }

// SocketsLeave makes every socket leave rooms.
func (n *Namespace) SocketsLeave(rooms ...string) { n.op().SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket, closing their connections
// when close is true.
func (n *Namespace) DisconnectSockets(close bool) { n.op().DisconnectSockets(close) }

// ServerSideEmit sends an event to the same namespace on the other servers
// of a cluster, through the adapter (the in-memory adapter has no other
// server: nothing happens).
func (n *Namespace) ServerSideEmit(event string, args ...any) error {
	data, err := eventData(event, args)
	if err != nil {
		return err
	}
	if n.adapter == nil {
		return nil
	}
	return n.adapter.ServerSideEmit(data)
}

// OnServerSideEmit adds a handler of the events other servers send with
// ServerSideEmit. It runs on the adapter's goroutine.
func (n *Namespace) OnServerSideEmit(h AnyHandler) {
	n.mu.Lock()
	n.onServer = append(n.onServer, h)
	n.mu.Unlock()
}

// ReceiveServerSideEmit is for cluster adapters: it hands an event another
// server sent (the event name, then its arguments) to the OnServerSideEmit
// handlers.
func (n *Namespace) ReceiveServerSideEmit(data []any) {
	if len(data) == 0 {
		return
	}
	ev, _ := data[0].(string)
	n.mu.RLock()
	hs := n.onServer
	n.mu.RUnlock()
	for _, h := range hs {
		h(ev, data[1:])
	}
}
