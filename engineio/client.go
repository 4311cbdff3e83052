package engineio

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard/switchboard/engineio/internal/packet"
)

// Transport names, as used in DialConfig.Transports and returned by
// ClientConn.Transport.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// Client defaults, used when the DialConfig field is zero.
const (
	DefaultClientReadLimit      = 16 << 20
	DefaultClientMaxQueued      = 4096
	DefaultClientUpgradeTimeout = 10 * time.Second
	clientRecvBuffer            = 256
)

// ErrRemoteClosed is the error Recv returns after the server sent a close
// packet. It satisfies errors.Is(err, net.ErrClosed).
var ErrRemoteClosed error = remoteClosedError{}

type remoteClosedError struct{}

func (remoteClosedError) Error() string        { return "engineio: closed by server" }
func (remoteClosedError) Is(target error) bool { return target == net.ErrClosed }

// DialConfig configures Dial. A nil *DialConfig, and the zero value of each
// field, means the default given in the field's doc.
type DialConfig struct {
	// Path is the engine's HTTP path; default "/engine.io/" (socket.io
	// uses "/socket.io/").
	Path string
	// Transports lists the transports to use, the first one to open the
	// session. Default {"polling", "websocket"}: open on long-polling and
	// upgrade to WebSocket when the server offers it, as the official
	// client does. {"websocket"} is WebSocket only, {"polling"} polling
	// only.
	Transports []string
	// DisableUpgrade keeps a polling session on polling.
	DisableUpgrade bool
	// TryAllTransports, when opening the session with the first transport
	// fails, tries the next ones in order (as socket.io-client's
	// tryAllTransports), each within the same Dial ctx. A session opened
	// on polling after WebSocket failed is not upgraded.
	TryAllTransports bool
	// Header is added to every HTTP request (handshake, polls, WebSocket).
	Header http.Header
	// Query is added to the URL's query of every request.
	Query url.Values
	// TLSConfig is used for https:// and wss:// URLs; nil means the
	// system defaults.
	TLSConfig *tls.Config
	// LocalAddr is the source address to bind before connecting (as
	// net.Dialer.LocalAddr); nil lets the system choose.
	LocalAddr net.Addr
	// ReadLimit bounds one poll response or one WebSocket message in
	// bytes; default DefaultClientReadLimit. A larger one closes the
	// connection with ErrPayloadTooLarge.
	ReadLimit int64
	// MaxQueuedPackets bounds the outgoing queue; Send returns
	// ErrQueueFull beyond it. Default DefaultClientMaxQueued.
	MaxQueuedPackets int
	// UpgradeTimeout bounds the WebSocket probe; default
	// DefaultClientUpgradeTimeout. A failed probe keeps polling.
	UpgradeTimeout time.Duration
	// Logger receives debug records; nil is silent.
	Logger *slog.Logger
}

func (c *DialConfig) withDefaults() (DialConfig, error) {
	var d DialConfig
	if c != nil {
		d = *c
	}
	if d.Path == "" {
		d.Path = "/engine.io/"
	}
	if len(d.Transports) == 0 {
		d.Transports = []string{TransportPolling, TransportWebSocket}
	}
	d.Transports = slices.Clone(d.Transports)
	for _, t := range d.Transports {
		if t != TransportPolling && t != TransportWebSocket {
			return d, fmt.Errorf("engineio: unknown transport %q", t)
		}
	}
	if d.ReadLimit == 0 {
		d.ReadLimit = DefaultClientReadLimit
	}
	if d.MaxQueuedPackets == 0 {
		d.MaxQueuedPackets = DefaultClientMaxQueued
	}
	if d.UpgradeTimeout == 0 {
		d.UpgradeTimeout = DefaultClientUpgradeTimeout
	}
	if d.ReadLimit < 0 || d.MaxQueuedPackets < 0 || d.UpgradeTimeout < 0 {
		return d, errors.New("engineio: negative ReadLimit, MaxQueuedPackets or UpgradeTimeout")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d, nil
}

// handshake is the JSON of the open packet.
type handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

// ClientConn is the client side of one Engine.IO session. Send queues
// without blocking; Recv returns incoming messages in order. It answers
// the server's pings and fails with ErrPingTimeout when none came within
// pingInterval+pingTimeout.
//
// Someone must call Recv: while nobody takes the incoming messages,
// reading pauses (the server then sees missing pongs and closes).
//
// Memory is bounded: one poll response or WebSocket message is at most
// ReadLimit bytes, and reading pauses while messages not yet taken by Recv
// hold ReadLimit bytes, so a connection holds at most about twice
// ReadLimit of incoming data.
//
// All methods are safe for concurrent use. The connection owns up to four
// goroutines (reader, writer, upgrade probe, a heartbeat timer); Close
// stops them and waits. Call Close even after Recv returned an error.
type ClientConn struct {
	cfg        DialConfig
	base       *url.URL // http(s) URL of the engine path, with the query
	tr         *http.Transport
	hc         *http.Client
	sid        string
	upgrades   []string
	interval   time.Duration
	timeout    time.Duration
	maxPayload int64

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
	in     inbox
	wake   chan struct{}
	once   sync.Once

	mu        sync.Mutex
	queue     []packet.Packet
	transport string
	ws        *websocket.Conn
	upgrading bool
	closing   bool // Close began: any failure is reported as ErrClosed
	err       error
	hb        *time.Timer

	pollReadDone, pollWriteDone chan struct{}

	sentPackets, recvPackets, sentBytes, recvBytes atomic.Uint64
}

// Dial opens an Engine.IO session with the server at rawURL (http, https,
// ws or wss; the path is replaced by cfg.Path). The ctx covers the
// handshake only: once Dial returned, its expiry does not affect the
// connection.
func Dial(ctx context.Context, rawURL string, cfg *DialConfig) (*ClientConn, error) {
	d, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("engineio: dial: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("engineio: dial: unsupported scheme %q", u.Scheme)
	}
	u.Path, u.RawPath, u.Fragment = d.Path, "", ""
	q := u.Query()
	for k, vs := range d.Query {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	q.Set("EIO", "4")
	u.RawQuery = q.Encode()

	dialer := &net.Dialer{LocalAddr: d.LocalAddr, Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     d.TLSConfig,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	c := &ClientConn{
		cfg:  d,
		base: u,
		tr:   tr,
		hc:   &http.Client{Transport: tr},
		in:   newInbox(d.ReadLimit),
		wake: make(chan struct{}, 1),
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	var rest []packet.Packet
	wsFailed := false
	for _, t := range d.Transports {
		if t == TransportWebSocket {
			err = c.openWebSocket(ctx)
			wsFailed = err != nil
		} else {
			rest, err = c.openPolling(ctx)
		}
		if err == nil || !d.TryAllTransports || ctx.Err() != nil {
			break
		}
		c.cfg.Logger.Debug("engineio client: transport failed, trying the next", "transport", t, "error", err)
	}
	if err != nil {
		c.cancel(err)
		tr.CloseIdleConnections()
		return nil, err
	}
	c.hb = time.AfterFunc(c.interval+c.timeout, c.pingTimedOut)
	if c.transport == TransportWebSocket {
		c.startWS()
	} else {
		c.startPolling()
		for _, p := range rest {
			c.onPacket(p)
		}
		if !d.DisableUpgrade && !wsFailed && slices.Contains(d.Transports, TransportWebSocket) && slices.Contains(c.upgrades, TransportWebSocket) {
			c.wg.Add(1)
			go c.upgrade()
		}
	}
	return c, nil
}

// ID returns the session id the server assigned.
func (c *ClientConn) ID() string { return c.sid }

// Transport returns the transport in use: "polling" or "websocket".
func (c *ClientConn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// PingInterval and PingTimeout return the server's heartbeat settings.
func (c *ClientConn) PingInterval() time.Duration { return c.interval }

// PingTimeout returns the server's ping timeout.
func (c *ClientConn) PingTimeout() time.Duration { return c.timeout }

// Done is closed when the connection ends, by Close or by failure.
func (c *ClientConn) Done() <-chan struct{} { return c.ctx.Done() }

// Err returns why the connection ended, nil while it is open.
func (c *ClientConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// ClientStats are a ClientConn's counters of packets and bytes (Engine.IO
// framing included).
type ClientStats struct {
	PacketsSent, PacketsReceived, BytesSent, BytesReceived uint64
}

// Stats returns the connection's counters.
func (c *ClientConn) Stats() ClientStats {
	return ClientStats{c.sentPackets.Load(), c.recvPackets.Load(), c.sentBytes.Load(), c.recvBytes.Load()}
}

// Send queues m without blocking. It returns ErrQueueFull when
// MaxQueuedPackets are waiting, and ErrClosed (or the failure) once the
// connection ended. The ClientConn keeps m.Data until it is written.
func (c *ClientConn) Send(m Message) error {
	return c.enqueue(packet.Packet{Type: packet.Message, Binary: m.Binary, Data: m.Data}, true)
}

// SendBatch queues ms as one unit: all or none (ErrQueueFull).
func (c *ClientConn) SendBatch(ms []Message) error {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	if len(c.queue)+len(ms) > c.cfg.MaxQueuedPackets {
		c.mu.Unlock()
		return ErrQueueFull
	}
	for _, m := range ms {
		c.queue = append(c.queue, packet.Packet{Type: packet.Message, Binary: m.Binary, Data: m.Data})
	}
	c.mu.Unlock()
	c.kick()
	return nil
}

func (c *ClientConn) enqueue(p packet.Packet, bounded bool) error {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	if bounded && len(c.queue) >= c.cfg.MaxQueuedPackets {
		c.mu.Unlock()
		return ErrQueueFull
	}
	c.queue = append(c.queue, p)
	c.mu.Unlock()
	c.kick()
	return nil
}

func (c *ClientConn) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Recv returns the next message, blocking until one arrives, the ctx ends
// (its error), or the connection ended (why: ErrClosed after Close,
// ErrRemoteClosed, ErrPingTimeout, or an ErrTransport, ErrParse or
// ErrPayloadTooLarge failure). Messages received before the end are
// returned first. Data is owned by the caller.
func (c *ClientConn) Recv(ctx context.Context) (Message, error) {
	for {
		if m, ok := c.in.pop(); ok {
			return m, nil
		}
		select {
		case <-c.in.notEmpty:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-c.ctx.Done():
			if m, ok := c.in.pop(); ok {
				return m, nil
			}
			return Message{}, c.Err()
		}
	}
}

// deliver hands m to Recv, waiting while the inbox is full; false when the
// connection ended.
func (c *ClientConn) deliver(m Message) bool {
	for !c.in.push(m) {
		select {
		case <-c.in.notFull:
		case <-c.ctx.Done():
			return false
		}
	}
	return true
}

// inbox holds the messages received and not yet taken by Recv: at most
// clientRecvBuffer messages and, unless it holds a single one, limit bytes.
// The reader and Recv meet on its mutex; they only signal each other
// (notEmpty, notFull) when the other may be waiting.
type inbox struct {
	limit    int64
	mu       sync.Mutex
	q        []Message
	head     int
	bytes    int64
	notEmpty chan struct{}
	notFull  chan struct{}
}

func newInbox(limit int64) inbox {
	return inbox{limit: limit, notEmpty: make(chan struct{}, 1), notFull: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push appends m unless the inbox is full.
func (b *inbox) push(m Message) bool {
	n := int64(len(m.Data))
	b.mu.Lock()
	defer b.mu.Unlock()
	held := len(b.q) - b.head
	if held > 0 && (held >= clientRecvBuffer || b.bytes+n > b.limit) {
		return false
	}
	if b.head > 0 && b.head == len(b.q) {
		clear(b.q)
		b.q, b.head = b.q[:0], 0
	}
	b.q = append(b.q, m)
	b.bytes += n
	if held == 0 {
		signal(b.notEmpty)
	}
	return true
}

// pop removes the oldest message.
func (b *inbox) pop() (Message, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.head == len(b.q) {
		return Message{}, false
	}
	m := b.q[b.head]
	b.q[b.head] = Message{}
	b.head++
	b.bytes -= int64(len(m.Data))
	if b.head == len(b.q) {
		b.q, b.head = b.q[:0], 0
	} else if b.head >= clientRecvBuffer {
		b.q, b.head = append(b.q[:0], b.q[b.head:]...), 0
	}
	signal(b.notFull)
	return m, true
}

// held returns the number and bytes of messages waiting.
func (b *inbox) held() (int, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.q) - b.head, b.bytes
}

// Close sends a close packet (best effort, bounded by one second), ends the
// connection and waits for its goroutines. Later calls return nil; Recv
// then returns ErrClosed.
func (c *ClientConn) Close() error {
	c.mu.Lock()
	open := c.err == nil
	c.closing = true
	ws := c.ws
	transport := c.transport
	c.mu.Unlock()
	if open {
		ctx, cancel := context.WithTimeout(c.ctx, time.Second)
		if transport == TransportWebSocket && ws != nil {
			_ = ws.Write(ctx, websocket.MessageText, []byte{'1'})
		} else {
			_ = c.post(ctx, []byte{'1'})
		}
		cancel()
	}
	c.fail(ErrClosed)
	c.wg.Wait()
	c.once.Do(func() {
		c.mu.Lock()
		ws := c.ws
		c.mu.Unlock()
		if ws != nil {
			_ = ws.CloseNow()
		}
		c.tr.CloseIdleConnections()
	})
	return nil
}

// fail ends the connection with err, once.
func (c *ClientConn) fail(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	if c.closing {
		err = ErrClosed
	}
	c.err = err
	if c.hb != nil {
		c.hb.Stop()
	}
	ws := c.ws
	c.mu.Unlock()
	if !errors.Is(err, ErrClosed) {
		c.cfg.Logger.Debug("engineio client: connection failed", "sid", c.sid, "error", err)
	}
	c.cancel(err)
	if ws != nil {
		_ = ws.CloseNow()
	}
}

func (c *ClientConn) pingTimedOut() { c.fail(ErrPingTimeout) }

// onPacket handles one incoming packet on a reader goroutine; false means
// stop reading.
func (c *ClientConn) onPacket(p packet.Packet) bool {
	c.recvPackets.Add(1)
	c.recvBytes.Add(uint64(p.Len()))
	switch p.Type {
	case packet.Ping:
		c.mu.Lock()
		if c.hb != nil && c.err == nil {
			c.hb.Reset(c.interval + c.timeout)
		}
		c.mu.Unlock()
		_ = c.enqueue(packet.Packet{Type: packet.Pong, Data: p.Data}, false)
	case packet.Message:
		if !c.deliver(Message{Binary: p.Binary, Data: p.Data}) {
			return false
		}
	case packet.Close:
		c.fail(ErrRemoteClosed)
		return false
	case packet.Noop, packet.Pong:
	default:
		c.fail(fmt.Errorf("%w: unexpected %s packet from server", ErrParse, p.Type))
		return false
	}
	return true
}

func (c *ClientConn) parseHandshake(p packet.Packet) error {
	if p.Type != packet.Open {
		return fmt.Errorf("%w: handshake: want open packet, got %s", ErrParse, p.Type)
	}
	var h handshake
	if err := json.Unmarshal(p.Data, &h); err != nil {
		return fmt.Errorf("%w: handshake: %w", ErrParse, err)
	}
	if h.SID == "" || h.PingInterval <= 0 || h.PingTimeout <= 0 {
		return fmt.Errorf("%w: handshake: missing sid or heartbeat", ErrParse)
	}
	c.sid, c.upgrades = h.SID, h.Upgrades
	c.interval = time.Duration(h.PingInterval) * time.Millisecond
	c.timeout = time.Duration(h.PingTimeout) * time.Millisecond
	c.maxPayload = h.MaxPayload
	if c.maxPayload <= 0 {
		c.maxPayload = 1e6
	}
	return nil
}

// url returns the engine URL for transport, with the sid once known.
func (c *ClientConn) url(transport string, withSID bool) string {
	u := *c.base
	q := u.Query()
	q.Set("transport", transport)
	if withSID {
		q.Set("sid", c.sid)
	}
	if transport == TransportWebSocket {
		if u.Scheme == "https" {
			u.Scheme = "wss"
		} else {
			u.Scheme = "ws"
		}
	} else {
		q.Set("t", strconv.FormatInt(time.Now().UnixNano(), 36))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *ClientConn) newRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTransport, err)
	}
	for k, vs := range c.cfg.Header {
		req.Header[k] = slices.Clone(vs)
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	return req, nil
}

// get runs one polling GET and decodes its payload with fn.
func (c *ClientConn) get(ctx context.Context, withSID bool, fn func(packet.Packet) error) error {
	req, err := c.newRequest(ctx, http.MethodGet, c.url(TransportPolling, withSID), nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: poll: %w", ErrTransport, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%w: poll: HTTP %d: %s", ErrTransport, resp.StatusCode, bytes.TrimSpace(msg))
	}
	err = packet.ReadPayload(resp.Body, resp.ContentLength, c.cfg.ReadLimit, fn)
	if err == nil || errors.Is(err, errStopPoll) {
		return nil
	}
	if errors.Is(err, packet.ErrTooLarge) {
		return err
	}
	if errors.Is(err, packet.ErrEmpty) || errors.Is(err, packet.ErrUnknownType) || errors.Is(err, packet.ErrBase64) {
		return fmt.Errorf("%w: %w", ErrParse, err)
	}
	if errors.Is(err, ErrParse) {
		return err
	}
	return fmt.Errorf("%w: poll: %w", ErrTransport, err)
}

var errStopPoll = errors.New("engineio: stop")

// post sends one polling payload.
func (c *ClientConn) post(ctx context.Context, body []byte) error {
	req, err := c.newRequest(ctx, http.MethodPost, c.url(TransportPolling, true), body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: post: %w", ErrTransport, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: post: HTTP %d", ErrTransport, resp.StatusCode)
	}
	return nil
}

func (c *ClientConn) openPolling(ctx context.Context) ([]packet.Packet, error) {
	var rest []packet.Packet
	first := true
	err := c.get(ctx, false, func(p packet.Packet) error {
		if first {
			first = false
			return c.parseHandshake(p)
		}
		rest = append(rest, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("engineio: dial: %w", err)
	}
	c.transport = TransportPolling
	return rest, nil
}

func (c *ClientConn) dialWS(ctx context.Context, withSID bool) (*websocket.Conn, error) {
	h := http.Header{}
	for k, vs := range c.cfg.Header {
		h[k] = slices.Clone(vs)
	}
	ws, resp, err := websocket.Dial(ctx, c.url(TransportWebSocket, withSID), &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: websocket: %w", ErrTransport, err)
	}
	ws.SetReadLimit(c.cfg.ReadLimit)
	return ws, nil
}

func (c *ClientConn) openWebSocket(ctx context.Context) error {
	ws, err := c.dialWS(ctx, false)
	if err != nil {
		return fmt.Errorf("engineio: dial: %w", err)
	}
	typ, b, err := ws.Read(ctx)
	if err == nil && typ != websocket.MessageText {
		err = fmt.Errorf("%w: handshake in a binary frame", ErrParse)
	}
	if err == nil {
		var p packet.Packet
		if p, err = packet.Decode(b); err == nil {
			err = c.parseHandshake(p)
		} else {
			err = fmt.Errorf("%w: %w", ErrParse, err)
		}
	}
	if err != nil {
		_ = ws.CloseNow()
		return fmt.Errorf("engineio: dial: %w", err)
	}
	c.ws, c.transport = ws, TransportWebSocket
	return nil
}

func (c *ClientConn) startPolling() {
	c.pollReadDone, c.pollWriteDone = make(chan struct{}), make(chan struct{})
	c.wg.Add(2)
	go c.pollReader()
	go c.pollWriter()
}

func (c *ClientConn) stopPolling() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.upgrading || c.err != nil
}

func (c *ClientConn) pollReader() {
	defer c.wg.Done()
	defer close(c.pollReadDone)
	for !c.stopPolling() {
		err := c.get(c.ctx, true, func(p packet.Packet) error {
			if !c.onPacket(p) {
				return errStopPoll
			}
			return nil
		})
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// takeBatch removes from the queue the packets that fit in one payload of
// at most limit bytes (at least one packet), or everything when limit <= 0.
func (c *ClientConn) takeBatch(limit int64) []packet.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, size := 0, int64(0)
	for n < len(c.queue) {
		l := int64(c.queue[n].Len() + 1)
		if limit > 0 && n > 0 && size+l > limit {
			break
		}
		size += l
		n++
	}
	b := slices.Clone(c.queue[:n])
	clear(c.queue[:n])
	c.queue = c.queue[n:]
	if len(c.queue) == 0 {
		c.queue = c.queue[:0:0]
	}
	return b
}

func (c *ClientConn) countSent(ps []packet.Packet) {
	c.sentPackets.Add(uint64(len(ps)))
	n := 0
	for _, p := range ps {
		n += p.Len()
	}
	c.sentBytes.Add(uint64(n))
}

func (c *ClientConn) pollWriter() {
	defer c.wg.Done()
	defer close(c.pollWriteDone)
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			return
		}
		for {
			if c.stopPolling() {
				return
			}
			batch := c.takeBatch(c.maxPayload)
			if len(batch) == 0 {
				break
			}
			buf = packet.AppendPayload(buf[:0], batch)
			if err := c.post(c.ctx, buf); err != nil {
				c.fail(err)
				return
			}
			c.countSent(batch)
		}
	}
}

// upgrade probes a WebSocket and switches the session over to it.
func (c *ClientConn) upgrade() {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.UpgradeTimeout)
	defer cancel()
	ws, err := c.dialWS(ctx, true)
	if err != nil {
		c.cfg.Logger.Debug("engineio client: upgrade failed", "sid", c.sid, "error", err)
		return
	}
	ok := false
	defer func() {
		if !ok {
			_ = ws.CloseNow()
		}
	}()
	if err := ws.Write(ctx, websocket.MessageText, []byte("2probe")); err != nil {
		return
	}
	typ, b, err := ws.Read(ctx)
	if err != nil || typ != websocket.MessageText || string(b) != "3probe" {
		c.cfg.Logger.Debug("engineio client: bad probe answer", "sid", c.sid, "error", err)
		return
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.upgrading = true
	c.mu.Unlock()
	c.kick()
	for _, done := range []chan struct{}{c.pollReadDone, c.pollWriteDone} {
		select {
		case <-done:
		case <-ctx.Done():
			c.fail(fmt.Errorf("%w: upgrade: polling did not pause", ErrTransport))
			return
		}
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte{'5'}); err != nil {
		c.fail(fmt.Errorf("%w: upgrade: %w", ErrTransport, err))
		return
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	ok = true
	c.ws, c.transport = ws, TransportWebSocket
	c.mu.Unlock()
	c.startWS()
	c.kick()
}

func (c *ClientConn) startWS() {
	c.wg.Add(2)
	go c.wsReader(c.ws)
	go c.wsWriter(c.ws)
}

// wsReader and wsWriter pass a context without Done to the WebSocket:
// coder/websocket then skips its per-call cancellation setup, and fail
// unblocks them with CloseNow.
func (c *ClientConn) wsReader(ws *websocket.Conn) {
	defer c.wg.Done()
	for {
		typ, b, err := ws.Read(context.Background())
		if err != nil {
			switch {
			case c.ctx.Err() != nil:
			case errors.Is(err, websocket.ErrMessageTooBig):
				c.fail(fmt.Errorf("%w: %w", ErrPayloadTooLarge, err))
			default:
				c.fail(fmt.Errorf("%w: websocket read: %w", ErrTransport, err))
			}
			return
		}
		var p packet.Packet
		if typ == websocket.MessageBinary {
			p = packet.DecodeBinary(b)
		} else if p, err = packet.Decode(b); err != nil {
			c.fail(fmt.Errorf("%w: %w", ErrParse, err))
			return
		}
		if !c.onPacket(p) {
			return
		}
	}
}

func (c *ClientConn) wsWriter(ws *websocket.Conn) {
	defer c.wg.Done()
	var buf []byte
	for {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			return
		}
		batch := c.takeBatch(0)
		for _, p := range batch {
			var err error
			if p.Binary {
				err = ws.Write(context.Background(), websocket.MessageBinary, p.Data)
			} else {
				buf = packet.AppendText(buf[:0], p)
				err = ws.Write(context.Background(), websocket.MessageText, buf)
			}
			if err != nil {
				if c.ctx.Err() == nil {
					c.fail(fmt.Errorf("%w: websocket write: %w", ErrTransport, err))
				}
				return
			}
		}
		c.countSent(batch)
	}
}
