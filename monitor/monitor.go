package monitor

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Process identifies the process a Snapshot describes.
type Process struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"` // e.g. "listen", "relay", "serve"
	Args    []string  `json:"args,omitempty"`
	Host    string    `json:"host,omitempty"`
	Started time.Time `json:"started"`
}

// Self describes the running process under the given command name.
func Self(command string, args []string, started time.Time) Process {
	host, _ := os.Hostname()
	return Process{PID: os.Getpid(), Command: command, Args: args, Host: host, Started: started}
}

// Conn is one connection (or one listening or datagram socket) of a process.
type Conn struct {
	ID       string    `json:"id"`
	Proto    string    `json:"proto"`          // "tcp", "udp", "unix", "tls", "ws", "socket.io", ...
	Door     string    `json:"door,omitempty"` // the listener or role it belongs to
	Local    string    `json:"local"`
	Remote   string    `json:"remote,omitempty"`
	State    string    `json:"state"` // "listen", "open", "closing", ...
	Since    time.Time `json:"since"`
	Age      float64   `json:"age_s"` // seconds, at snapshot time
	User     string    `json:"user,omitempty"`
	Rooms    []string  `json:"rooms,omitempty"`
	MsgsIn   uint64    `json:"msgs_in"`
	MsgsOut  uint64    `json:"msgs_out"`
	BytesIn  uint64    `json:"bytes_in"`
	BytesOut uint64    `json:"bytes_out"`
	Queue    int       `json:"queue"` // messages waiting to go out
	// RTT is the kernel's smoothed round-trip time in microseconds, for
	// TCP connections (0 when unknown).
	RTT int64 `json:"rtt_us,omitempty"`
}

// Totals sums the connections of a Snapshot.
type Totals struct {
	Conns    int    `json:"conns"`
	MsgsIn   uint64 `json:"msgs_in"`
	MsgsOut  uint64 `json:"msgs_out"`
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	Queue    int    `json:"queue"`
}

// Snapshot is the state of a process's connections at one time.
type Snapshot struct {
	Process Process   `json:"process"`
	Time    time.Time `json:"time"`
	Conns   []Conn    `json:"conns"`
	Totals  Totals    `json:"totals"`
}

// Source lists connections. Implementations must be safe for concurrent
// use; Conns is called once per snapshot.
type Source interface {
	Conns() []Conn
}

// SourceFunc adapts a function to Source.
type SourceFunc func() []Conn

// Conns calls f.
func (f SourceFunc) Conns() []Conn { return f() }

// NewSnapshot builds a snapshot of conns at time now: it fills each Age,
// sorts by Since then ID, and sums the totals.
func NewSnapshot(p Process, now time.Time, conns []Conn) *Snapshot {
	s := &Snapshot{Process: p, Time: now, Conns: conns}
	if s.Conns == nil {
		s.Conns = []Conn{}
	}
	sort.SliceStable(s.Conns, func(i, j int) bool {
		a, b := s.Conns[i], s.Conns[j]
		if !a.Since.Equal(b.Since) {
			return a.Since.Before(b.Since)
		}
		return a.ID < b.ID
	})
	for i := range s.Conns {
		c := &s.Conns[i]
		if !c.Since.IsZero() {
			c.Age = now.Sub(c.Since).Round(time.Millisecond).Seconds()
		}
		s.Totals.Conns++
		s.Totals.MsgsIn += c.MsgsIn
		s.Totals.MsgsOut += c.MsgsOut
		s.Totals.BytesIn += c.BytesIn
		s.Totals.BytesOut += c.BytesOut
		s.Totals.Queue += c.Queue
	}
	return s
}

// Handler serves a snapshot of src as JSON on every GET. It is the thin
// adapter for the hub's HTTP endpoint and the control socket.
func Handler(p Process, src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s := NewSnapshot(p, time.Now(), src.Conns())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
	})
}

// RuntimeDir returns the directory of control sockets:
// $XDG_RUNTIME_DIR/switchboard, or /tmp/switchboard-$UID.
func RuntimeDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "switchboard")
	}
	return filepath.Join(os.TempDir(), "switchboard-"+itoa(os.Getuid()))
}
