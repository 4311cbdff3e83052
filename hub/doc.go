// Package hub is the switchboard daemon as a library: a protocol-free core
// of users, rooms and presence, and the doors that connect protocols to it.
// The Socket.IO door and the chat web page are here; other doors live in
// sub-packages (irc, zmqdoor, dgram) and speak the same core.
//
// Entry points:
//
//   - NewServer returns a Server: the chat page at "/" and the Socket.IO
//     door at "/socket.io/" on one Hub; Server.Serve runs it on a listener
//     until its ctx is done (what "switchboard serve" does).
//   - New returns a Hub, the core. Doors Attach a Peer per connection and
//     get a Conn whose methods (SetName, Join, Leave, Say, Close) are the
//     chat's requests; the Hub calls Peer.Deliver with the Events for that
//     connection, in order, from one goroutine at a time.
//   - ServeSocketIO makes a socketio.Namespace a door of a Hub.
//   - Package hub/irc is the IRC door ("#room" is the room "room") and
//     the relay of a room to a channel on another IRC network.
//   - WebHandler serves the chat page (WebFS: index.html, app.js, style.css
//     and sb.js, a small Socket.IO client written for this page: Engine.IO 4
//     over WebSocket or long-polling with upgrade, Socket.IO 5 events and
//     acks, reconnect with backoff).
//
// # The chat protocol (Socket.IO door)
//
// Client to server events, each with an ack:
//
//	nick  name           → {ok:true, nick, online:[user...]}
//	join  room           → {ok:true, room, members:[user...], topic}
//	leave room           → {ok:true, room}
//	say   {room, text}   → {ok:true, id, at}
//	tell  {to, text}     → {ok:true, id, at}     to every connection of user to
//	topic {room, topic}  → {ok:true, room, topic} ("" clears it)
//
// A failed request is acked {ok:false, code, error}, where code is one of
// "invalid", "no_name", "in_room", "not_in_room", "no_user", "limit", "rate", "closed"
// (see Code) and error a sentence. at is milliseconds since the Unix epoch.
//
// Server to client events:
//
//	said     {room, from, text, id, at}  to the room's members except the sending connection
//	joined   {room, user}                to the room, when a user's first connection joins
//	left     {room, user}                to the room, when a user's last connection leaves
//	presence {user, state}               to everyone; state "online" when a user's first
//	                                     connection takes the name, "offline" when its last goes
//	told     {from, to, text, id, at}    to every connection of user to except the sending one
//	topic    {room, user, topic}         to the room, the setting connection included
//
// Scopes: say reaches a room, tell a user (all of that user's
// connections, on every door: the user scope), presence everyone (the
// application scope). A room's topic is one line of text; it lasts while
// the room has members.
//
// Names and rooms are 1 to 32 (names) or 64 (rooms) bytes of ASCII letters,
// digits and "-_.", not starting with one of "-_."; they are case-sensitive.
// Text is valid UTF-8 without control characters other than tab and
// newline, up to 2000 bytes. One user may hold several connections (tabs);
// a connection changes its name only while in no room. Every count is
// bounded (see Config), and each connection may make 10 requests a second
// that others see (say, join, leave, a new name), in bursts of up to 20.
//
// # Limits and slow clients
//
// A request returns once its events are in the recipients' send queues,
// so a reply never overtakes the events it caused. A Socket.IO client
// whose bounded queue is full is disconnected by socketio and leaves the
// Hub like any other. Browsers from other origins are refused unless
// listed in ServerConfig.AllowedOrigins.
//
// # Watch and protect
//
// A Hub is a monitor.Source: Hub.Conns lists every connection with its
// door, addresses, user, rooms and counters (a door's Peer reports them by
// implementing Watched). A Server serves them at /api/conns (JSON),
// /metrics (Prometheus text) and the live page /stats; with
// ServerConfig.AdminToken the data needs "Authorization: Bearer TOKEN",
// without one only loopback clients get it. ServerConfig.Protect
// (ProtectConfig) sets admission by remote network and an Admit callback,
// checked before a connection is accepted, connections per address and a
// client token (Socket.IO auth {token}); Server.Guard offers the same
// checks to other doors (Guard.EndpointAdmit for endpoint.Config.Admit,
// Hold/Release, CheckToken). Audit records (bind, accept, refuse, auth
// failure, join, leave, close, shutdown) carry audit=true. On shutdown
// every Socket.IO client gets a "shutdown" event {reason} after what was
// already queued for it, then the close.
//
// The examples are the best way to understand how to use this package.
package hub
