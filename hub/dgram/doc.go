// Package dgram makes datagram sockets doors of a hub.Hub: a UDP command
// door (one command per datagram, replies to the sender), a multicast
// mirror of a room, and a read-only netlink door that says kernel uevents
// in a room. Each takes any datagram endpoint of the endpoint package
// ("udp://127.0.0.1:7000", "unixgram:///run/sb.sock",
// "udp://239.1.2.3:7000?iface=eth0", "netlink://kobject-uevent") or an
// already open net.PacketConn.
//
// # The command door
//
// Each datagram is one command, its verb case-insensitive, its arguments
// separated by one space (the text of SAY is the rest of the datagram):
//
//	NICK name         → OK NICK name <online users, comma-separated>
//	JOIN room         → OK JOIN room <members, comma-separated>
//	PART room         → OK PART room
//	SAY room text     → OK SAY id at
//	NAMES room        → OK NAMES room <members>
//	PING [token]      → PONG [token]
//	QUIT              → OK QUIT (the sender's connection is closed)
//
// A failed command is answered "ERR code sentence", code as in hub.Code
// ("invalid", "no_name", "rate", ...) or "unknown" for an unknown verb.
// at is milliseconds since the Unix epoch. The Hub's events go to the
// sender as datagrams:
//
//	SAID room from id at text
//	JOINED room user
//	LEFT room user
//	PRESENCE user online|offline
//
// Each sender address is one Hub connection, made at its first datagram
// and closed after Config.IdleTimeout without one ("BYE idle" is sent);
// at most Config.MaxSenders exist at once (others are answered "ERR limit
// ..."). Datagrams to a sender wait in a bounded queue (Config.Queue per
// sender); when it is full they are dropped and counted: a sender that
// does not read cannot hold up anyone.
//
// Config.Admit sees each new sender address before it is attached (a
// refused one is answered "ERR refused reason" once and its datagrams are
// counted in Stats.Refused). With Config.Authenticate set, a new sender's
// first datagram must be "AUTH token" (answered "OK AUTH"); anything else
// is answered "ERR ..." until then. Every sender, mirror and netlink door
// is a hub.Watched connection (doors "udp", "mirror", "netlink") in
// Hub.Conns, with its datagrams and bytes each way and its queue.
//
// # The multicast mirror
//
// A Mirror joins a room as the user Config.Name (default "mirror") and
// sends what is said there to a group as datagrams "from<TAB>text";
// datagrams from the group ("from<TAB>text", or just text, said as
// "mcast") are said in the room by one Hub connection per from name. What
// came from the group is not sent back to it, and the mirror's own
// datagrams, looped back by the kernel, are recognised by their source
// address and dropped: no echo loops, even between two mirrors of one
// group. Presence is not mirrored. A line that does not fit the path MTU
// is not fragmented: the endpoint refuses it and the mirror counts it in
// MirrorStats.Dropped.
//
// # The netlink door
//
// A Netlink door joins a room as the user "kernel" and says each kernel
// uevent there: its header ("add@/devices/...") and its KEY=VALUE fields,
// one per line. It never reads the room. The Hub's rate limit applies to
// the "kernel" user as to any other (Config.Rate, Burst): uevents over it
// are counted in NetlinkStats.Refused. Network-device uevents belong to
// the network namespace the socket was opened in.
package dgram
