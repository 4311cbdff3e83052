package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"

	"github.com/switchboard/switchboard/endpoint"
	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/dgram"
	"github.com/switchboard/switchboard/hub/zmqdoor"
	"github.com/switchboard/switchboard/zmq"
)

// doorFlags are serve's flags for the ZeroMQ, datagram, multicast and
// netlink doors. The ZeroMQ pub, in and rpc doors and the UDP door listen
// on loopback by default ("" or "off" turns one off); a default address
// that is taken only warns and leaves that door off.
type doorFlags struct {
	zmqPub, zmqIn, zmqInSub, zmqRPC, udp *string
	mirror, netlink                      roomSpecs

	// Set by serve after parsing: which flags the command line (or
	// config file) gave, and serve --token.
	fs    *flag.FlagSet
	token string
}

// Default door endpoints (loopback only).
const (
	defZMQPub = "tcp://127.0.0.1:5556"
	defZMQIn  = "tcp://127.0.0.1:5555"
	defZMQRPC = "tcp://127.0.0.1:5557"
	defUDP    = "udp://127.0.0.1:7000"
)

// explicit reports whether flag name was given (not left at its default).
func (f *doorFlags) explicit(name string) bool {
	if f.fs == nil {
		return true
	}
	given := false
	f.fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == name })
	return given
}

// roomSpecs is a repeatable ROOM=ENDPOINT flag.
type roomSpecs []string

func (r *roomSpecs) String() string { return strings.Join(*r, " ") }

func (r *roomSpecs) Set(v string) error {
	if v == "" || v == "off" {
		return nil
	}
	room, spec, ok := strings.Cut(v, "=")
	if !ok || room == "" || spec == "" {
		return errors.New("want ROOM=ENDPOINT")
	}
	*r = append(*r, v)
	return nil
}

func addDoorFlags(fs *flag.FlagSet) *doorFlags {
	f := &doorFlags{
		zmqPub:   fs.String("zmq-pub", defZMQPub, "ZeroMQ XPUB `ENDPOINT`: subscribe to a room to get [room, from, text, id, at], or to @presence; \"\" or off: none. With --token every ZeroMQ door uses PLAIN security: any user name, the token as password"),
		zmqIn:    fs.String("zmq-in", defZMQIn, "ZeroMQ PULL `ENDPOINT` that PUSH services send [room, text(, from)] to; \"\" or off: none"),
		zmqInSub: fs.String("zmq-in-sub", "", "ZeroMQ XSUB `ENDPOINT` that PUB services connect to, sending [room, text(, from)]"),
		zmqRPC:   fs.String("zmq-rpc", defZMQRPC, "ZeroMQ ROUTER `ENDPOINT` DEALER workers serve the Socket.IO event rpc {service, body} on; \"\" or off: none"),
		udp:      fs.String("udp", defUDP, "datagram command `ENDPOINT`: NICK, JOIN, PART, SAY, NAMES, PING, QUIT, one per datagram (with --token, AUTH TOKEN first); \"\" or off: none"),
	}
	fs.Var(&f.mirror, "mirror", "mirror a room to a multicast group: `ROOM=udp://239.x.y.z:port?iface=NAME` (repeatable)")
	fs.Var(&f.netlink, "netlink", "say kernel uevents in a room: `ROOM=netlink://kobject-uevent` (repeatable)")
	return f
}

func on(s *string) string {
	if s == nil || *s == "off" {
		return ""
	}
	return *s
}

// doors runs the doors a serve command line asked for.
type doors struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

// startDoors opens every door named by f on srv's Hub and runs each until
// ctx is done or stop is called. A door that cannot open is an error and
// nothing is left running.
func startDoors(ctx context.Context, srv *hub.Server, f *doorFlags, log *slog.Logger, out func(string)) (*doors, error) {
	h := srv.Hub()
	var servers []interface{ Serve(context.Context) error }
	var closers []func()
	fail := func(err error) (*doors, error) {
		for _, c := range closers {
			c()
		}
		return nil, err
	}
	g := srv.Guard()
	sc := &zmq.Config{Endpoint: &endpoint.Config{Admit: g.EndpointAdmit("zmq")}}
	if f.token != "" {
		sc.Plain = &zmq.PlainConfig{Server: true, Authenticate: func(_, password string) bool {
			return g.CheckToken("zmq", netip.AddrPort{}, password) == nil
		}}
	}
	zc := zmqdoor.Config{Pub: on(f.zmqPub), In: on(f.zmqIn), InSub: on(f.zmqInSub), RPC: on(f.zmqRPC), Socket: sc, Logger: log.With("door", "zmq")}
	var zd *zmqdoor.Door
	if zc.Pub != "" || zc.In != "" || zc.InSub != "" || zc.RPC != "" {
		var err error
		zd, err = zmqdoor.Listen(h, &zc)
		if err != nil && errors.Is(err, syscall.EADDRINUSE) {
			// A default address that is taken only warns: leave those
			// doors off and try again with the rest.
			for _, e := range []struct {
				name string
				p    *string
			}{{"zmq-pub", &zc.Pub}, {"zmq-in", &zc.In}, {"zmq-rpc", &zc.RPC}} {
				if *e.p != "" && !f.explicit(e.name) && addrTaken(*e.p) {
					log.Warn("door off: its default address is taken (give --"+e.name+" to choose another)", "door", e.name, "endpoint", *e.p)
					*e.p = ""
				}
			}
			zd = nil
			if zc.Pub != "" || zc.In != "" || zc.InSub != "" || zc.RPC != "" {
				zd, err = zmqdoor.Listen(h, &zc)
			} else {
				err = nil
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	if zd != nil {
		closers = append(closers, func() { zd.Close() })
		servers = append(servers, zd)
		zd.ServeSocketIO(srv.SocketIO().Of("/"))
		for _, e := range []struct{ what, addr string }{{"zmq-pub", zd.PubAddr()}, {"zmq-in", zd.InAddr()}, {"zmq-in-sub", zd.InSubAddr()}, {"zmq-rpc", zd.RPCAddr()}} {
			if e.addr != "" {
				out(e.what + " on " + e.addr)
			}
		}
	}
	if spec := on(f.udp); spec != "" {
		dc := &dgram.Config{Logger: log.With("door", "udp"), Admit: func(a net.Addr) error {
			if ap, ok := udpAddrPort(a); ok {
				return g.Check("udp", ap)
			}
			return nil
		}}
		if f.token != "" {
			dc.Authenticate = func(a net.Addr, token string) error {
				ap, _ := udpAddrPort(a)
				return g.CheckToken("udp", ap, token)
			}
		}
		ud, err := dgram.Listen(ctx, h, spec, dc)
		switch {
		case err == nil:
			closers = append(closers, func() { ud.Close() })
			servers = append(servers, ud)
			out("udp commands on " + ud.Addr().String())
		case !f.explicit("udp") && errors.Is(err, syscall.EADDRINUSE):
			log.Warn("door off: its default address is taken (give --udp to choose another)", "door", "udp", "endpoint", spec, "err", err)
		default:
			return fail(err)
		}
	}
	for _, rs := range f.mirror {
		room, spec, _ := strings.Cut(rs, "=")
		m, err := dgram.ListenMirror(ctx, h, room, spec, &dgram.MirrorConfig{Logger: log.With("door", "mirror", "room", room)})
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { m.Close() })
		servers = append(servers, m)
		out("room " + room + " mirrored to " + m.GroupAddr().String())
	}
	for _, rs := range f.netlink {
		room, spec, _ := strings.Cut(rs, "=")
		n, err := dgram.ListenNetlink(ctx, h, room, spec, &dgram.NetlinkConfig{Logger: log.With("door", "netlink")})
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { n.Close() })
		servers = append(servers, n)
		out("kernel uevents from " + spec + " in room " + room)
	}
	ctx, cancel := context.WithCancel(ctx)
	d := &doors{cancel: cancel}
	for _, s := range servers {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := s.Serve(ctx); err != nil {
				log.Error("door stopped", "err", err)
				d.mu.Lock()
				d.err = errors.Join(d.err, err)
				d.mu.Unlock()
			}
		}()
	}
	return d, nil
}

// stop stops every door, waits for them and returns what failed.
func (d *doors) stop() error {
	d.cancel()
	d.wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return fmt.Errorf("serve: %w", d.err)
	}
	return nil
}

// udpAddrPort is a's address and port, when a is an IP address.
func udpAddrPort(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	return netip.AddrPort{}, false
}

// addrTaken reports whether the tcp:// endpoint's address cannot be bound
// (it is in use), probing with a listener closed at once.
func addrTaken(ep string) bool {
	hp, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return false
	}
	ln, err := net.Listen("tcp", hp)
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	ln.Close()
	return false
}
