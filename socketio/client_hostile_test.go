package socketio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostileSIO is a misbehaving Socket.IO server: a correct Engine.IO
// polling handshake, then what mode says on every poll.
type hostileSIO struct {
	mode       string
	handshakes atomic.Int32
	hit        chan struct{}
}

func (h *hostileSIO) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("sid") == "" {
		n := h.handshakes.Add(1)
		if h.mode == "silentHandshake" {
			<-r.Context().Done()
			return
		}
		iv := 5000
		if h.mode == "silent" {
			iv = 50
		}
		fmt.Fprintf(w, `0{"sid":"s%d","upgrades":[],"pingInterval":%d,"pingTimeout":%d,"maxPayload":100000}`, n, iv, iv)
		if n >= 3 {
			select {
			case h.hit <- struct{}{}:
			default:
			}
		}
		return
	}
	if r.Method == http.MethodPost {
		fmt.Fprint(w, "ok")
		return
	}
	switch h.mode {
	case "garbage":
		fmt.Fprint(w, "40{\"sid\":\"x\"}\x1e42[\"broken\"")
	case "badType":
		fmt.Fprint(w, "40{\"sid\":\"x\"}\x1e49")
	case "manyAttachments":
		fmt.Fprint(w, "40{\"sid\":\"x\"}\x1e4999999-[\"e\"]")
	case "bigAttachment":
		fmt.Fprint(w, "40{\"sid\":\"x\"}\x1e451-[\"e\",{\"_placeholder\":true,\"num\":0}]\x1eb"+strings.Repeat("AAAA", 3000))
	case "oversize":
		fmt.Fprint(w, "4"+strings.Repeat("x", 300<<10))
	default: // silent
		<-r.Context().Done()
	}
}

// TestClientHostileServer: every kind of bad input ends the connection
// with a clear reason, the Manager reconnects (again and again, with
// backoff), nothing panics or leaks (goleak in TestMain), and memory is
// bounded by the read and attachment limits.
func TestClientHostileServer(t *testing.T) {
	for _, tc := range []struct {
		mode, reason string
		bad          bool
	}{
		{"garbage", ReasonParseError, true},
		{"badType", ReasonParseError, true},
		{"manyAttachments", ReasonParseError, true},
		{"bigAttachment", ReasonParseError, true},
		{"oversize", ReasonParseError, true},
		{"silent", ReasonPingTimeout, false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			h := &hostileSIO{mode: tc.mode, hit: make(chan struct{}, 1)}
			ts := httptest.NewServer(h)
			defer closeHostile(ts) // handlers block until their client goes: drop clients first
			cfg := clConfig([]string{"polling"})
			cfg.ReconnectDelay = 10 * time.Millisecond
			cfg.ReconnectDelayMax = 20 * time.Millisecond
			cfg.MaxAttachmentBytes = 1000
			cfg.Engine.ReadLimit = 100 << 10
			m, err := NewManager(ts.URL, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s := m.Socket("/", nil)
			reasons := make(chan string, 16)
			s.OnDisconnect(func(r string) {
				select {
				case reasons <- r:
				default:
				}
			})
			go s.Connect(clCtx(t))
			if tc.mode != "oversize" && tc.mode != "silent" {
				if r := clWait(t, reasons, "disconnect"); r != tc.reason {
					t.Fatalf("reason %q, want %q", r, tc.reason)
				}
			}
			clWait(t, h.hit, "third handshake (reconnects)")
			if tc.bad && m.Stats().BadPackets == 0 {
				t.Fatal("bad packets not counted")
			}
			if m.Stats().Reconnects < 1 {
				t.Fatalf("stats %+v", m.Stats())
			}
		})
	}
}

// TestClientConnectTimeout: a server that never answers the handshake
// costs each attempt ClientConfig.Timeout, then the Manager gives up.
func TestClientConnectTimeout(t *testing.T) {
	h := &hostileSIO{mode: "silentHandshake", hit: make(chan struct{}, 1)}
	ts := httptest.NewServer(h)
	defer closeHostile(ts) // handlers block until their client goes: drop clients first
	cfg := clConfig(nil)
	cfg.Timeout = 100 * time.Millisecond
	cfg.ReconnectAttempts = 1
	m, err := NewManager(ts.URL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Socket("/", nil).Connect(clCtx(t))
	if !errors.Is(err, ErrReconnectFailed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if n := h.handshakes.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
}

// closeHostile stops a hostile test server whose handlers block until
// their client disconnects: it drops every client connection first, so
// Close never waits on a handler whose client is still open.
func closeHostile(ts *httptest.Server) {
	ts.CloseClientConnections()
	ts.Close()
}
