package zmqdoor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/switchboard/switchboard/socketio"
	"github.com/switchboard/switchboard/zmq"
)

// maxService bounds a service name, in bytes.
const maxService = 255

// route reads the ROUTER socket: worker announcements and replies.
func (d *Door) route(ctx context.Context) {
	for {
		m, err := d.rpc.Recv(ctx)
		if err != nil {
			return
		}
		d.fromWorker(m)
	}
}

// fromWorker handles one message from a worker: [id, "READY", service],
// [id, rid, reply] or [id, rid, reason, "ERROR"]. Anything else is
// dropped.
func (d *Door) fromWorker(m zmq.Msg) {
	if len(m) < 3 {
		d.log.Debug("zmqdoor: rpc: malformed message from worker", "frames", len(m))
		return
	}
	id, body := string(m[0]), m[1:]
	switch {
	case len(body) == 2 && string(body[0]) == "READY":
		d.addWorker(id, string(body[1]))
	case len(body) == 2 || (len(body) == 3 && string(body[2]) == "ERROR"):
		var r reply
		if len(body) == 3 {
			r.err = &WorkerError{Reason: string(body[1])}
		} else {
			r.body = body[1]
		}
		d.mu.Lock()
		ch := d.pending[string(body[0])]
		delete(d.pending, string(body[0]))
		d.mu.Unlock()
		if ch != nil {
			ch <- r // buffered, and only one sender: never blocks
		}
	default:
		d.log.Debug("zmqdoor: rpc: malformed message from worker", "frames", len(m))
	}
}

func (d *Door) addWorker(id, service string) {
	if service == "" || len(service) > maxService {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.workers[service] {
		if w == id {
			return
		}
	}
	if d.nworkers >= d.cfg.MaxWorkers {
		d.log.Debug("zmqdoor: rpc: too many workers", "service", service)
		return
	}
	d.workers[service] = append(d.workers[service], id)
	d.nworkers++
}

func (d *Door) removeWorker(id, service string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ws := d.workers[service]
	for i, w := range ws {
		if w == id {
			d.workers[service] = append(ws[:i:i], ws[i+1:]...)
			d.nworkers--
			break
		}
	}
	if len(d.workers[service]) == 0 {
		delete(d.workers, service)
		delete(d.rr, service)
	}
}

// pick returns the next worker of service, round robin.
func (d *Door) pick(service string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ws := d.workers[service]
	if len(ws) == 0 {
		return "", false
	}
	i := d.rr[service] % len(ws)
	d.rr[service] = i + 1
	return ws[i], true
}

// Workers returns how many workers serve service.
func (d *Door) Workers(service string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.workers[service])
}

// Call sends body to a worker of service and returns its reply. It fails
// with ErrNoWorker when no worker serves the service, ErrTimeout (and the
// ctx's error) when ctx ends first, a *WorkerError when the worker failed
// the request, ErrLimit, ErrClosed when the door is not serving, or ErrOff.
func (d *Door) Call(ctx context.Context, service string, body []byte) ([]byte, error) {
	b, err := d.call(ctx, service, body)
	if err != nil {
		d.callErrs.Add(1)
		return nil, err
	}
	d.calls.Add(1)
	return b, nil
}

func (d *Door) call(ctx context.Context, service string, body []byte) ([]byte, error) {
	if d.rpc == nil {
		return nil, ErrOff
	}
	if service == "" || len(service) > maxService {
		return nil, fmt.Errorf("%w: service name of 1 to %d bytes", ErrInvalid, maxService)
	}
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return nil, ErrClosed
	}
	if len(d.pending) >= d.cfg.MaxPending {
		d.mu.Unlock()
		return nil, ErrLimit
	}
	d.seq++
	rid := strconv.FormatUint(d.seq, 36)
	ch := make(chan reply, 1)
	d.pending[rid] = ch
	done := d.done
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.pending, rid)
		d.mu.Unlock()
	}()
	for {
		w, ok := d.pick(service)
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrNoWorker, service)
		}
		err := d.rpc.Send(ctx, zmq.NewMsg([]byte(w), []byte(rid), body))
		if errors.Is(err, zmq.ErrHostUnreachable) {
			d.removeWorker(w, service) // gone: try the next one
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
			}
			return nil, fmt.Errorf("zmqdoor: send to worker: %w", err)
		}
		break
	}
	select {
	case r := <-ch:
		var we *WorkerError
		if errors.As(r.err, &we) {
			we.Service = service
		}
		return r.body, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
	case <-done:
		return nil, ErrClosed
	}
}

// code maps Call's errors to the codes browsers see.
func code(err error) string {
	var we *WorkerError
	switch {
	case errors.Is(err, ErrNoWorker):
		return "no_worker"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.As(err, &we):
		return "worker"
	case errors.Is(err, ErrLimit):
		return "limit"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	case errors.Is(err, ErrClosed), errors.Is(err, ErrOff):
		return "closed"
	}
	return "internal"
}

// ServeSocketIO lets the sockets of ns make requests: the event
//
//	rpc {service, body}  → {ok:true, body} or {ok:false, code, error}
//
// sends body, encoded as JSON, to a worker of service, and acks with the
// worker's reply (parsed as JSON when it is JSON, else as a string). code
// is "no_worker", "timeout" (after Config.RPCTimeout), "worker" (the
// worker failed it), "limit", "invalid" or "closed". Events without an
// ack are ignored. The request runs on a goroutine the door owns, so the
// socket keeps reading; Serve waits for them. Call it before the server
// accepts connections; it adds to ns's connection handlers.
func (d *Door) ServeSocketIO(ns *socketio.Namespace) {
	ns.OnConnection(func(s *socketio.Socket) {
		s.On("rpc", func(args []any, ack socketio.AckFunc) {
			if ack == nil {
				return
			}
			var m map[string]any
			if len(args) > 0 {
				m, _ = args[0].(map[string]any)
			}
			service, _ := m["service"].(string)
			body, err := json.Marshal(m["body"])
			if m == nil || service == "" || err != nil {
				ackErr(ack, fmt.Errorf("%w: rpc takes {service, body}", ErrInvalid))
				return
			}
			d.mu.Lock()
			if d.stopped {
				d.mu.Unlock()
				ackErr(ack, ErrClosed)
				return
			}
			d.wg.Add(1)
			d.mu.Unlock()
			go func() {
				defer d.wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), d.cfg.RPCTimeout)
				defer cancel()
				out, err := d.Call(ctx, service, body)
				if err != nil {
					ackErr(ack, err)
					return
				}
				var v any
				if json.Valid(out) {
					v = json.RawMessage(out)
				} else {
					v = string(out)
				}
				ack(map[string]any{"ok": true, "body": v})
			}()
		})
	})
}

func ackErr(ack socketio.AckFunc, err error) {
	ack(map[string]any{"ok": false, "code": code(err), "error": err.Error()})
}
