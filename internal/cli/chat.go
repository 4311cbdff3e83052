package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchboard/switchboard/socketio"
)

// chatHelp lists the chat's commands.
const chatHelp = `commands:
  /nick NAME    take a name (needed before joining)
  /join ROOM    join a room; it becomes the current room
  /leave [ROOM] leave the current room (or ROOM)
  /rooms        list the rooms you are in
  /quit         leave the chat (end of input does too)
  anything else is said to the current room`

// chatSayTimeout bounds the wait for the acks of lines still unconfirmed
// when the input ends.
const chatSayTimeout = 5 * time.Second

// runChat is "switchboard chat": a terminal client of the hub's Socket.IO
// chat protocol. Each line said is printed as "… sending #N" and then
// "✓ HH:MM:SS #N" when the server acknowledges it; events of the rooms
// and presence are printed as they come. It reconnects by itself, takes
// its name and rooms again, and sends the lines typed while disconnected.
//
// The goroutine reading stdio.In stops at end of input; when ctx ends
// first, runChat returns without waiting for it (a terminal read cannot
// be interrupted).
func runChat(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlagSet(stdio, "chat", "[flags] [URL (default http://127.0.0.1:8080/)]")
	nick := fs.String("nick", "", "take `NAME` on connect")
	room := fs.String("room", "", "join `ROOM` on connect (with --nick)")
	token := fs.String("token", "", "`TOKEN` the server asks for (serve --token)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the first connection and for each request's answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 || *timeout <= 0 {
		fs.Usage()
		return ErrUsage
	}
	raw := "http://127.0.0.1:8080/"
	if fs.NArg() == 1 {
		raw = fs.Arg(0)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		fmt.Fprintf(stdio.Err, "switchboard chat: bad URL %q: want http://host:port/\n", raw)
		return ErrUsage
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "", "", "", ""

	c := &chat{
		out:       &lockedWriter{w: stdio.Out},
		timeout:   *timeout,
		nick:      *nick,
		connected: make(chan struct{}, 1),
		lost:      make(chan string, 8),
		retry:     make(chan chatLine, 64),
		settled:   make(chan struct{}, 1),
	}
	if *room != "" {
		c.rooms = []string{*room}
		c.current = *room
	}
	m, err := socketio.NewManager(u.String(), &socketio.ClientConfig{
		ReconnectDelay:    250 * time.Millisecond,
		ReconnectDelayMax: 3 * time.Second,
		Timeout:           *timeout,
	})
	if err != nil {
		return err
	}
	defer m.Close()
	scfg := &socketio.SocketConfig{}
	if *token != "" {
		scfg.Auth = map[string]any{"token": *token}
	}
	s := m.Socket("/", scfg)
	c.s = s
	c.handlers()
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	err = s.Connect(cctx)
	cancel()
	var ce *socketio.ConnectError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("chat: refused by the server: %s", ce.Message)
	case errors.Is(err, socketio.ErrReconnectFailed):
		return fmt.Errorf("chat: %w", err)
	case err != nil:
		c.printf("* no answer from %s yet; still trying (%v)", u, err)
	}
	c.printf("* connected to %s — /help for commands", u)

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdio.In)
		sc.Buffer(make([]byte, 0, 4096), 64<<10)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	return c.loop(ctx, lines)
}

// chat is the state of one chat session. The loop goroutine owns nick,
// rooms, current, online and pending; callbacks talk to it by channels.
type chat struct {
	s       *socketio.ClientSocket
	out     *lockedWriter
	timeout time.Duration

	nick    string
	rooms   []string // joined, in join order
	current string
	online  bool       // connected and name and rooms restored
	pending []chatLine // said while offline
	seq     int

	connected chan struct{}  // OnConnect
	lost      chan string    // OnDisconnect reasons
	retry     chan chatLine  // lines whose ack was lost with the connection
	settled   chan struct{}  // an outstanding say was answered
	mu        sync.Mutex     // guards unacked
	unacked   map[int]string // lines sent and not yet answered
}

type chatLine struct {
	n          int
	room, text string
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *chat) printf(format string, args ...any) {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	fmt.Fprintf(c.out.w, format+"\n", args...)
}

func clock(t time.Time) string { return t.Format("15:04:05") }

// handlers prints the server's events and tells the loop about connects.
func (c *chat) handlers() {
	s := c.s
	field := func(args []any, k string) string {
		if len(args) == 0 {
			return ""
		}
		m, _ := args[0].(map[string]any)
		v, _ := m[k].(string)
		return v
	}
	at := func(args []any) time.Time {
		if len(args) > 0 {
			if m, ok := args[0].(map[string]any); ok {
				if ms, ok := m["at"].(float64); ok {
					return time.UnixMilli(int64(ms))
				}
			}
		}
		return time.Now()
	}
	s.On("said", func(args []any, _ socketio.AckFunc) {
		c.printf("%s [%s] %s: %s", clock(at(args)), field(args, "room"), field(args, "from"), field(args, "text"))
	})
	s.On("told", func(args []any, _ socketio.AckFunc) {
		c.printf("%s *%s* %s", clock(at(args)), field(args, "from"), field(args, "text"))
	})
	s.On("joined", func(args []any, _ socketio.AckFunc) {
		c.printf("* %s joined %s", field(args, "user"), field(args, "room"))
	})
	s.On("left", func(args []any, _ socketio.AckFunc) {
		c.printf("* %s left %s", field(args, "user"), field(args, "room"))
	})
	s.On("presence", func(args []any, _ socketio.AckFunc) {
		c.printf("* %s is %s", field(args, "user"), field(args, "state"))
	})
	s.On("topic", func(args []any, _ socketio.AckFunc) {
		c.printf("* %s set the topic of %s: %s", field(args, "user"), field(args, "room"), field(args, "topic"))
	})
	s.On("shutdown", func(args []any, _ socketio.AckFunc) {
		c.printf("* server: %s", field(args, "reason"))
	})
	s.OnConnect(func() {
		select {
		case c.connected <- struct{}{}:
		default:
		}
	})
	s.OnDisconnect(func(reason string) {
		select {
		case c.lost <- reason:
		default:
		}
	})
	s.OnConnectError(func(err error) {
		c.printf("* cannot connect: %v", err)
	})
}

// loop reads commands until the input ends or ctx is done.
func (c *chat) loop(ctx context.Context, lines <-chan string) error {
	for {
		select { // a (re)connect first: lines typed meanwhile wait for it
		case <-c.connected:
			c.restore(ctx)
		default:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.connected:
			c.restore(ctx)
		case reason := <-c.lost:
			if c.online {
				c.printf("* disconnected (%s); reconnecting…", reason)
			}
			c.online = false
		case l := <-c.retry:
			c.pending = append(c.pending, l)
			if c.online {
				c.flush()
			}
		case line, ok := <-lines:
			if !ok {
				c.drain(ctx)
				return nil
			}
			if quit := c.command(ctx, strings.TrimSpace(line)); quit {
				c.drain(ctx)
				return nil
			}
		}
	}
}

// drain waits, for at most chatSayTimeout, for the acks of lines sent.
func (c *chat) drain(ctx context.Context) {
	deadline := time.NewTimer(chatSayTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		n := len(c.unacked)
		c.mu.Unlock()
		if n == 0 && len(c.pending) == 0 {
			return
		}
		select {
		case <-c.settled:
		case <-c.connected:
			c.restore(ctx)
		case l := <-c.retry:
			c.pending = append(c.pending, l)
			if c.online {
				c.flush()
			}
		case reason := <-c.lost:
			c.online = false
			c.printf("* disconnected (%s)", reason)
		case <-deadline.C:
			c.printf("* %d line(s) not confirmed", n+len(c.pending))
			return
		case <-ctx.Done():
			return
		}
	}
}

// request sends a request and waits for its answer: {ok:true, ...} or the
// error it carries.
func (c *chat) request(ctx context.Context, event string, arg any) (map[string]any, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	args, err := c.s.EmitWithAck(rctx, event, arg)
	if err != nil {
		return nil, err
	}
	return ackResult(args)
}

func ackResult(args []any) (map[string]any, error) {
	var m map[string]any
	if len(args) > 0 {
		m, _ = args[0].(map[string]any)
	}
	if ok, _ := m["ok"].(bool); !ok {
		code, _ := m["code"].(string)
		msg, _ := m["error"].(string)
		if code == "" && msg == "" {
			msg = "malformed answer"
		}
		return nil, fmt.Errorf("%s: %s", code, msg)
	}
	return m, nil
}

func names(m map[string]any, k string) string {
	v, _ := m[k].([]any)
	out := make([]string, 0, len(v))
	for _, x := range v {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// restore takes the name and rooms again after a (re)connect, then sends
// the lines typed while offline.
func (c *chat) restore(ctx context.Context) {
	if c.nick != "" {
		m, err := c.request(ctx, "nick", c.nick)
		if err != nil {
			c.printf("! /nick %s: %v", c.nick, err)
			return
		}
		c.printf("* you are %s; online: %s", c.nick, names(m, "online"))
		for _, r := range c.rooms {
			m, err := c.request(ctx, "join", r)
			if err != nil {
				c.printf("! /join %s: %v", r, err)
				continue
			}
			c.printf("* in %s with %s", r, names(m, "members"))
		}
	}
	c.online = true
	c.flush()
}

// flush sends the lines held while offline.
func (c *chat) flush() {
	p := c.pending
	c.pending = nil
	for _, l := range p {
		c.send(l)
	}
}

// command handles one input line; it reports whether to quit.
func (c *chat) command(ctx context.Context, line string) bool {
	if line == "" {
		return false
	}
	if !strings.HasPrefix(line, "/") {
		if c.current == "" {
			c.printf("! join a room first: /join ROOM")
			return false
		}
		c.seq++
		l := chatLine{n: c.seq, room: c.current, text: line}
		if !c.online {
			c.printf("… waiting for the connection #%d [%s] %s", l.n, l.room, l.text)
			c.pending = append(c.pending, l)
			return false
		}
		c.send(l)
		return false
	}
	cmd, arg, _ := strings.Cut(line[1:], " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "quit", "exit":
		return true
	case "help":
		c.printf("%s", chatHelp)
	case "rooms":
		c.printf("* rooms: %s (current: %s)", strings.Join(c.rooms, " "), c.current)
	case "nick":
		if arg == "" {
			c.printf("! /nick NAME")
			return false
		}
		m, err := c.request(ctx, "nick", arg)
		if err != nil {
			c.printf("! /nick %s: %v", arg, err)
			return false
		}
		c.nick = arg
		c.printf("* you are %s; online: %s", arg, names(m, "online"))
	case "join":
		if arg == "" {
			c.printf("! /join ROOM")
			return false
		}
		m, err := c.request(ctx, "join", arg)
		if err != nil {
			c.printf("! /join %s: %v", arg, err)
			return false
		}
		if !slices.Contains(c.rooms, arg) {
			c.rooms = append(c.rooms, arg)
		}
		c.current = arg
		c.printf("* in %s with %s", arg, names(m, "members"))
	case "leave", "part":
		r := arg
		if r == "" {
			r = c.current
		}
		if r == "" {
			c.printf("! you are in no room")
			return false
		}
		if _, err := c.request(ctx, "leave", r); err != nil {
			c.printf("! /leave %s: %v", r, err)
			return false
		}
		c.rooms = slices.DeleteFunc(c.rooms, func(x string) bool { return x == r })
		if c.current == r {
			c.current = ""
			if len(c.rooms) > 0 {
				c.current = c.rooms[len(c.rooms)-1]
			}
		}
		c.printf("* left %s", r)
	default:
		c.printf("! unknown command /%s; /help lists them", cmd)
	}
	return false
}

// send says a line and prints its confirmation when the ack comes.
func (c *chat) send(l chatLine) {
	c.mu.Lock()
	if c.unacked == nil {
		c.unacked = map[int]string{}
	}
	c.unacked[l.n] = l.text
	c.mu.Unlock()
	c.printf("… sending #%d [%s] %s", l.n, l.room, l.text)
	err := c.s.EmitWithAckFunc(func(args []any, err error) {
		defer func() {
			select {
			case c.settled <- struct{}{}:
			default:
			}
		}()
		if errors.Is(err, socketio.ErrDisconnected) {
			select {
			case c.retry <- l: // sent again once reconnected; still owed
				return
			default:
			}
		}
		c.mu.Lock()
		delete(c.unacked, l.n)
		c.mu.Unlock()
		if err == nil {
			var m map[string]any
			if m, err = ackResult(args); err == nil {
				t := time.Now()
				if ms, ok := m["at"].(float64); ok {
					t = time.UnixMilli(int64(ms))
				}
				c.printf("✓ %s #%d [%s] %s", clock(t), l.n, l.room, l.text)
				return
			}
		}
		c.printf("✗ #%d [%s] %s: %v", l.n, l.room, l.text, err)
	}, "say", map[string]any{"room": l.room, "text": l.text})
	if err != nil {
		c.mu.Lock()
		delete(c.unacked, l.n)
		c.mu.Unlock()
		c.printf("✗ #%d: %v", l.n, err)
	}
}
