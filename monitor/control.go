package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxSnapshotBytes bounds a snapshot read by Fetch.
const MaxSnapshotBytes = 64 << 20

// ServerConfig configures Serve. Process and Source are required.
type ServerConfig struct {
	// Dir is where the socket goes; "" means RuntimeDir(). It is created
	// with mode 0700 if missing.
	Dir string
	// Process describes this process; its PID and Command name the socket.
	Process Process
	// Source lists the connections.
	Source Source
	// Logger receives debug records; nil is silent.
	Logger *slog.Logger
}

// Server is a running control socket. Close stops it and removes the
// socket file.
type Server struct {
	path   string
	srv    *http.Server
	ln     net.Listener
	served chan struct{}
	once   sync.Once
	err    error
}

// SocketName returns the control socket's file name for a process:
// "<pid>.<command>.sock".
func SocketName(pid int, command string) string {
	command = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, command)
	if len(command) > 32 {
		command = command[:32]
	}
	return strconv.Itoa(pid) + "." + command + ".sock"
}

// Serve starts serving snapshots on this process's control socket. The ctx
// covers only the start.
func Serve(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("monitor: ServerConfig.Source is nil")
	}
	dir := cfg.Dir
	if dir == "" {
		dir = RuntimeDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("monitor: control socket directory: %w", err)
	}
	path := filepath.Join(dir, SocketName(cfg.Process.PID, cfg.Process.Command))
	os.Remove(path) // a stale socket of an earlier process with our pid
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("monitor: control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("monitor: control socket: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle("/snapshot", Handler(cfg.Process, cfg.Source))
	mux.Handle("/metrics", PrometheusHandler(cfg.Process, cfg.Source))
	s := &Server{path: path, ln: ln, served: make(chan struct{}), srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	log.Debug("control socket", "path", path)
	return s, nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Close stops the server, waits for it, and removes the socket. It is
// idempotent.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.err = s.srv.Close()
		<-s.served
		os.Remove(s.path)
	})
	return s.err
}

// Fetch reads the snapshot served on a control socket.
func Fetch(ctx context.Context, path string) (*Snapshot, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://control/snapshot", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("monitor: fetch %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("monitor: fetch %s: %s", path, resp.Status)
	}
	var s Snapshot
	dec := json.NewDecoder(io.LimitReader(resp.Body, MaxSnapshotBytes))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("monitor: fetch %s: %w", path, err)
	}
	return &s, nil
}

// Discover lists the control sockets in dir ("" means RuntimeDir()), sorted
// by pid. Sockets of processes that are gone are skipped.
func Discover(dir string) ([]string, error) {
	if dir == "" {
		dir = RuntimeDir()
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type sock struct {
		pid  int
		path string
	}
	var socks []sock
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".sock") || e.Type()&os.ModeSocket == 0 {
			continue
		}
		p, _, ok := strings.Cut(name, ".")
		pid, err := strconv.Atoi(p)
		if !ok || err != nil || !alive(pid) {
			continue
		}
		socks = append(socks, sock{pid, filepath.Join(dir, name)})
	}
	sort.Slice(socks, func(i, j int) bool { return socks[i].pid < socks[j].pid })
	out := make([]string, len(socks))
	for i, s := range socks {
		out[i] = s.path
	}
	return out, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
