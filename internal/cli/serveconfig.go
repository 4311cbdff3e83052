package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/engineio"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/monitor"
	"github.com/switchboard/switchboard/socketio"
)

// Config file limits: the whole file and one line.
const (
	maxConfigBytes = 1 << 20
	maxConfigLine  = 64 << 10
)

// ErrConfig reports a malformed config file.
var ErrConfig = errors.New("cli: bad config file")

// configEntry is one "key = value" line of a config file.
type configEntry struct {
	Line  int
	Key   string
	Value string
}

// parseConfig reads a serve config file: one "key = value" per line, key
// a flag name of serve (without dashes), value the rest of the line
// trimmed, or a Go-quoted string ("a \"b\"") when it starts with a quote.
// Blank lines and lines starting with # are ignored; a key may repeat
// (repeatable flags). The input is bounded by maxConfigBytes and
// maxConfigLine, checked before anything larger is held.
func parseConfig(r io.Reader) ([]configEntry, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxConfigBytes+1))
	sc.Buffer(make([]byte, 0, 4096), maxConfigLine)
	var out []configEntry
	total := 0
	for n := 1; sc.Scan(); n++ {
		raw := sc.Bytes()
		total += len(raw) + 1
		if total > maxConfigBytes+1 {
			return nil, fmt.Errorf("%w: larger than %d bytes", ErrConfig, maxConfigBytes)
		}
		line := strings.TrimSpace(string(bytes.TrimSuffix(raw, []byte("\r"))))
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: want key = value", ErrConfig, n)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		key = strings.TrimLeft(key, "-")
		if !validConfigKey(key) {
			return nil, fmt.Errorf("%w: line %d: bad key %q", ErrConfig, n, key)
		}
		if strings.HasPrefix(val, `"`) {
			u, err := strconv.Unquote(val)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: bad quoted value", ErrConfig, n)
			}
			val = u
		}
		out = append(out, configEntry{Line: n, Key: key, Value: val})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes", ErrConfig, maxConfigLine)
		}
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if total > maxConfigBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrConfig, maxConfigBytes)
	}
	return out, nil
}

func validConfigKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// formatConfig writes entries in the format parseConfig reads.
func formatConfig(w io.Writer, entries []configEntry) error {
	for _, e := range entries {
		v := e.Value
		if v != strings.TrimSpace(v) || strings.HasPrefix(v, `"`) || strings.ContainsAny(v, "\r\n") || !isPrintable(v) {
			v = strconv.Quote(v)
		}
		if _, err := fmt.Fprintf(w, "%s = %s\n", e.Key, v); err != nil {
			return err
		}
	}
	return nil
}

func isPrintable(s string) bool {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// applyConfigFile sets the flags of fs named in the file at path, except
// those given on the command line (flags override the file).
func applyConfigFile(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	entries, err := parseConfig(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, e := range entries {
		if e.Key == "config" || e.Key == "check-config" {
			return fmt.Errorf("%s: %w: line %d: %s cannot be set in a config file", path, ErrConfig, e.Line, e.Key)
		}
		if fs.Lookup(e.Key) == nil {
			return fmt.Errorf("%s: %w: line %d: unknown key %q (keys are serve's flag names)", path, ErrConfig, e.Line, e.Key)
		}
		if set[e.Key] {
			continue
		}
		if err := fs.Set(e.Key, e.Value); err != nil {
			return fmt.Errorf("%s: %w: line %d: %s: %w", path, ErrConfig, e.Line, e.Key, err)
		}
	}
	return nil
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// protectFlags are serve's flags for protection, watch and the config
// file.
type protectFlags struct {
	config      *string
	checkConfig *bool
	allow, deny listFlag
	token       *string
	adminToken  *string
	maxPerAddr  *int
	limitLoop   *bool
	maxPayload  *int64
	rate        *float64
	burst       *int
	drain       *time.Duration
	control     *bool
	controlDir  *string
}

func addProtectFlags(fs *flag.FlagSet) *protectFlags {
	pf := &protectFlags{
		config:      fs.String("config", "", "read flags from `FILE`: \"key = value\" lines, keys are flag names; flags given on the command line win"),
		checkConfig: fs.Bool("check-config", false, "check the flags and config file, then exit"),
		token:       fs.String("token", "", "`TOKEN` every client must present (Socket.IO auth {token}); empty: none"),
		adminToken:  fs.String("admin-token", "", "`TOKEN` for /metrics and /api/conns (Authorization: Bearer); empty: loopback clients only"),
		maxPerAddr:  fs.Int("max-conns-per-addr", 64, "connections one IP address may hold per door (-1: no bound)"),
		limitLoop:   fs.Bool("limit-loopback", false, "apply --max-conns-per-addr to loopback clients too (off: a local proxy carries many)"),
		maxPayload:  fs.Int64("max-payload", 64<<10, "largest Socket.IO message accepted, in `BYTES`"),
		rate:        fs.Float64("rate", 10, "requests per second one connection may make (say, join, leave, nick)"),
		burst:       fs.Int("burst", 20, "requests one connection may make at once"),
		drain:       fs.Duration("drain", 5*time.Second, "on SIGTERM, how long to drain queues before closing"),
		control:     fs.Bool("control", true, "serve the control socket read by \"switchboard stat\""),
		controlDir:  fs.String("control-dir", "", "`DIR` of the control socket (default "+monitor.RuntimeDir()+")"),
	}
	fs.Var(&pf.allow, "allow", "admit only clients from `CIDR` (repeatable, comma-separated; default: all)")
	fs.Var(&pf.deny, "deny", "refuse clients from `CIDR` (repeatable, comma-separated)")
	return pf
}

// load applies the config file, if any.
func (pf *protectFlags) load(fs *flag.FlagSet) error {
	if *pf.config == "" {
		return nil
	}
	return applyConfigFile(fs, *pf.config)
}

// apply fills the hub server's protection settings.
func (pf *protectFlags) apply(cfg *hub.ServerConfig) error {
	allow, err := hub.ParsePrefixes(pf.allow.String())
	if err != nil {
		return fmt.Errorf("--allow: %w", err)
	}
	deny, err := hub.ParsePrefixes(pf.deny.String())
	if err != nil {
		return fmt.Errorf("--deny: %w", err)
	}
	if *pf.maxPerAddr == 0 || *pf.maxPerAddr < -1 {
		return errors.New("--max-conns-per-addr: want a positive number or -1")
	}
	if *pf.maxPayload <= 0 || *pf.rate <= 0 || *pf.burst <= 0 || *pf.drain <= 0 {
		return errors.New("--max-payload, --rate, --burst and --drain must be positive")
	}
	cfg.Protect = &hub.ProtectConfig{Allow: allow, Deny: deny, MaxConnsPerAddr: *pf.maxPerAddr, LimitLoopback: *pf.limitLoop, Token: *pf.token}
	cfg.AdminToken = *pf.adminToken
	cfg.Hub = &hub.Config{Rate: *pf.rate, Burst: *pf.burst}
	cfg.SocketIO = &socketio.Config{Engine: &engineio.Config{MaxPayload: *pf.maxPayload}}
	cfg.ShutdownTimeout = *pf.drain
	return nil
}

// startControl serves the control socket of srv when --control is on;
// the returned stop is never nil.
func (pf *protectFlags) startControl(ctx context.Context, srv *hub.Server, log *slog.Logger) func() {
	if !*pf.control {
		return func() {}
	}
	ctl, err := monitor.Serve(ctx, monitor.ServerConfig{Dir: *pf.controlDir, Process: srv.Process(), Source: srv, Logger: log})
	if err != nil {
		log.Warn("no control socket: switchboard stat will not see this process", "err", err)
		return func() {}
	}
	log.Info("control socket", "path", ctl.Path())
	return func() { ctl.Close() }
}
