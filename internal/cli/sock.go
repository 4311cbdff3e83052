package cli

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard/switchboard/zmq"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// sockTypes maps the names the sock command accepts to socket types.
var sockTypes = map[string]zmq.Type{
	"pair": zmq.Pair, "pub": zmq.Pub, "sub": zmq.Sub, "req": zmq.Req, "rep": zmq.Rep,
	"dealer": zmq.Dealer, "router": zmq.Router, "pull": zmq.Pull, "push": zmq.Push,
	"xpub": zmq.XPub, "xsub": zmq.XSub,
}

// sockOpts is a parsed sock command line.
type sockOpts struct {
	typ        zmq.Type
	binds      stringList
	connects   stringList
	subscribes stringList
	count      int
	delim      string
	echo       bool
	linger     time.Duration
}

const sockUsage = `TYPE [--bind EP]... [--connect EP]... [--subscribe PREFIX]... [--count N] [--delim D] [--echo]

A ZeroMQ socket on the terminal. TYPE is pair, pub, sub, req, rep, dealer,
router, push, pull, xpub or xsub. Each stdin line is sent as one message
(split into frames at D with --delim); each message received is printed as
one line, its frames joined by D ("|" without --delim). A frame that is not
printable text (a ROUTER routing id) is printed as 0x followed by hex, and an
input frame written that way is sent as those bytes. REQ prints each reply;
REP answers each request with the next stdin line, or with the request
itself given --echo. Bound endpoints are reported on stderr ("tcp://...:*"
picks a free port).
`

// runSock is `switchboard sock`.
func runSock(ctx context.Context, stdio Stdio, args []string) error {
	o, err := parseSock(stdio, args)
	if err != nil {
		return err
	}
	s, err := zmq.NewSocket(o.typ, &zmq.Config{Linger: o.linger})
	if err != nil {
		return err
	}
	defer s.Close()
	for _, ep := range o.binds {
		if err := s.Bind(ep); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Err, "switchboard sock: bound %s\n", s.LastEndpoint())
	}
	for _, ep := range o.connects {
		if err := s.Connect(ep); err != nil {
			return err
		}
	}
	if o.typ == zmq.Sub || o.typ == zmq.XSub {
		subs := o.subscribes
		if len(subs) == 0 && o.typ == zmq.Sub {
			subs = stringList{""}
		}
		for _, p := range subs {
			if err := s.Subscribe([]byte(p)); err != nil {
				return err
			}
		}
	} else if len(o.subscribes) > 0 {
		return fmt.Errorf("--subscribe applies to sub and xsub, not %s", strings.ToLower(o.typ.String()))
	}
	stop := make(chan struct{})
	defer close(stop)
	lines := newLineSource(stdio.In, stop)
	switch o.typ {
	case zmq.Req:
		return sockReq(ctx, s, o, lines, stdio.Out)
	case zmq.Rep:
		return sockRep(ctx, s, o, lines, stdio.Out)
	}
	canSend := o.typ != zmq.Sub && o.typ != zmq.Pull
	canRecv := o.typ != zmq.Pub && o.typ != zmq.Push
	if !canRecv {
		return sockSendAll(ctx, s, o, lines)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	sendErr := make(chan error, 1)
	if canSend {
		wg.Go(func() {
			// A bidirectional socket keeps receiving after stdin ends.
			if err := sockSendAll(ctx, s, sockOpts{delim: o.delim}, lines); err != nil && ctx.Err() == nil {
				sendErr <- err
				cancel()
			}
		})
	}
	err = sockRecvLoop(ctx, s, o, stdio.Out)
	cancel()
	wg.Wait()
	select {
	case e := <-sendErr:
		return e
	default:
	}
	return err
}

func parseSock(stdio Stdio, args []string) (sockOpts, error) {
	var o sockOpts
	fs := newFlagSet(stdio, "sock", sockUsage)
	fs.Var(&o.binds, "bind", "bind to `EP` (repeatable)")
	fs.Var(&o.connects, "connect", "connect to `EP` (repeatable)")
	fs.Var(&o.subscribes, "subscribe", "subscribe to `PREFIX` (sub, xsub; repeatable; sub defaults to everything)")
	fs.IntVar(&o.count, "count", 0, "exit after `N` messages received (sent, for pub and push); 0: no limit")
	fs.StringVar(&o.delim, "delim", "", "split input lines into frames at `D`, and join output frames with it")
	fs.BoolVar(&o.echo, "echo", false, "rep: answer each request with itself")
	fs.DurationVar(&o.linger, "linger", 5*time.Second, "how long to wait at exit for queued messages to be written")
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	rest := fs.Args()
	if name == "" && len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if name == "" || len(rest) > 0 {
		if name == "" {
			fmt.Fprintln(stdio.Err, "switchboard sock: missing socket TYPE")
		} else {
			fmt.Fprintf(stdio.Err, "switchboard sock: unexpected argument %q\n", rest[0])
		}
		fs.Usage()
		return o, ErrUsage
	}
	typ, ok := sockTypes[strings.ToLower(name)]
	if !ok {
		fmt.Fprintf(stdio.Err, "switchboard sock: unknown socket type %q\n", name)
		fs.Usage()
		return o, ErrUsage
	}
	o.typ = typ
	if len(o.binds)+len(o.connects) == 0 {
		fmt.Fprintln(stdio.Err, "switchboard sock: give at least one --bind or --connect")
		fs.Usage()
		return o, ErrUsage
	}
	if o.count < 0 {
		fmt.Fprintln(stdio.Err, "switchboard sock: --count must not be negative")
		return o, ErrUsage
	}
	if o.echo && typ != zmq.Rep {
		fmt.Fprintln(stdio.Err, "switchboard sock: --echo applies to rep only")
		return o, ErrUsage
	}
	return o, nil
}

// lineSource reads stdin lines in one goroutine so that a blocked read
// never holds up a command that is done; the goroutine ends at EOF.
type lineSource struct {
	ch  chan string
	err error // set before ch is closed
}

// The goroutine also ends once stop is closed and its current read
// returns.
func newLineSource(r io.Reader, stop <-chan struct{}) *lineSource {
	ls := &lineSource{ch: make(chan string)}
	go func() {
		defer close(ls.ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			select {
			case ls.ch <- sc.Text():
			case <-stop:
				return
			}
		}
		ls.err = sc.Err()
	}()
	return ls
}

// next returns the next line; ok is false at EOF (err says if it was a
// read error) or when ctx ends.
func (ls *lineSource) next(ctx context.Context) (line string, ok bool, err error) {
	select {
	case l, ok := <-ls.ch:
		if !ok {
			return "", false, ls.err
		}
		return l, true, nil
	case <-ctx.Done():
		return "", false, nil
	}
}

// encodeLine turns an input line into a message.
func encodeLine(line, delim string) zmq.Msg {
	parts := []string{line}
	if delim != "" {
		parts = strings.Split(line, delim)
	}
	m := make(zmq.Msg, len(parts))
	for i, p := range parts {
		if b, ok := decodeHexFrame(p); ok {
			m[i] = b
		} else {
			m[i] = []byte(p)
		}
	}
	return m
}

// decodeHexFrame decodes a "0x..." frame.
func decodeHexFrame(p string) ([]byte, bool) {
	if len(p) < 4 || !strings.HasPrefix(p, "0x") {
		return nil, false
	}
	b, err := hex.DecodeString(p[2:])
	return b, err == nil
}

// formatMsg prints a message as one line.
func formatMsg(m zmq.Msg, delim string) string {
	if delim == "" {
		delim = "|"
	}
	var sb strings.Builder
	for i, f := range m {
		if i > 0 {
			sb.WriteString(delim)
		}
		if printable(f) {
			sb.Write(f)
		} else {
			sb.WriteString("0x")
			sb.WriteString(hex.EncodeToString(f))
		}
	}
	return sb.String()
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// sockSendAll sends every stdin line until EOF or --count messages.
func sockSendAll(ctx context.Context, s *zmq.Socket, o sockOpts, lines *lineSource) error {
	for n := 0; o.count == 0 || n < o.count; n++ {
		line, ok, err := lines.next(ctx)
		if !ok {
			return err
		}
		if err := s.Send(ctx, encodeLine(line, o.delim)); err != nil {
			return ignoreCancel(ctx, err)
		}
	}
	return nil
}

// sockRecvLoop prints messages until --count or ctx ends.
func sockRecvLoop(ctx context.Context, s *zmq.Socket, o sockOpts, out io.Writer) error {
	for n := 0; o.count == 0 || n < o.count; n++ {
		m, err := s.Recv(ctx)
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		if _, err := fmt.Fprintln(out, formatMsg(m, o.delim)); err != nil {
			return err
		}
	}
	return nil
}

func sockReq(ctx context.Context, s *zmq.Socket, o sockOpts, lines *lineSource, out io.Writer) error {
	for n := 0; o.count == 0 || n < o.count; n++ {
		line, ok, err := lines.next(ctx)
		if !ok {
			return err
		}
		if err := s.Send(ctx, encodeLine(line, o.delim)); err != nil {
			return ignoreCancel(ctx, err)
		}
		m, err := s.Recv(ctx)
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		if _, err := fmt.Fprintln(out, formatMsg(m, o.delim)); err != nil {
			return err
		}
	}
	return nil
}

func sockRep(ctx context.Context, s *zmq.Socket, o sockOpts, lines *lineSource, out io.Writer) error {
	for n := 0; o.count == 0 || n < o.count; n++ {
		m, err := s.Recv(ctx)
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		if _, err := fmt.Fprintln(out, formatMsg(m, o.delim)); err != nil {
			return err
		}
		reply := m
		if !o.echo {
			line, ok, err := lines.next(ctx)
			if !ok {
				return err
			}
			reply = encodeLine(line, o.delim)
		}
		if err := s.Send(ctx, reply); err != nil {
			return ignoreCancel(ctx, err)
		}
	}
	return nil
}

// ignoreCancel turns the end of ctx (Ctrl-C) into a clean exit.
func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}
