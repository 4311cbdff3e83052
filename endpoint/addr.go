package endpoint

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Transport names the kind of socket an endpoint opens. Secure and WebSocket
// endpoints run over a stream transport (TCP, Unix, vsock or an inherited fd).
const (
	TCP      = "tcp"      // TCP over IPv4 or IPv6
	UDP      = "udp"      // UDP, unicast or multicast
	Unix     = "unix"     // Unix stream socket, a path or an abstract @name
	Unixgram = "unixgram" // Unix datagram socket
	Vsock    = "vsock"    // AF_VSOCK stream socket (VM sockets)
	Netlink  = "netlink"  // AF_NETLINK datagram socket (read-only kernel events)
	FD       = "fd"       // an inherited socket (systemd socket activation)
	Inproc   = "inproc"   // ZeroMQ's inproc: an abstract Unix socket private to this process
)

// Wrappers layered over a stream transport.
const (
	WrapTLS = "tls" // TLS
	WrapWS  = "ws"  // WebSocket, binary messages
	WrapWSS = "wss" // WebSocket over TLS
)

// Endpoint is a parsed address: a transport, its address, optional wrappers
// (TLS, WebSocket) and socket options. The zero value is not valid; build one
// with Parse. An Endpoint is a plain value: copy it freely.
type Endpoint struct {
	// Transport is one of TCP, UDP, Unix, Unixgram, Vsock, Netlink, FD, Inproc.
	Transport string
	// Wrap is "", WrapTLS, WrapWS or WrapWSS.
	Wrap string
	// Address is the transport address: "host:port" for TCP and UDP (host
	// empty means loopback when listening), a path or "@name" for Unix,
	// "CID:PORT" or ":PORT" for vsock, a family name such as
	// "kobject-uevent" for netlink, a number or a name for FD, a name for
	// Inproc.
	Address string
	// Path is the HTTP path of a WebSocket endpoint ("/" when empty).
	Path string
	// Options holds the socket options given as query parameters.
	Options Options
}

// Stream reports whether the endpoint carries a byte stream (as opposed to
// datagrams). For fd:// it reports true: the kind is known only once the
// socket is opened (Listen then returns ErrWrongKind for a datagram socket).
func (e Endpoint) Stream() bool {
	switch e.Transport {
	case UDP, Unixgram, Netlink:
		return false
	}
	return true
}

// Proto is the protocol name used in errors and statistics: the wrapper if
// any ("tls", "ws", "wss"), else the transport.
func (e Endpoint) Proto() string {
	if e.Wrap != "" {
		return e.Wrap
	}
	return e.Transport
}

// Parse parses an endpoint address. Accepted forms:
//
//	tcp://127.0.0.1:7000  tcp://[::1]:7000  tcp://example.com:80  tcp://:7000
//	unix:///run/sb.sock  unix://@name  unixgram:///tmp/d.sock
//	udp://127.0.0.1:7000  udp://239.1.2.3:7000?iface=eth0
//	vsock://3:5000  vsock://:5000  vsock:3:5000 (systemd's form)
//	netlink://kobject-uevent  netlink://audit?group=1
//	fd://3  fd://web (systemd LISTEN_FDNAMES)
//	tls://host:port  tls+unix:///path  ws://host:port/path  wss://host:port/path
//	ws+unix:///path?path=/chat  ipc:///path (= unix)  inproc://name
//
// Socket options follow as query parameters (see Options). Unknown options
// and options that do not apply to the transport are an *OptionError.
func Parse(s string) (Endpoint, error) {
	var e Endpoint
	if len(s) > maxSpecLen {
		return e, &AddrError{Spec: truncate(s), Reason: "too long"}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		// systemd's vsock:CID:PORT form.
		if r, ok := strings.CutPrefix(s, "vsock:"); ok {
			scheme, rest = "vsock", r
		} else {
			return e, &AddrError{Spec: s, Reason: "missing scheme (tcp://, unix://, udp://, ...)"}
		}
	}
	rest, query, _ := strings.Cut(rest, "?")
	scheme = strings.ToLower(scheme)
	wrap, transport := "", scheme
	switch scheme {
	case "tls", "ws", "wss":
		wrap, transport = scheme, TCP
	case "ipc":
		transport = Unix
	default:
		if w, t, ok := strings.Cut(scheme, "+"); ok && (w == WrapTLS || w == WrapWS || w == WrapWSS) {
			wrap, transport = w, t
			if t == "ipc" {
				transport = Unix
			}
		}
	}
	e.Wrap, e.Transport = wrap, transport
	switch transport {
	case TCP, UDP:
		if transport == UDP && wrap != "" {
			return e, &AddrError{Spec: s, Reason: wrap + " needs a stream transport, not udp"}
		}
		hostport := rest
		if wrap == WrapWS || wrap == WrapWSS {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				hostport, e.Path = rest[:i], rest[i:]
			}
		}
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return e, &AddrError{Spec: s, Reason: "want host:port"}
		}
		if strings.ContainsAny(host, "/?#@ ") || strings.Contains(host, "%") && net.ParseIP(strings.SplitN(host, "%", 2)[0]) == nil {
			return e, &AddrError{Spec: s, Reason: "bad host " + strconv.Quote(host)}
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return e, &AddrError{Spec: s, Reason: "bad port " + strconv.Quote(port)}
		}
		if h, zone, ok := strings.Cut(host, "%"); ok {
			host = strings.ToLower(h) + "%" + zone // zones are interface names: keep their case
		} else {
			host = strings.ToLower(host)
		}
		e.Address = net.JoinHostPort(host, strconv.Itoa(int(p)))
	case Unix, Unixgram:
		if transport == Unixgram && wrap != "" {
			return e, &AddrError{Spec: s, Reason: wrap + " needs a stream transport, not unixgram"}
		}
		if rest == "" || rest == "@" {
			return e, &AddrError{Spec: s, Reason: "empty path"}
		}
		if len(rest) > maxUnixPath {
			return e, &AddrError{Spec: truncate(s), Reason: "unix path longer than 107 bytes"}
		}
		if strings.IndexByte(rest, 0) >= 0 {
			return e, &AddrError{Spec: s, Reason: "NUL in path"}
		}
		e.Address = rest
	case Vsock:
		cid, port, ok := strings.Cut(rest, ":")
		if !ok {
			return e, &AddrError{Spec: s, Reason: "want CID:PORT or :PORT"}
		}
		if cid != "" {
			c, err := strconv.ParseUint(cid, 10, 32)
			if err != nil {
				return e, &AddrError{Spec: s, Reason: "bad CID " + strconv.Quote(cid)}
			}
			cid = strconv.FormatUint(c, 10)
		}
		p, err := strconv.ParseUint(port, 10, 32)
		if err != nil {
			return e, &AddrError{Spec: s, Reason: "bad port " + strconv.Quote(port)}
		}
		e.Address = cid + ":" + strconv.FormatUint(p, 10)
	case Netlink:
		if wrap != "" {
			return e, &AddrError{Spec: s, Reason: wrap + " needs a stream transport, not netlink"}
		}
		fam := strings.ToLower(rest)
		if _, ok := netlinkFamilies[fam]; !ok {
			if n, err := strconv.ParseUint(fam, 10, 8); err != nil || n > 31 {
				return e, &AddrError{Spec: s, Reason: "unknown netlink family " + strconv.Quote(rest)}
			}
		}
		e.Address = fam
	case FD:
		if rest == "" || len(rest) > 255 || strings.ContainsAny(rest, ":/\x00") {
			return e, &AddrError{Spec: s, Reason: "want fd://NUMBER or fd://NAME"}
		}
		if n, err := strconv.ParseUint(rest, 10, 31); err == nil {
			rest = strconv.FormatUint(n, 10)
		} else if rest[0] >= '0' && rest[0] <= '9' {
			return e, &AddrError{Spec: s, Reason: "bad fd number"}
		}
		e.Address = rest
	case Inproc:
		if wrap != "" {
			return e, &AddrError{Spec: s, Reason: "inproc cannot be wrapped"}
		}
		if rest == "" || len(rest) > 64 || strings.ContainsAny(rest, "\x00/") {
			return e, &AddrError{Spec: s, Reason: "want inproc://NAME (1-64 bytes, no /)"}
		}
		e.Address = rest
	default:
		return e, &AddrError{Spec: s, Reason: "unknown scheme " + strconv.Quote(scheme)}
	}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return e, &AddrError{Spec: s, Reason: "bad query: " + err.Error()}
	}
	if p, ok := vals["path"]; ok && (wrap == WrapWS || wrap == WrapWSS) {
		if e.Path != "" {
			return e, &AddrError{Spec: s, Reason: "path given twice"}
		}
		e.Path = p[len(p)-1]
		delete(vals, "path")
	}
	if e.Path != "" {
		if e.Path[0] != '/' || strings.ContainsAny(e.Path, "?# ") {
			return e, &AddrError{Spec: s, Reason: "bad path " + strconv.Quote(e.Path)}
		}
		if e.Path == "/" {
			e.Path = ""
		}
	}
	if err := e.Options.setQuery(vals, e.Proto(), e.Transport); err != nil {
		return e, err
	}
	return e, nil
}

// MustParse is Parse that panics on error, for constants in tests and examples.
func MustParse(s string) Endpoint {
	e, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return e
}

// String prints the endpoint in the syntax Parse reads; Parse(e.String())
// gives back an equal Endpoint.
func (e Endpoint) String() string {
	var b strings.Builder
	switch {
	case e.Wrap != "" && e.Transport == TCP:
		b.WriteString(e.Wrap)
	case e.Wrap != "":
		b.WriteString(e.Wrap + "+" + e.Transport)
	default:
		b.WriteString(e.Transport)
	}
	b.WriteString("://")
	b.WriteString(e.Address)
	q := e.Options.query()
	if e.Path != "" {
		if e.Transport == TCP {
			b.WriteString(e.Path)
		} else {
			q = append([]string{"path=" + queryEscape(e.Path)}, q...)
		}
	}
	if len(q) > 0 {
		b.WriteByte('?')
		b.WriteString(strings.Join(q, "&"))
	}
	return b.String()
}

const (
	maxSpecLen  = 4096
	maxUnixPath = 107
)

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// AddrError reports an endpoint address that cannot be parsed.
type AddrError struct {
	Spec   string // the address as given
	Reason string // what is wrong with it
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("endpoint: bad address %q: %s", e.Spec, e.Reason)
}

// netlinkFamilies maps netlink family names to protocol numbers.
var netlinkFamilies = map[string]int{
	"route":          0,
	"usersock":       2,
	"firewall":       3,
	"sock-diag":      4,
	"nflog":          5,
	"xfrm":           6,
	"selinux":        7,
	"iscsi":          8,
	"audit":          9,
	"fib-lookup":     10,
	"connector":      11,
	"netfilter":      12,
	"ip6-fw":         13,
	"dnrtmsg":        14,
	"kobject-uevent": 15,
	"generic":        16,
	"scsitransport":  18,
	"ecryptfs":       19,
	"rdma":           20,
	"crypto":         21,
	"smc":            22,
}

// NetlinkFamily returns the protocol number of a netlink family name such as
// "kobject-uevent" or "audit", or of a decimal number.
func NetlinkFamily(name string) (int, bool) {
	if n, ok := netlinkFamilies[name]; ok {
		return n, true
	}
	n, err := strconv.ParseUint(name, 10, 8)
	if err != nil || n > 31 {
		return 0, false
	}
	return int(n), true
}
