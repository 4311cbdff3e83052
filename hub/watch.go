package hub

import (
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/monitor"
)

// Watched is implemented by a Peer that reports its connection's state
// (door, addresses, counters, queue depth) for Hub.Conns. The Hub fills in
// the user and rooms. Watch must be safe for concurrent use and must not
// call the Hub.
type Watched interface {
	Watch() monitor.Conn
}

var _ monitor.Source = (*Hub)(nil)

// Conns lists every attached connection as a monitor.Conn, so a Hub is a
// monitor.Source: the door's report (see Watched) with the connection's
// user and rooms. Peers that do not implement Watched are listed with
// Door "?" and no counters.
func (h *Hub) Conns() []monitor.Conn {
	type item struct {
		peer  Peer
		name  string
		rooms []string
	}
	h.mu.Lock()
	items := make([]item, 0, len(h.conns))
	for c := range h.conns {
		it := item{peer: c.peer, name: c.name}
		if len(c.rooms) > 0 {
			it.rooms = make([]string, 0, len(c.rooms))
			for r := range c.rooms {
				it.rooms = append(it.rooms, r)
			}
		}
		items = append(items, it)
	}
	h.mu.Unlock()
	out := make([]monitor.Conn, len(items))
	for i, it := range items {
		sortStrings(it.rooms)
		var mc monitor.Conn
		if w, ok := it.peer.(Watched); ok {
			mc = w.Watch()
		} else {
			mc = monitor.Conn{Proto: "?", Door: "?", State: "open"}
		}
		mc.User, mc.Rooms = it.name, it.rooms
		out[i] = mc
	}
	return out
}

// sioStats are the counters of one Socket.IO connection of the door.
// Messages are chat events; bytes are the event names and JSON payloads
// (incoming: the lengths of the event's strings, an estimate without the
// Socket.IO framing).
type sioStats struct {
	since                              time.Time
	msgsIn, msgsOut, bytesIn, bytesOut atomic.Uint64 // out: not counting the rooms in marks

	mu    sync.Mutex
	marks map[string]roomMark // room key → the room's counters when the socket joined
}

// roomMark is a room's counters when a socket joined it.
type roomMark struct {
	rc          *roomCount
	msgs, bytes uint64
}

// out returns the messages and bytes sent: the socket's own counters and
// what its rooms sent since it joined them.
func (st *sioStats) out() (msgs, bytes uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	msgs, bytes = st.msgsOut.Load(), st.bytesOut.Load()
	for _, m := range st.marks {
		msgs += m.rc.msgs.Load() - m.msgs
		bytes += m.rc.bytes.Load() - m.bytes
	}
	return msgs, bytes
}

// unmark folds what the room key sent since the mark into the socket's
// own counters and drops the mark; false if there was none.
func (st *sioStats) unmark(key string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	m, ok := st.marks[key]
	if !ok {
		return false
	}
	st.fold(m)
	delete(st.marks, key)
	return true
}

// unmarkAll unmarks every room and returns their keys.
func (st *sioStats) unmarkAll() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	keys := make([]string, 0, len(st.marks))
	for key, m := range st.marks {
		st.fold(m)
		keys = append(keys, key)
	}
	clear(st.marks)
	return keys
}

// fold adds what m's room sent since m to the own counters; st.mu is held.
func (st *sioStats) fold(m roomMark) {
	st.msgsOut.Add(m.rc.msgs.Load() - m.msgs)
	st.bytesOut.Add(m.rc.bytes.Load() - m.bytes)
}

// argBytes estimates the encoded size of decoded event arguments.
func argBytes(v any, depth int) uint64 {
	if depth > 8 {
		return 0
	}
	switch v := v.(type) {
	case string:
		return uint64(len(v)) + 2
	case []byte:
		return uint64(len(v))
	case []any:
		n := uint64(2)
		for _, e := range v {
			n += argBytes(e, depth+1) + 1
		}
		return n
	case map[string]any:
		n := uint64(2)
		for k, e := range v {
			n += uint64(len(k)) + 4 + argBytes(e, depth+1)
		}
		return n
	case nil:
		return 4
	default:
		return 8
	}
}

// Watch reports the socket.
func (p sioPeer) Watch() monitor.Conn {
	mc := monitor.Conn{
		ID:    p.s.ID(),
		Proto: "socket.io",
		Door:  "socket.io",
		State: "open",
	}
	if l := p.door.local.Load(); l != nil {
		mc.Local = *l
	}
	if hs := p.s.Handshake(); hs != nil {
		mc.Remote = hs.Address
	}
	if t := p.s.Transport(); t != "" {
		mc.Proto = "socket.io/" + t
	}
	if !p.s.Connected() {
		mc.State = "closing"
	}
	if st := p.st; st != nil {
		mc.Since = st.since
		mc.MsgsIn, mc.BytesIn = st.msgsIn.Load(), st.bytesIn.Load()
		mc.MsgsOut, mc.BytesOut = st.out()
	}
	mc.Queue = p.s.Queued()
	return mc
}

// Conns lists the server's connections (those of its Hub), so a Server is
// a monitor.Source (what /api/conns, /metrics and the control socket of
// "switchboard serve" report).
func (s *Server) Conns() []monitor.Conn { return s.hub.Conns() }

// Process describes the server's process in its snapshots.
func (s *Server) Process() monitor.Process { return s.x.proc }

// Guard returns the server's admission guard, for other doors: its
// EndpointAdmit goes in endpoint.Config.Admit, Hold/Release count
// connections per address, CheckToken checks --token.
func (s *Server) Guard() *Guard { return s.x.guard }

// serverExtra is the Server's protection and watch state.
type serverExtra struct {
	guard      *Guard
	door       *sioDoor
	proc       monitor.Process
	adminToken string
}

// routeWatch adds the admin endpoints: /metrics (Prometheus, through
// client_golang: per door and protocol, plus Go and process metrics),
// /api/conns (the JSON snapshot) and the live page /stats.
func (s *Server) routeWatch() {
	s.mux.Handle("/metrics", s.admin(monitor.PrometheusHandler(s.x.proc, s)))
	s.mux.Handle("/api/conns", s.admin(monitor.Handler(s.x.proc, s)))
	s.mux.Handle("/stats", statsPage("stats.html"))
	s.mux.Handle("/stats.js", statsPage("stats.js"))
	s.mux.Handle("/stats.css", statsPage("stats.css"))
}

// admin guards an admin endpoint: with an AdminToken, the request must
// carry it ("Authorization: Bearer TOKEN"); without one, only loopback
// clients are served.
func (s *Server) admin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if tok := s.x.adminToken; tok != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
				s.x.guard.audit.Warn("auth failure", "door", "admin", "remote", r.RemoteAddr, "path", r.URL.Path)
				w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
				http.Error(w, "admin token required", http.StatusUnauthorized)
				return
			}
		} else if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && !ap.Addr().IsLoopback() {
			s.x.guard.audit.Warn("refuse", "door", "admin", "remote", r.RemoteAddr, "path", r.URL.Path)
			http.Error(w, "admin endpoints answer loopback clients unless an admin token is set", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// statsPage serves one file of the live page from WebFS.
func statsPage(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, WebFS(), name)
	})
}

// count adds one delivered event to the counters; st may be nil.
func (st *sioStats) count(ev *Event, raw []byte) {
	if st == nil {
		return
	}
	st.msgsOut.Add(1)
	st.bytesOut.Add(uint64(len(ev.Kind) + len(raw)))
}
