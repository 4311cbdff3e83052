// Package irc makes IRC a door of a hub.Hub, and links a room to a
// channel of another IRC network (Relay).
//
// # The door
//
// A Door serves a subset of RFC 1459/2812 on any stream listener (the
// daemon opens tcp://127.0.0.1:6667 with the endpoint package), usable from
// IRC clients (irssi, weechat, python irc) and from nc: lines may end in
// "\n" alone; the server sends "\r\n".
//
// Mapping. A channel "#room" is the Hub's room "room"; channel names are
// case-sensitive, as the Hub's rooms are, and must follow the Hub's room
// syntax (letters, digits and "-_."), else 403. A nick is the Hub's user
// name (same syntax, else 432). Nicks are not owned: a second client
// registering a nick that is online becomes another connection of that
// user (as a second browser tab would), and receives what is told to it;
// 433 means the user holds Config.MaxConnsPerUser connections already.
// The nick can change only while in no channel. Other users appear as
// "name!name@ServerName", whatever door they use.
//
// Commands: NICK, USER, PASS (ignored), CAP (ignored, so clients register
// without capabilities), PING, PONG, QUIT, JOIN (comma lists, "JOIN 0"),
// PART, PRIVMSG and NOTICE to "#room" (the Hub's say) or to a nick (the
// Hub's tell: every connection of that user on every door), NAMES, TOPIC
// (query 331/332, set: the Hub's room topic), MOTD, and enough of MODE,
// WHO, WHOIS, LIST, ISON and AWAY for clients' start-up queries. Replies:
// 001-005 on registration (005: CHANTYPES=# CASEMAPPING=ascii NICKLEN=32
// ...), 375/372/376 or 422, 353/366, 331/332, and the errors 401, 403,
// 404, 405, 409, 411, 412, 417, 421, 431, 432, 433, 442, 451, 461, 462;
// 400 carries the Hub's other refusals (rate limit, "leave every channel
// before changing nick"). NOTICE never gets an error reply. CTCP ACTION
// ("/me") becomes the text "/me ..." in the Hub and back; other CTCP
// requests are dropped, formatting codes removed.
//
// What others do reaches the client as PRIVMSG (said in a room or told to
// the user), JOIN and PART (a user's first connection entering a room,
// its last leaving), TOPIC, and, for presence, a NOTICE from the server:
// "*** ann has logged in" when a user's first connection takes the name,
// "logged out" when its last goes. A client never receives its own
// messages.
//
// Limits. At most Config.MaxClients (1024) clients are connected at once,
// registered or not (registration must end within RegisterTimeout). Lines are at most Config.MaxLine bytes (512; up to 8192): longer
// ones are discarded and answered 417, longer text is split. Output waits
// in a per-client queue of Config.Queue bytes; a client that does not
// read is disconnected when it fills (Stats.Slow), never holding up
// others. The server reads at most Config.LineRate lines a second from a
// client (bursts of LineBurst); the Hub's rate limit applies to what
// others see. A client silent for PingInterval is sent PING and
// disconnected after PingTimeout more ("ERROR :Closing Link: ... (Ping
// timeout)"). When Serve's ctx is done every client receives "ERROR
// :Closing Link: ... (server shutting down)" before the connection
// closes.
//
// # The relay
//
// A Relay links a room to a channel of an upstream network
// ("irc://host:port/#channel?nick=sb&rate=1&burst=4"). It joins the room
// as the user RelayConfig.Nick and the channel with that nick.
// What is said in the room goes upstream as "PRIVMSG #channel :<from>
// text", through a queue of bounded length (dropped lines are counted)
// and a token bucket of rate lines a second in bursts of burst, so the
// relay never floods the far side. What others say in the channel is said
// in the room by the user "nick.up" (the upstream nick with ".up"
// appended, characters the Hub does not take in names replaced by "_"),
// one Hub connection per upstream nick, closed after five idle minutes;
// what came from upstream is not sent back. The link reconnects with
// exponential backoff (1s doubling to 1 min) when it drops.
package irc
