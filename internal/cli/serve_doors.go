package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/switchboard/switchboard/hub"
	"github.com/switchboard/switchboard/hub/dgram"
	"github.com/switchboard/switchboard/hub/zmqdoor"
)

// doorFlags are serve's flags for the ZeroMQ, datagram, multicast and
// netlink doors. Every door is off unless its flag names an endpoint.
type doorFlags struct {
	zmqPub, zmqIn, zmqInSub, zmqRPC, udp *string
	mirror, netlink                      roomSpecs
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
		zmqPub:   fs.String("zmq-pub", "", "ZeroMQ XPUB `ENDPOINT` (e.g. tcp://127.0.0.1:5556): subscribe to a room to get [room, from, text, id, at], or to @presence; \"\" or off: none"),
		zmqIn:    fs.String("zmq-in", "", "ZeroMQ PULL `ENDPOINT` (e.g. tcp://127.0.0.1:5555) that PUSH services send [room, text(, from)] to"),
		zmqInSub: fs.String("zmq-in-sub", "", "ZeroMQ XSUB `ENDPOINT` that PUB services connect to, sending [room, text(, from)]"),
		zmqRPC:   fs.String("zmq-rpc", "", "ZeroMQ ROUTER `ENDPOINT` (e.g. tcp://127.0.0.1:5557) DEALER workers serve the Socket.IO event rpc {service, body} on"),
		udp:      fs.String("udp", "", "datagram command `ENDPOINT` (e.g. udp://127.0.0.1:7000): NICK, JOIN, PART, SAY, NAMES, PING, QUIT, one per datagram"),
	}
	fs.Var(&f.mirror, "mirror", "mirror a room to a multicast group: `ROOM=udp://239.x.y.z:port?iface=NAME` (repeatable)")
	fs.Var(&f.netlink, "netlink", "say kernel uevents in a room: `ROOM=netlink://kobject-uevent` (repeatable)")
	return f
}

func on(s *string) string {
	if *s == "off" {
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
	zc := zmqdoor.Config{Pub: on(f.zmqPub), In: on(f.zmqIn), InSub: on(f.zmqInSub), RPC: on(f.zmqRPC), Logger: log.With("door", "zmq")}
	if zc.Pub != "" || zc.In != "" || zc.InSub != "" || zc.RPC != "" {
		zd, err := zmqdoor.Listen(h, &zc)
		if err != nil {
			return fail(err)
		}
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
		ud, err := dgram.Listen(ctx, h, spec, &dgram.Config{Logger: log.With("door", "udp")})
		if err != nil {
			return fail(err)
		}
		closers = append(closers, func() { ud.Close() })
		servers = append(servers, ud)
		out("udp commands on " + ud.Addr().String())
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
