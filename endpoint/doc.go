// Package endpoint opens every kind of socket switchboard speaks through one
// address syntax, with socket options spelled out and validated.
//
// An address names a transport, its address and options as query
// parameters:
//
//	tcp://127.0.0.1:7000?nodelay=1&keepalive=30s   tcp://[::1]:7000   tcp://:7000 (loopback)
//	unix:///run/sb.sock   unix://@name (abstract)   unixgram:///run/d.sock
//	udp://127.0.0.1:7000   udp://239.1.2.3:7000?iface=eth0&mcastloop=0 (multicast)
//	vsock://2:5000   vsock://:5000   vsock:2:5000 (systemd's form)
//	netlink://kobject-uevent   netlink://audit?group=1
//	fd://3   fd://web (systemd socket activation: LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES)
//	tls://host:443?cert=c.pem&key=k.pem&ca=clients.pem   tls+unix:///run/s.sock?selfsigned=1
//	ws://127.0.0.1:8080/path   wss://host/path   ws+unix:///run/w.sock?path=/x
//	ipc:///tmp/z.ipc (ZeroMQ's, = unix)   inproc://name (an abstract socket private to this process)
//
// Entry points, one line each:
//
//   - Parse and Endpoint.String read and print addresses (a round trip).
//   - Listen returns a *Listener (net.Listener) for stream endpoints.
//   - ListenPacket returns a *PacketConn (net.PacketConn) for datagram endpoints.
//   - Dial returns a *Conn (net.Conn), stream or connected datagram.
//   - SelfSigned makes a development certificate.
//
// # Options
//
// Options (see Options for each) come from the query and from
// Config.Options; the query wins field by field. Each is checked against the
// protocol and the direction before any socket is opened: an unknown option,
// or one that does not apply (nodelay on udp, timestamp on tcp, backlog on a
// dial, source on a listener), is an *OptionError naming the option and the
// protocol, matching ErrUnknownOption, ErrNotApplicable, ErrListenOnly or
// ErrDialOnly. Options are set with setsockopt inside RawConn.Control, before
// bind or connect where that matters.
//
// Defaults are the kernel's, stated: TCP_NODELAY off (Go's net package
// turns it on), no keep-alive (Go's 15 s is not applied), plain TCP rather
// than Go's MPTCP default for listeners (mptcp=1 asks for it), loopback when
// no host is given. UDP sockets refuse datagrams above the path MTU
// (IP_PMTUDISC_DO) with a *DatagramSizeError rather than fragmenting.
//
// # Connections
//
// Every *Conn counts messages and bytes in each direction, knows the
// listener address that accepted it (AcceptedBy) beside its own local
// address, keeps both addresses readable as text after Close, and reads
// TCP_INFO (RTT, segments, bytes) for TCP, keeping the last figures after
// Close.
//
// # Platforms
//
// The socket options, vsock, netlink and fd:// are Linux only; elsewhere
// they return errors saying so, and the package still builds. Where the
// kernel has no vsock transport (not a VM and no vsock_loopback), vsock
// dials fail with ErrNoVsock.
//
// The examples are the best way to understand how to use this package.
package endpoint
