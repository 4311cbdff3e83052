package endpoint

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// MaxWSMessage bounds one WebSocket message read from a ws:// connection.
const MaxWSMessage = 1 << 20

// wsAcceptQueue bounds upgraded connections waiting for Accept.
const wsAcceptQueue = 64

type rawConnKey struct{}

// wsListener serves WebSocket upgrades on a stream listener and hands the
// upgraded connections to Accept. It owns the HTTP server goroutine.
type wsListener struct {
	srv    *http.Server
	addr   string
	conns  chan *Conn
	done   chan struct{}
	served chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

func newWSListener(l net.Listener, path string, tc *tls.Config, log *slog.Logger) *wsListener {
	if path == "" {
		path = "/"
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &wsListener{addr: addrText(l.Addr()), conns: make(chan *Conn, wsAcceptQueue),
		done: make(chan struct{}), served: make(chan struct{}), ctx: ctx, cancel: cancel}
	mux := http.NewServeMux()
	mux.HandleFunc(path, w.handle)
	w.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, rawConnKey{}, c)
		},
	}
	if tc != nil {
		l = tls.NewListener(l, tc)
	}
	go func() {
		defer close(w.served)
		_ = w.srv.Serve(l)
	}()
	return w
}

func (w *wsListener) handle(rw http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(rw, r, nil)
	if err != nil {
		return
	}
	// Accepted connections outlive the listener, as TCP ones do.
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	ws.SetReadLimit(MaxWSMessage)
	raw, _ := r.Context().Value(rawConnKey{}).(net.Conn)
	proto := WrapWS
	if r.TLS != nil {
		proto = WrapWSS
	}
	c := newConn(nc, proto, w.addr)
	if raw != nil {
		if tc, ok := raw.(*tls.Conn); ok {
			raw = tc.NetConn()
		}
		c.rc = rawConnOf(raw)
	}
	select {
	case w.conns <- c:
	case <-w.done:
		nc.Close()
	default: // queue full: refuse rather than grow
		ws.Close(websocket.StatusTryAgainLater, "accept queue full")
	}
}

func (w *wsListener) accept() (*Conn, error) {
	select {
	case c := <-w.conns:
		return c, nil
	case <-w.done:
		return nil, net.ErrClosed
	}
}

func (w *wsListener) close() error {
	var err error
	w.once.Do(func() {
		close(w.done)
		err = w.srv.Close()
		<-w.served
		w.cancel()
		for {
			select {
			case c := <-w.conns:
				c.Close()
			default:
				return
			}
		}
	})
	return err
}

// dialWS runs the WebSocket handshake over an established stream (with TLS
// first when tc is set).
func dialWS(ctx context.Context, nc net.Conn, ep Endpoint, tc *tls.Config) (*Conn, error) {
	raw := nc
	if tc != nil {
		tlsc := tls.Client(nc, tc)
		if err := tlsc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("endpoint: dial %s: %w", ep, err)
		}
		nc = tlsc
	}
	used := false
	tr := &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			if used {
				return nil, errors.New("endpoint: websocket transport is single-use")
			}
			used = true
			return nc, nil
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	host := "localhost"
	if ep.Transport == TCP {
		host = ep.Address
	}
	path := ep.Path
	if path == "" {
		path = "/"
	}
	ws, _, err := websocket.Dial(ctx, "ws://"+host+path, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("endpoint: dial %s: %w", ep, err)
	}
	// The connection outlives the dial ctx.
	wnc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	ws.SetReadLimit(MaxWSMessage)
	proto := WrapWS
	if tc != nil {
		proto = WrapWSS
	}
	c := newConn(wnc, proto, "")
	c.rc = rawConnOf(raw)
	return c, nil
}
