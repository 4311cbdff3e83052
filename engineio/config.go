package engineio

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// Config configures a Server. The zero value of each field means its
// default, which the field's doc names. A Config is copied by NewServer and
// never modified.
type Config struct {
	// Path the server answers on. Default "/engine.io/". A request for the
	// path without its trailing slash is accepted too.
	Path string
	// PingInterval between server pings. Default 25s.
	PingInterval time.Duration
	// PingTimeout: how long after a ping the pong may come. Default 20s.
	PingTimeout time.Duration
	// UpgradeTimeout bounds a pending transport upgrade. Default 10s.
	UpgradeTimeout time.Duration
	// WriteTimeout bounds one write to a client (a poll response or a
	// batch of WebSocket frames); a client that does not read in time is
	// closed with "transport error". Default 10s.
	WriteTimeout time.Duration
	// MaxPayload is maxHttpBufferSize: the largest HTTP body or WebSocket
	// message accepted, in bytes. Default 1e6.
	MaxPayload int64
	// Transports allowed, of "polling" and "websocket". Default both.
	Transports []string
	// DisableUpgrades stops polling clients from upgrading to WebSocket.
	DisableUpgrades bool
	// MaxQueuedPackets bounds each socket's outgoing queue. Default 1024.
	MaxQueuedPackets int
	// MaxSessions bounds the open sessions; a handshake over it is refused
	// with status 503 and error code 3. Default 100000.
	MaxSessions int
	// Cookie, when not nil, is the template of the sid cookie set on the
	// handshake (its Value is replaced; an empty Name means "io", an empty
	// Path "/"). Default none.
	Cookie *http.Cookie
	// CORS, when not nil, answers preflights and sets CORS headers.
	CORS *CORS
	// AllowRequest, when not nil, runs before a handshake or upgrade; a
	// non-nil error refuses it (code 4 "Forbidden", with the error's text).
	AllowRequest func(r *http.Request) error
	// AllowEIO3 would accept Engine.IO protocol 3 clients; it is not
	// implemented and NewServer refuses it.
	AllowEIO3 bool
	// Logger receives debug and error records. nil means silent.
	Logger *slog.Logger
}

// CORS holds the CORS settings of a Server.
type CORS struct {
	// Origins allowed; "*" allows any. Empty means reflect the request's
	// Origin. When set (and not "*"), WebSocket requests from other
	// origins are refused too.
	Origins []string
	// Credentials sets Access-Control-Allow-Credentials.
	Credentials bool
	// Headers allowed in requests (Access-Control-Allow-Headers). Empty
	// means reflect Access-Control-Request-Headers.
	Headers []string
}

const (
	transportPolling   = "polling"
	transportWebSocket = "websocket"
)

func (c *Config) withDefaults() (Config, error) {
	var o Config
	if c != nil {
		o = *c
	}
	if o.AllowEIO3 {
		return o, errors.New("engineio: AllowEIO3: Engine.IO protocol 3 is not implemented")
	}
	if o.Path == "" {
		o.Path = "/engine.io/"
	}
	if o.Path[0] != '/' {
		return o, fmt.Errorf("engineio: Path %q must start with /", o.Path)
	}
	if o.Path[len(o.Path)-1] != '/' {
		o.Path += "/"
	}
	def := func(d *time.Duration, v time.Duration, name string) error {
		if *d < 0 {
			return fmt.Errorf("engineio: %s must not be negative", name)
		}
		if *d == 0 {
			*d = v
		}
		return nil
	}
	for _, e := range []error{
		def(&o.PingInterval, 25*time.Second, "PingInterval"),
		def(&o.PingTimeout, 20*time.Second, "PingTimeout"),
		def(&o.UpgradeTimeout, 10*time.Second, "UpgradeTimeout"),
		def(&o.WriteTimeout, 10*time.Second, "WriteTimeout"),
	} {
		if e != nil {
			return o, e
		}
	}
	if o.MaxPayload < 0 {
		return o, errors.New("engineio: MaxPayload must not be negative")
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = 1e6
	}
	if o.MaxQueuedPackets < 0 {
		return o, errors.New("engineio: MaxQueuedPackets must not be negative")
	}
	if o.MaxQueuedPackets == 0 {
		o.MaxQueuedPackets = 1024
	}
	if o.MaxSessions < 0 {
		return o, errors.New("engineio: MaxSessions must not be negative")
	}
	if o.MaxSessions == 0 {
		o.MaxSessions = 100000
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{transportPolling, transportWebSocket}
	}
	for _, t := range o.Transports {
		if t != transportPolling && t != transportWebSocket {
			return o, fmt.Errorf("engineio: unknown transport %q", t)
		}
	}
	o.Transports = slices.Clone(o.Transports)
	if o.Cookie != nil {
		ck := *o.Cookie
		if ck.Name == "" {
			ck.Name = "io"
		}
		if ck.Path == "" {
			ck.Path = "/"
		}
		o.Cookie = &ck
	}
	if o.CORS != nil {
		cs := *o.CORS
		cs.Origins = slices.Clone(cs.Origins)
		cs.Headers = slices.Clone(cs.Headers)
		o.CORS = &cs
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func (c *Config) allows(transport string) bool {
	return slices.Contains(c.Transports, transport)
}
