package irc

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard/switchboard/hub"
)

// version is the server version in 002 and 004.
const version = "switchboard-1"

// send queues one message.
func (c *client) send(m *Message) bool {
	return c.enqueue(m.Append(make([]byte, 0, 64)))
}

// target is the client's nick for numerics, "*" before registration.
func (c *client) target() string {
	if c.registered {
		return c.pendNick
	}
	return "*"
}

// numeric queues ":server NNN nick params... :text".
func (c *client) numeric(code string, params ...string) bool {
	p := make([]string, 0, len(params)+1)
	p = append(p, c.target())
	p = append(p, params...)
	return c.send(&Message{Prefix: c.d.cfg.ServerName, Command: code, Params: p})
}

// self is the client's own prefix.
func (c *client) self() string { return c.pendNick + "!" + c.pendUser + "@" + c.host }

// prefixOf is the prefix of another user: the Hub does not know which
// door a user came through, so every user is name!name@ServerName.
func (c *client) prefixOf(user string) string { return user + "!" + user + "@" + c.d.cfg.ServerName }

// handle handles one line; false means stop reading (QUIT).
func (c *client) handle(line []byte) bool {
	m, err := Parse(line)
	if errors.Is(err, ErrEmpty) {
		return true
	}
	if err != nil {
		c.d.bad.Add(1)
		c.d.log.Debug("bad line", "remote", c.host, "err", err)
		return true
	}
	switch m.Command {
	case "QUIT":
		reason := "Quit"
		if r := m.Param(0); r != "" {
			reason = "Quit: " + r
		}
		c.quit(reason)
		return false
	case "PING":
		if len(m.Params) == 0 || m.Params[0] == "" {
			c.numeric("409", "No origin specified")
			return true
		}
		c.send(&Message{Prefix: c.d.cfg.ServerName, Command: "PONG", Params: []string{c.d.cfg.ServerName, m.Params[0]}})
		return true
	case "PONG", "CAP":
		// PONG: any line resets the idle timer. CAP: not supported;
		// ignoring it lets clients register without capabilities.
		return true
	case "NICK":
		c.cmdNick(&m)
		return true
	case "USER":
		c.cmdUser(&m)
		return true
	case "PASS":
		if c.registered {
			c.numeric("462", "You may not reregister")
		}
		return true
	}
	if !c.registered {
		c.numeric("451", "You have not registered")
		return true
	}
	switch m.Command {
	case "JOIN":
		c.cmdJoin(&m)
	case "PART":
		c.cmdPart(&m)
	case "PRIVMSG", "NOTICE":
		c.cmdMsg(&m)
	case "NAMES":
		c.cmdNames(&m)
	case "TOPIC":
		c.cmdTopic(&m)
	case "MOTD":
		c.motd()
	case "MODE":
		c.cmdMode(&m)
	case "WHO":
		c.cmdWho(&m)
	case "WHOIS":
		c.cmdWhois(&m)
	case "LIST":
		c.cmdList()
	case "ISON":
		c.cmdIson(&m)
	case "AWAY":
		c.numeric("305", "You are no longer marked as being away")
	default:
		c.numeric("421", m.Command, "Unknown command")
	}
	return true
}

func (c *client) cmdNick(m *Message) {
	nick := m.Param(0)
	if nick == "" {
		c.numeric("431", "No nickname given")
		return
	}
	if !c.registered {
		c.pendNick = nick
		c.register()
		return
	}
	if nick == c.pendNick {
		return
	}
	if _, err := c.hc.SetName(nick); err != nil {
		c.nameError(nick, err)
		return
	}
	old := c.self()
	c.mu.Lock()
	c.nick = nick
	c.mu.Unlock()
	c.pendNick = nick
	c.send(&Message{Prefix: old, Command: "NICK", Params: []string{nick}})
}

// nameError answers a refused nick.
func (c *client) nameError(nick string, err error) {
	switch {
	case errors.Is(err, hub.ErrInvalid):
		c.numeric("432", nick, "Erroneous nickname")
	case errors.Is(err, hub.ErrLimit):
		c.numeric("433", nick, "Nickname is already in use")
	case errors.Is(err, hub.ErrInRoom):
		c.numeric("400", "NICK", "Leave every channel before changing nick")
	default:
		c.failed("NICK", err)
	}
}

// failed reports a refusal that has no numeric of its own (rate, closed).
func (c *client) failed(cmd string, err error) {
	c.numeric("400", cmd, err.Error())
}

func (c *client) cmdUser(m *Message) {
	if c.registered {
		c.numeric("462", "You may not reregister")
		return
	}
	if len(m.Params) < 4 || m.Params[0] == "" {
		c.numeric("461", "USER", "Not enough parameters")
		return
	}
	u := m.Params[0]
	if len(u) > 16 {
		u = u[:16]
	}
	c.pendUser = "~" + strings.Map(func(r rune) rune {
		if r <= ' ' || r == '@' || r == '!' || r == ':' || r >= 0x7f {
			return -1
		}
		return r
	}, u)
	c.realname = m.Params[3]
	c.register()
}

// register completes registration once NICK and USER are in: attach to
// the Hub, take the name, then the welcome, then the events that arrived
// meanwhile (the client's own "logged in" among them).
func (c *client) register() {
	if c.pendNick == "" || c.pendUser == "" {
		return
	}
	d := c.d
	if c.hc == nil {
		hc, err := d.h.Attach(c)
		if err != nil {
			c.quit("server full")
			return
		}
		c.hc = hc
	}
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
	if _, err := c.hc.SetName(c.pendNick); err != nil {
		c.mu.Lock()
		c.holding, c.held = false, nil
		c.mu.Unlock()
		c.nameError(c.pendNick, err)
		c.pendNick = ""
		return
	}
	c.registered = true
	c.mu.Lock()
	c.nick = c.pendNick
	c.user = c.pendUser
	c.mu.Unlock()
	srv := d.cfg.ServerName
	c.numeric("001", "Welcome to the "+d.cfg.Network+" IRC network "+c.self())
	c.numeric("002", "Your host is "+srv+", running version "+version)
	c.numeric("003", "This server was created "+d.created.UTC().Format(time.RFC1123))
	c.numeric("004", srv, version, "i", "nt")
	c.numeric("005", "CHANTYPES=#", "CASEMAPPING=ascii", "NICKLEN=32", "CHANNELLEN=65",
		"TOPICLEN=2000", "PREFIX=", "CHANMODES=,,,nt", "NETWORK="+d.cfg.Network, "are supported by this server")
	c.motd()
	c.release()
}

func (c *client) motd() {
	if len(c.d.cfg.MOTD) == 0 {
		c.numeric("422", "MOTD File is missing")
		return
	}
	c.numeric("375", "- "+c.d.cfg.ServerName+" Message of the day - ")
	for _, l := range c.d.cfg.MOTD {
		c.numeric("372", "- "+l)
	}
	c.numeric("376", "End of /MOTD command.")
}

// room maps a channel name to a room: "#lobby" is the room "lobby".
func room(channel string) (string, bool) {
	if len(channel) < 2 || channel[0] != '#' {
		return "", false
	}
	return channel[1:], true
}

func (c *client) cmdJoin(m *Message) {
	if len(m.Params) == 0 {
		c.numeric("461", "JOIN", "Not enough parameters")
		return
	}
	if m.Params[0] == "0" {
		for _, r := range c.hc.Rooms() {
			c.part("#"+r, "Left all channels")
		}
		return
	}
	for _, ch := range strings.Split(m.Params[0], ",") {
		r, ok := room(ch)
		if !ok {
			c.numeric("403", ch, "No such channel")
			continue
		}
		members, err := c.hc.Join(r)
		switch {
		case err == nil:
		case errors.Is(err, hub.ErrInvalid):
			c.numeric("403", ch, "No such channel")
			continue
		case errors.Is(err, hub.ErrLimit):
			c.numeric("405", ch, "You have joined too many channels")
			continue
		default:
			c.failed("JOIN", err)
			continue
		}
		c.send(&Message{Prefix: c.self(), Command: "JOIN", Params: []string{ch}})
		if t := c.d.h.Topic(r); t != "" {
			c.numeric("332", ch, c.fit(t, 64+len(ch)))
		}
		c.names(ch, members)
	}
}

func (c *client) cmdPart(m *Message) {
	if len(m.Params) == 0 {
		c.numeric("461", "PART", "Not enough parameters")
		return
	}
	for _, ch := range strings.Split(m.Params[0], ",") {
		c.part(ch, m.Param(1))
	}
}

func (c *client) part(ch, reason string) {
	r, ok := room(ch)
	if !ok {
		c.numeric("403", ch, "No such channel")
		return
	}
	err := c.hc.Leave(r)
	switch {
	case err == nil:
		p := []string{ch}
		if reason != "" {
			p = append(p, reason)
		}
		c.send(&Message{Prefix: c.self(), Command: "PART", Params: p})
	case errors.Is(err, hub.ErrInvalid):
		c.numeric("403", ch, "No such channel")
	case errors.Is(err, hub.ErrNotInRoom):
		c.numeric("442", ch, "You're not on that channel")
	default:
		c.failed("PART", err)
	}
}

// ctcpAction is the CTCP ACTION ("/me") wrapper.
const ctcpAction = "\x01ACTION "

// inText turns IRC text into hub text: "/me does" for a CTCP ACTION,
// formatting codes (bold, colours, ...) removed. ok is false for other
// CTCP requests, which are not relayed.
func inText(s string) (string, bool) {
	if strings.HasPrefix(s, ctcpAction) {
		s = "/me " + strings.TrimSuffix(s[len(ctcpAction):], "\x01")
	} else if strings.HasPrefix(s, "\x01") {
		return "", false
	}
	if !strings.ContainsFunc(s, isFormat) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == 0x03 { // colour: \x03[fg[,bg]]
			j := i + 1
			for k := 0; k < 2 && j < len(s) && isDigitByte(s[j]); k++ {
				j++
			}
			if j > i+1 && j+1 < len(s) && s[j] == ',' && isDigitByte(s[j+1]) {
				j += 2
				if j < len(s) && isDigitByte(s[j]) {
					j++
				}
			}
			i = j - 1
			continue
		}
		if ch < 0x20 && ch != '\t' {
			continue
		}
		b.WriteByte(ch)
	}
	return b.String(), true
}

func isFormat(r rune) bool { return r < 0x20 && r != '\t' }

func isDigitByte(b byte) bool { return b >= '0' && b <= '9' }

func (c *client) cmdMsg(m *Message) {
	notice := m.Command == "NOTICE"
	if len(m.Params) == 0 || m.Params[0] == "" {
		if !notice {
			c.numeric("411", "No recipient given ("+m.Command+")")
		}
		return
	}
	text, ok := inText(m.Param(1))
	if !ok {
		return
	}
	if len(m.Params) < 2 || strings.TrimSpace(text) == "" {
		if !notice {
			c.numeric("412", "No text to send")
		}
		return
	}
	targets := strings.Split(m.Params[0], ",")
	if len(targets) > 4 {
		targets = targets[:4]
	}
	for _, to := range targets {
		var err error
		if r, ok := room(to); ok {
			_, err = c.hc.Say(r, text)
		} else {
			_, err = c.hc.Tell(to, text)
		}
		if err == nil || notice {
			continue
		}
		switch {
		case to != "" && to[0] == '#' && errors.Is(err, hub.ErrNotInRoom):
			c.numeric("404", to, "Cannot send to channel")
		case to != "" && to[0] == '#' && errors.Is(err, hub.ErrInvalid) && !validText(text):
			c.numeric("412", "No text to send")
		case to != "" && to[0] == '#' && errors.Is(err, hub.ErrInvalid):
			c.numeric("403", to, "No such channel")
		case errors.Is(err, hub.ErrNoUser), errors.Is(err, hub.ErrInvalid) && to[0] != '#':
			c.numeric("401", to, "No such nick/channel")
		default:
			c.failed(m.Command, err)
		}
	}
}

// validText reports whether the Hub would take s as text (its check is
// unexported: valid UTF-8 and not blank is what differs from IRC here).
func validText(s string) bool { return utf8.ValidString(s) && strings.TrimSpace(s) != "" }

func (c *client) cmdNames(m *Message) {
	if len(m.Params) == 0 {
		c.numeric("366", "*", "End of /NAMES list.")
		return
	}
	for _, ch := range strings.Split(m.Params[0], ",") {
		var members []string
		if r, ok := room(ch); ok {
			members = c.d.h.Members(r)
		}
		c.names(ch, members)
	}
}

// names sends 353 lines (as many as the line length needs) and 366.
func (c *client) names(ch string, members []string) {
	budget := c.d.cfg.MaxLine - len(c.d.cfg.ServerName) - len(c.pendNick) - len(ch) - 16
	var line []string
	n := 0
	flush := func() {
		if len(line) > 0 {
			c.numeric("353", "=", ch, strings.Join(line, " "))
			line, n = line[:0], 0
		}
	}
	for _, u := range members {
		if n+len(u)+1 > budget {
			flush()
		}
		line = append(line, u)
		n += len(u) + 1
	}
	flush()
	c.numeric("366", ch, "End of /NAMES list.")
}

func (c *client) cmdTopic(m *Message) {
	if len(m.Params) == 0 {
		c.numeric("461", "TOPIC", "Not enough parameters")
		return
	}
	ch := m.Params[0]
	r, ok := room(ch)
	if !ok {
		c.numeric("403", ch, "No such channel")
		return
	}
	if len(m.Params) == 1 {
		if c.d.h.Members(r) == nil {
			c.numeric("403", ch, "No such channel")
			return
		}
		if t := c.d.h.Topic(r); t != "" {
			c.numeric("332", ch, c.fit(t, 64+len(ch)))
		} else {
			c.numeric("331", ch, "No topic is set")
		}
		return
	}
	text, _ := inText(m.Params[1])
	err := c.hc.SetTopic(r, text)
	switch {
	case err == nil: // the "topic" event echoes it
	case errors.Is(err, hub.ErrNotInRoom):
		c.numeric("442", ch, "You're not on that channel")
	case errors.Is(err, hub.ErrInvalid):
		c.failed("TOPIC", err)
	default:
		c.failed("TOPIC", err)
	}
}

func (c *client) cmdMode(m *Message) {
	if len(m.Params) == 0 {
		c.numeric("461", "MODE", "Not enough parameters")
		return
	}
	t := m.Params[0]
	if r, ok := room(t); ok {
		if c.d.h.Members(r) == nil {
			c.numeric("403", t, "No such channel")
			return
		}
		switch {
		case len(m.Params) == 1:
			c.numeric("324", t, "+nt")
		case strings.Trim(m.Params[1], "+") == "b":
			c.numeric("368", t, "End of channel ban list")
		default:
			c.numeric("482", t, "Channel modes cannot be changed here")
		}
		return
	}
	if t != c.pendNick {
		c.numeric("502", "Cannot change mode for other users")
		return
	}
	c.numeric("221", "+i")
}

func (c *client) cmdWho(m *Message) {
	mask := m.Param(0)
	var users []string
	if r, ok := room(mask); ok {
		users = c.d.h.Members(r)
	} else if mask != "" && c.online(mask) {
		users = []string{mask}
	}
	if mask == "" {
		mask = "*"
	}
	for _, u := range users {
		c.numeric("352", mask, u, c.d.cfg.ServerName, c.d.cfg.ServerName, u, "H", "0 "+u)
	}
	c.numeric("315", mask, "End of /WHO list.")
}

func (c *client) online(nick string) bool {
	for _, u := range c.d.h.Online() {
		if u == nick {
			return true
		}
	}
	return false
}

func (c *client) cmdWhois(m *Message) {
	nick := m.Param(len(m.Params) - 1)
	if nick == "" {
		c.numeric("431", "No nickname given")
		return
	}
	if !c.online(nick) {
		c.numeric("401", nick, "No such nick/channel")
	} else {
		c.numeric("311", nick, nick, c.d.cfg.ServerName, "*", nick)
		c.numeric("312", nick, c.d.cfg.ServerName, c.d.cfg.Network)
	}
	c.numeric("318", nick, "End of /WHOIS list.")
}

func (c *client) cmdList() {
	c.numeric("321", "Channel", "Users  Name")
	for _, r := range c.d.h.Rooms() {
		c.numeric("322", "#"+r, strconv.Itoa(len(c.d.h.Members(r))), c.fit(c.d.h.Topic(r), 64+len(r)))
	}
	c.numeric("323", "End of /LIST")
}

func (c *client) cmdIson(m *Message) {
	on := map[string]bool{}
	for _, u := range c.d.h.Online() {
		on[u] = true
	}
	var out []string
	for _, p := range m.Params {
		for _, n := range strings.Fields(p) {
			if on[n] {
				out = append(out, n)
			}
		}
	}
	c.numeric("303", strings.Join(out, " "))
}

// fit cuts s to what fits in a line beside overhead bytes.
func (c *client) fit(s string, overhead int) string {
	limit := c.d.cfg.MaxLine - overhead - len(c.d.cfg.ServerName) - len(c.pendNick)
	if len(s) <= limit {
		return s
	}
	return cutUTF8(s, limit)
}

// cutUTF8 returns the longest prefix of s of at most n bytes that ends on
// a rune boundary.
func cutUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
