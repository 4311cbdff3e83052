package irc

import (
	"strings"

	"github.com/switchboard/switchboard/hub"
)

// Deliver turns a Hub event into IRC lines and queues them; it never
// blocks. A full queue fails it (the Hub then detaches the client and
// calls Close).
//
//	said      :from!from@server PRIVMSG #room :text     (one line per line of text)
//	told      :from!from@server PRIVMSG nick :text
//	joined    :user!user@server JOIN #room              (not for the client's own user)
//	left      :user!user@server PART #room              (idem)
//	topic     :user!user@server TOPIC #room :topic
//	presence  :server NOTICE nick :*** user has logged in   (or "logged out")
func (c *client) Deliver(ev *hub.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding {
		c.held = append(c.held, ev)
		return nil
	}
	return c.deliverLocked(ev)
}

// release ends the hold of registration: the events held meanwhile are
// queued after the welcome, in order.
func (c *client) release() {
	c.mu.Lock()
	held := c.held
	c.holding, c.held = false, nil
	for _, ev := range held {
		if c.deliverLocked(ev) != nil {
			break
		}
	}
	c.mu.Unlock()
}

// deliverLocked renders and queues ev; c.mu is held.
func (c *client) deliverLocked(ev *hub.Event) error {
	if c.closing {
		return nil
	}
	start := len(c.out)
	b := c.out
	switch ev.Kind {
	case hub.EventSaid:
		b = c.appendText(b, ev.User, "#"+ev.Room, ev.Text)
	case hub.EventTold:
		b = c.appendText(b, ev.User, ev.To, ev.Text)
	case hub.EventJoined, hub.EventLeft:
		if ev.User == c.nick {
			return nil // the client's own JOIN and PART are echoed by the command
		}
		cmd := "JOIN"
		if ev.Kind == hub.EventLeft {
			cmd = "PART"
		}
		m := Message{Prefix: c.prefixOf(ev.User), Command: cmd, Params: []string{"#" + ev.Room}}
		b = m.Append(b)
	case hub.EventTopic:
		m := Message{Prefix: c.prefixOf(ev.User), Command: "TOPIC", Params: []string{"#" + ev.Room, cutUTF8(ev.Text, c.d.cfg.MaxLine-100-len(ev.Room)-len(ev.User)*2)}}
		b = m.Append(b)
	case hub.EventPresence:
		what := "logged in"
		if ev.State == hub.StateOffline {
			what = "logged out"
		}
		to := c.nick
		if to == "" {
			to = "*" // attached, but its nick was refused: not registered yet
		}
		m := Message{Prefix: c.d.cfg.ServerName, Command: "NOTICE", Params: []string{to, "*** " + ev.User + " has " + what}}
		b = m.Append(b)
	default:
		return nil
	}
	if len(b) > c.d.cfg.Queue {
		c.out = b[:start]
		c.d.slow.Add(1)
		c.d.log.Debug("client too slow, dropping", "remote", c.host)
		return errSendQ
	}
	c.out = b
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close is called by the Hub after a failed Deliver: drop the client.
func (c *client) Close() { c.kill() }

// appendText appends PRIVMSG lines carrying text from user to target:
// one per line of text, each split to fit MaxLine. Hub text "/me does"
// becomes a CTCP ACTION.
func (c *client) appendText(b []byte, user, target, text string) []byte {
	prefix := c.prefixOf(user)
	room := c.d.cfg.MaxLine - len(prefix) - len(target) - len(" PRIVMSG ") - 4 - 2
	for line := range strings.SplitSeq(text, "\n") {
		action := false
		if rest, ok := strings.CutPrefix(line, "/me "); ok {
			line, action = rest, true
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		max := room
		if action {
			max -= len(ctcpAction) + 1
		}
		for line != "" {
			part := cutUTF8(line, max)
			if part == "" { // room too small for one rune: cannot happen with MaxLine >= 512
				break
			}
			line = line[len(part):]
			if action {
				part = ctcpAction + part + "\x01"
			}
			m := Message{Prefix: prefix, Command: "PRIVMSG", Params: []string{target, part}}
			b = m.Append(b)
		}
	}
	return b
}
