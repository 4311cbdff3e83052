package endpoint

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options are the socket options of an endpoint. They come from the query
// parameters of an address (the name of each is given in brackets) and from
// Config.Options; the zero value of each field means "leave the kernel's
// default". Every option is checked against the transport before a socket is
// opened: one that does not apply is an *OptionError.
type Options struct {
	// NoDelay sets TCP_NODELAY [nodelay]. Default false: Nagle's algorithm
	// stays on, as the kernel has it (Go's net package would turn it off).
	NoDelay bool
	// KeepAlive turns TCP keep-alive on with this idle time [keepalive].
	// Zero: keep-alive off (Go's 15 s default is not applied).
	KeepAlive time.Duration
	// KeepAliveInterval is the time between probes [keepintvl].
	KeepAliveInterval time.Duration
	// KeepAliveCount is the number of unanswered probes before the
	// connection is dropped [keepcnt].
	KeepAliveCount int
	// DeferAccept wakes the accepter only once data has arrived, waiting at
	// most this long (TCP_DEFER_ACCEPT, listeners only) [deferaccept].
	DeferAccept time.Duration
	// BindToDevice binds the socket to a network interface
	// (SO_BINDTODEVICE) [bindtodevice]. A pointer to "" removes a binding
	// (useful on inherited sockets); nil leaves it alone.
	BindToDevice *string
	// TOS sets the IPv4 type of service or the IPv6 traffic class [tos].
	TOS int
	// TTL sets the IPv4 TTL or IPv6 unicast hop limit [ttl].
	TTL int
	// ReusePort sets SO_REUSEPORT [reuseport].
	ReusePort bool
	// FreeBind sets IP_FREEBIND: bind to an address not (yet) present [freebind].
	FreeBind bool
	// Backlog is the listen queue length (listeners only) [backlog].
	// Zero: the system's somaxconn.
	Backlog int
	// SendBuffer and RecvBuffer set SO_SNDBUF and SO_RCVBUF [sndbuf, rcvbuf].
	SendBuffer, RecvBuffer int
	// Mark sets SO_MARK for policy routing [mark].
	Mark uint32
	// Timestamp asks for kernel receive timestamps on datagrams
	// (SO_TIMESTAMPNS), read by PacketConn.ReadMsg [timestamp].
	Timestamp bool
	// MulticastLoop sets IP_MULTICAST_LOOP: whether our own multicast
	// datagrams come back to this host [mcastloop]. nil: kernel default (on).
	MulticastLoop *bool
	// MulticastTTL sets the multicast TTL / hop limit [mcastttl].
	MulticastTTL int
	// Interface names the interface multicast is joined and sent on [iface].
	Interface string
	// V6Only sets IPV6_V6ONLY on IPv6 sockets [v6only]. nil: Go's default.
	V6Only *bool
	// Source is the local "ip:port" a dial binds to (either may be empty
	// or 0) [source].
	Source string
	// MPTCP uses Multipath TCP [mptcp]. Default false: plain TCP.
	MPTCP bool
	// Group is the netlink multicast group bit mask to join [group].
	Group uint32

	// CertFile and KeyFile hold a PEM certificate and key (TLS) [cert, key].
	CertFile, KeyFile string
	// CAFile holds PEM roots to verify the peer: the server for dials, and
	// for listeners the clients, whose certificates are then required
	// (mutual TLS) [ca].
	CAFile string
	// ServerName overrides the name checked in the server's certificate [servername].
	ServerName string
	// SelfSigned makes a listener generate a throw-away self-signed
	// certificate for development [selfsigned]; on a dial it skips
	// verification of the server certificate.
	SelfSigned bool
}

// transport classes an option applies to
const (
	cTCP = 1 << iota
	cUDP
	cUnix
	cUnixgram
	cVsock
	cNetlink
	cFD
	cInproc
	cTLS // only with tls or wss
)

const cIP = cTCP | cUDP

// directions
const (
	dBoth = iota
	dListen
	dDial
)

type optSpec struct {
	name   string
	on     int
	dir    int
	set    func(o *Options, v string) error
	format func(o *Options) (string, bool)
}

func class(transport string) int {
	switch transport {
	case TCP:
		return cTCP
	case UDP:
		return cUDP
	case Unix:
		return cUnix
	case Unixgram:
		return cUnixgram
	case Vsock:
		return cVsock
	case Netlink:
		return cNetlink
	case FD:
		return cFD
	case Inproc:
		return cInproc
	}
	return 0
}

func boolOpt(name string, on, dir int, f func(o *Options) *bool) optSpec {
	return optSpec{name, on, dir,
		func(o *Options, v string) error {
			b, err := parseBool(v)
			*f(o) = b
			return err
		},
		func(o *Options) (string, bool) { return "1", *f(o) }}
}

func ptrBoolOpt(name string, on, dir int, f func(o *Options) **bool) optSpec {
	return optSpec{name, on, dir,
		func(o *Options, v string) error {
			b, err := parseBool(v)
			*f(o) = &b
			return err
		},
		func(o *Options) (string, bool) {
			p := *f(o)
			if p == nil {
				return "", false
			}
			if *p {
				return "1", true
			}
			return "0", true
		}}
}

func intOpt(name string, on, dir int, min, max int64, f func(o *Options) *int) optSpec {
	return optSpec{name, on, dir,
		func(o *Options, v string) error {
			n, err := strconv.ParseInt(v, 0, 64)
			if err != nil || n < min || n > max {
				return fmt.Errorf("want an integer in [%d, %d]", min, max)
			}
			*f(o) = int(n)
			return nil
		},
		func(o *Options) (string, bool) { n := *f(o); return strconv.Itoa(n), n != 0 }}
}

func durOpt(name string, on, dir int, f func(o *Options) *time.Duration) optSpec {
	return optSpec{name, on, dir,
		func(o *Options, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				// plain seconds
				n, err2 := strconv.ParseUint(v, 10, 31)
				if err2 != nil {
					return errors.New("want a duration such as 30s")
				}
				d = time.Duration(n) * time.Second
			}
			if d < time.Second || d > 24*time.Hour || d%time.Second != 0 {
				return errors.New("want whole seconds between 1s and 24h")
			}
			*f(o) = d
			return nil
		},
		func(o *Options) (string, bool) { d := *f(o); return d.String(), d != 0 }}
}

func strOpt(name string, on, dir int, max int, f func(o *Options) *string) optSpec {
	return optSpec{name, on, dir,
		func(o *Options, v string) error {
			if v == "" || len(v) > max {
				return fmt.Errorf("want 1 to %d bytes", max)
			}
			*f(o) = v
			return nil
		},
		func(o *Options) (string, bool) { s := *f(o); return s, s != "" }}
}

const maxPathOpt = 4096

// optTable lists every option in the order String prints them.
var optTable = []optSpec{
	boolOpt("nodelay", cTCP|cFD, dBoth, func(o *Options) *bool { return &o.NoDelay }),
	durOpt("keepalive", cTCP|cFD, dBoth, func(o *Options) *time.Duration { return &o.KeepAlive }),
	durOpt("keepintvl", cTCP|cFD, dBoth, func(o *Options) *time.Duration { return &o.KeepAliveInterval }),
	intOpt("keepcnt", cTCP|cFD, dBoth, 1, 127, func(o *Options) *int { return &o.KeepAliveCount }),
	durOpt("deferaccept", cTCP|cFD, dListen, func(o *Options) *time.Duration { return &o.DeferAccept }),
	{"bindtodevice", cIP | cFD, dBoth,
		func(o *Options, v string) error {
			if len(v) > 15 || strings.ContainsAny(v, "/ \x00") {
				return errors.New("want an interface name (up to 15 bytes) or empty")
			}
			o.BindToDevice = &v
			return nil
		},
		func(o *Options) (string, bool) {
			if o.BindToDevice == nil {
				return "", false
			}
			return *o.BindToDevice, true
		}},
	intOpt("tos", cIP|cFD, dBoth, 0, 255, func(o *Options) *int { return &o.TOS }),
	intOpt("ttl", cIP|cFD, dBoth, 1, 255, func(o *Options) *int { return &o.TTL }),
	boolOpt("reuseport", cIP, dBoth, func(o *Options) *bool { return &o.ReusePort }),
	boolOpt("freebind", cIP, dBoth, func(o *Options) *bool { return &o.FreeBind }),
	intOpt("backlog", cTCP|cUnix|cVsock|cInproc, dListen, 1, 1<<16, func(o *Options) *int { return &o.Backlog }),
	intOpt("sndbuf", cTCP|cUDP|cUnix|cUnixgram|cVsock|cFD|cInproc, dBoth, 1024, 1<<28, func(o *Options) *int { return &o.SendBuffer }),
	intOpt("rcvbuf", cTCP|cUDP|cUnix|cUnixgram|cVsock|cNetlink|cFD|cInproc, dBoth, 1024, 1<<28, func(o *Options) *int { return &o.RecvBuffer }),
	{"mark", cIP | cFD, dBoth,
		func(o *Options, v string) error {
			n, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				return errors.New("want a 32-bit integer")
			}
			o.Mark = uint32(n)
			return nil
		},
		func(o *Options) (string, bool) { return strconv.FormatUint(uint64(o.Mark), 10), o.Mark != 0 }},
	boolOpt("timestamp", cUDP|cUnixgram|cNetlink|cFD, dBoth, func(o *Options) *bool { return &o.Timestamp }),
	ptrBoolOpt("mcastloop", cUDP, dBoth, func(o *Options) **bool { return &o.MulticastLoop }),
	intOpt("mcastttl", cUDP, dBoth, 0, 255, func(o *Options) *int { return &o.MulticastTTL }),
	{"iface", cUDP, dBoth,
		func(o *Options, v string) error {
			if v == "" || len(v) > 15 || strings.ContainsAny(v, "/ \x00") {
				return errors.New("want an interface name (1 to 15 bytes)")
			}
			o.Interface = v
			return nil
		},
		func(o *Options) (string, bool) { return o.Interface, o.Interface != "" }},
	ptrBoolOpt("v6only", cIP, dListen, func(o *Options) **bool { return &o.V6Only }),
	{"source", cIP, dDial,
		func(o *Options, v string) error {
			host, port, err := net.SplitHostPort(v)
			if err != nil {
				return errors.New("want ip:port (either may be empty)")
			}
			if host != "" && net.ParseIP(host) == nil {
				return errors.New("want an IP address, not a name")
			}
			if port != "" {
				if _, err := strconv.ParseUint(port, 10, 16); err != nil {
					return errors.New("bad port")
				}
			}
			o.Source = v
			return nil
		},
		func(o *Options) (string, bool) { return o.Source, o.Source != "" }},
	boolOpt("mptcp", cTCP, dBoth, func(o *Options) *bool { return &o.MPTCP }),
	{"group", cNetlink, dListen,
		func(o *Options, v string) error {
			n, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				return errors.New("want a 32-bit group mask")
			}
			o.Group = uint32(n)
			return nil
		},
		func(o *Options) (string, bool) { return strconv.FormatUint(uint64(o.Group), 10), o.Group != 0 }},
	strOpt("cert", cTLS, dBoth, maxPathOpt, func(o *Options) *string { return &o.CertFile }),
	strOpt("key", cTLS, dBoth, maxPathOpt, func(o *Options) *string { return &o.KeyFile }),
	strOpt("ca", cTLS, dBoth, maxPathOpt, func(o *Options) *string { return &o.CAFile }),
	strOpt("servername", cTLS, dDial, 253, func(o *Options) *string { return &o.ServerName }),
	boolOpt("selfsigned", cTLS, dBoth, func(o *Options) *bool { return &o.SelfSigned }),
}

func optByName(name string) *optSpec {
	for i := range optTable {
		if optTable[i].name == name {
			return &optTable[i]
		}
	}
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, errors.New("want 1 or 0")
}

func applies(s *optSpec, proto, transport string) bool {
	c := class(transport)
	if s.on&cTLS != 0 {
		return proto == WrapTLS || proto == WrapWSS
	}
	return s.on&c != 0
}

// setQuery sets options from URL query values, checking each against the
// protocol.
func (o *Options) setQuery(vals url.Values, proto, transport string) error {
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	// Report errors in table order, deterministically.
	for _, s := range optTable {
		v, ok := vals[s.name]
		if !ok {
			continue
		}
		if !applies(&s, proto, transport) {
			return &OptionError{Option: s.name, Proto: proto, Err: ErrNotApplicable}
		}
		if len(v) != 1 {
			return &OptionError{Option: s.name, Proto: proto, Err: errors.New("given more than once")}
		}
		if err := s.set(o, v[0]); err != nil {
			return &OptionError{Option: s.name, Proto: proto, Value: v[0], Err: err}
		}
	}
	for _, k := range names {
		if optByName(k) == nil {
			return &OptionError{Option: k, Proto: proto, Err: ErrUnknownOption}
		}
	}
	return nil
}

// query prints the options set, in table order.
func (o *Options) query() []string {
	var q []string
	for _, s := range optTable {
		if v, ok := s.format(o); ok {
			q = append(q, s.name+"="+queryEscape(v))
		}
	}
	return q
}

// check verifies that every option set applies to the protocol and the
// direction (listen or dial).
func (o *Options) check(proto, transport string, dir int) error {
	for _, s := range optTable {
		if _, ok := s.format(o); !ok {
			continue
		}
		if !applies(&s, proto, transport) {
			return &OptionError{Option: s.name, Proto: proto, Err: ErrNotApplicable}
		}
		if s.dir != dBoth && s.dir != dir {
			e := ErrListenOnly
			if s.dir == dDial {
				e = ErrDialOnly
			}
			return &OptionError{Option: s.name, Proto: proto, Err: e}
		}
	}
	if o.KeepAlive == 0 && (o.KeepAliveInterval != 0 || o.KeepAliveCount != 0) {
		return &OptionError{Option: "keepintvl", Proto: proto, Err: errors.New("needs keepalive")}
	}
	return nil
}

// combine validates the typed options of a Config and lays the query's
// options over them, field by field.
func combine(cfg, q Options, proto string) (Options, error) {
	var o Options
	for _, src := range []*Options{&cfg, &q} {
		for _, s := range optTable {
			v, ok := s.format(src)
			if !ok {
				continue
			}
			if err := s.set(&o, v); err != nil {
				return o, &OptionError{Option: s.name, Proto: proto, Value: v, Err: err}
			}
		}
	}
	return o, nil
}

// Errors carried by *OptionError.
var (
	ErrUnknownOption = errors.New("endpoint: unknown option")
	ErrNotApplicable = errors.New("endpoint: option does not apply to this protocol")
	ErrListenOnly    = errors.New("endpoint: option applies to listeners only")
	ErrDialOnly      = errors.New("endpoint: option applies to dials only")
)

// OptionError reports a socket option that is unknown, does not apply to
// the protocol, or has a bad value. It is returned before any socket is
// opened.
type OptionError struct {
	Option string // the option's query name, e.g. "nodelay"
	Proto  string // the protocol, e.g. "udp"
	Value  string // the value given, if it was bad
	Err    error  // ErrUnknownOption, ErrNotApplicable, ErrListenOnly, ErrDialOnly or a value error
}

func (e *OptionError) Error() string {
	if e.Value != "" || errors.Is(e.Err, ErrUnknownOption) || errors.Is(e.Err, ErrNotApplicable) ||
		errors.Is(e.Err, ErrListenOnly) || errors.Is(e.Err, ErrDialOnly) {
		msg := strings.TrimPrefix(e.Err.Error(), "endpoint: ")
		if e.Value != "" {
			return fmt.Sprintf("endpoint: option %s=%q for %s: %s", e.Option, e.Value, e.Proto, msg)
		}
		return fmt.Sprintf("endpoint: option %s for %s: %s", e.Option, e.Proto, msg)
	}
	return fmt.Sprintf("endpoint: option %s for %s: %v", e.Option, e.Proto, e.Err)
}

func (e *OptionError) Unwrap() error { return e.Err }

var unescape = strings.NewReplacer("%2F", "/", "%3A", ":", "%40", "@", "%2C", ",")

// queryEscape escapes a query value, leaving the characters of paths and
// addresses readable.
func queryEscape(v string) string { return unescape.Replace(url.QueryEscape(v)) }
