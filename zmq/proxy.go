package zmq

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Proxy connects frontend and backend like zmq_proxy: every message
// received on one is sent on the other (in each direction where the types
// allow it), and a copy goes to capture when it is not nil. It runs until
// ctx ends (returning ctx.Err()) or a socket fails. For pause, resume and
// statistics use NewProxy.
func Proxy(ctx context.Context, frontend, backend, capture *Socket) error {
	return NewProxy(frontend, backend, capture).Run(ctx)
}

// ProxyStats counts what a proxy forwarded, like zmq_proxy_steerable's
// STATISTICS command.
type ProxyStats struct {
	FrontendIn, FrontendOut, BackendIn, BackendOut TrafficStats
}

// TrafficStats is a message and byte count.
type TrafficStats struct{ Msgs, Bytes uint64 }

// SteerableProxy is a proxy that can be paused, resumed, terminated and
// asked for statistics while it runs (zmq_proxy_steerable). Its methods
// are safe for concurrent use.
type SteerableProxy struct {
	frontend, backend, capture *Socket

	mu     sync.Mutex
	paused bool
	resume chan struct{}
	cancel context.CancelFunc
	term   bool

	feIn, feInB, feOut, feOutB, beIn, beInB, beOut, beOutB atomic.Uint64
}

// NewProxy returns a proxy between frontend and backend; capture may be
// nil. Call Run to start it.
func NewProxy(frontend, backend, capture *Socket) *SteerableProxy {
	return &SteerableProxy{frontend: frontend, backend: backend, capture: capture, resume: make(chan struct{})}
}

// Pause stops forwarding (messages queue in the sockets) until Resume.
func (p *SteerableProxy) Pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

// Resume continues forwarding after Pause.
func (p *SteerableProxy) Resume() {
	p.mu.Lock()
	if p.paused {
		p.paused = false
		close(p.resume)
		p.resume = make(chan struct{})
	}
	p.mu.Unlock()
}

// Terminate makes Run return nil.
func (p *SteerableProxy) Terminate() {
	p.mu.Lock()
	p.term = true
	c := p.cancel
	p.mu.Unlock()
	if c != nil {
		c()
	}
}

// Stats returns the counts so far.
func (p *SteerableProxy) Stats() ProxyStats {
	return ProxyStats{
		FrontendIn:  TrafficStats{p.feIn.Load(), p.feInB.Load()},
		FrontendOut: TrafficStats{p.feOut.Load(), p.feOutB.Load()},
		BackendIn:   TrafficStats{p.beIn.Load(), p.beInB.Load()},
		BackendOut:  TrafficStats{p.beOut.Load(), p.beOutB.Load()},
	}
}

func canRecv(t Type) bool { return t != Pub && t != Push }
func canSend(t Type) bool { return t != Sub && t != Pull }

// Run forwards until ctx ends (returning ctx.Err()), Terminate is called
// (returning nil), or a socket fails (returning its error). It starts one
// goroutine per direction and waits for them before returning.
func (p *SteerableProxy) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.mu.Lock()
	p.cancel = cancel
	term := p.term
	p.mu.Unlock()
	if term {
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	dir := func(src, dst *Socket, in, inB, out, outB *atomic.Uint64) {
		defer wg.Done()
		errs <- p.forward(ctx, src, dst, in, inB, out, outB)
		cancel()
	}
	if canRecv(p.frontend.typ) && canSend(p.backend.typ) {
		wg.Add(1)
		go dir(p.frontend, p.backend, &p.feIn, &p.feInB, &p.beOut, &p.beOutB)
	}
	if canRecv(p.backend.typ) && canSend(p.frontend.typ) {
		wg.Add(1)
		go dir(p.backend, p.frontend, &p.beIn, &p.beInB, &p.feOut, &p.feOutB)
	}
	wg.Wait()
	close(errs)
	var first error
	for err := range errs {
		if first == nil || errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	p.mu.Lock()
	term = p.term
	p.mu.Unlock()
	if term {
		return nil
	}
	return first
}

func (p *SteerableProxy) forward(ctx context.Context, src, dst *Socket, in, inB, out, outB *atomic.Uint64) error {
	for {
		p.mu.Lock()
		paused, resume := p.paused, p.resume
		p.mu.Unlock()
		if paused {
			select {
			case <-resume:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		m, err := src.Recv(ctx)
		if err != nil {
			return err
		}
		n := uint64(m.Size())
		in.Add(1)
		inB.Add(n)
		if p.capture != nil {
			if err := p.capture.Send(ctx, m); err != nil {
				return err
			}
		}
		out.Add(1)
		outB.Add(n)
		if err := dst.Send(ctx, m); err != nil {
			return err
		}
	}
}
