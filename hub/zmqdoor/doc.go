// Package zmqdoor makes ZeroMQ a door of a hub.Hub: services in any
// language meet browsers, IRC users and the rest in the Hub's rooms.
//
// A Door binds up to four sockets, each optional (an empty endpoint in
// Config leaves it off). Any endpoint the zmq package binds is accepted
// (tcp://, ipc://, inproc:// with Config.Socket.Inproc).
//
//   - Pub, an XPUB socket. Subscribe to a room's name to receive what is
//     said there, one message of five frames per line:
//
//     [room, from, text, id, at]
//
//     at is the time the Hub accepted the message, in decimal
//     milliseconds since the Unix epoch (as the Socket.IO door's "at").
//     The door joins a room when the first subscription equal to the
//     room's name arrives and leaves it when the last one goes; a prefix
//     subscription ("lob", or "") receives only rooms some subscriber
//     named in full. Presence goes out under the topic "@presence" (no
//     room name starts with "@"), one message of four frames:
//
//     ["@presence", user, state, room]
//
//     state is "online" or "offline" (room ""), or "joined" or "left"
//     for a room the door is in. The door's own connection is the user
//     Config.Name (default "zmq"). What came in through In or InSub is not
//     published back on Pub: the ZeroMQ side never hears itself.
//     A subscriber that does not keep up loses messages at XPUB's
//     high-water mark (libzmq's policy, Config.Socket.SendHWM), counted
//     in Stats.XPub.Dropped; nobody else waits for it.
//
//   - In, a PULL socket, and InSub, an XSUB socket subscribed to
//     everything (ZeroMQ cannot mix PULL and SUB on one endpoint, so PUSH
//     services connect to In and PUB services to InSub). Each message is
//     [room, text] or [room, text, from]: text is said in room by the user
//     from (default Config.From, "zmq-in"). The door holds one Hub
//     connection per from name (bounded by MaxSpeakers, closed after
//     SpeakerIdle), so each is subject to the Hub's limits and rate.
//     Messages the Hub refuses are counted in Stats.InRefused.
//
//   - RPC, a ROUTER socket for request and reply. Workers connect DEALER
//     sockets and announce each service they serve with the message
//     ["READY", service]. A request goes to one worker of its service
//     (round robin) as [id, body]; the worker answers [id, reply], or
//     [id, reason, "ERROR"] to fail it. A worker that has gone is
//     forgotten at the next request routed to it. Call makes a request
//     from Go; ServeSocketIO lets browsers make one with the Socket.IO
//     event "rpc" {service, body} and an ack (see ServeSocketIO).
//
// Listen binds the sockets; Serve runs the door until its ctx is done and
// then closes everything and waits for its goroutines.
//
// While serving, each socket shows in Hub.Conns as a hub.Watched
// connection (doors "zmq-pub", "zmq-in", "zmq-in-sub", "zmq-rpc"): its
// bound endpoint, its peer's address (or "N peers"), the message and byte
// counters of zmq.Socket.Stats summed over its peers, and the messages
// waiting. Admission and security come from Config.Socket: its
// Endpoint.Admit (hub.Guard.EndpointAdmit fits) sees each accepted peer,
// and its Plain or Curve secures every socket ("switchboard serve --token"
// uses PLAIN with any user name and the token as password).
package zmqdoor
