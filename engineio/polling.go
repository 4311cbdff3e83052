package engineio

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/engineio/internal/packet"
)

// errPollCancelled reports a pending GET cancelled by the client.
var errPollCancelled = fmt.Errorf("%w: poll request cancelled", ErrTransport)

// errOverlap reports a second concurrent GET or POST on one session.
var errOverlap = fmt.Errorf("%w: overlapping polling requests", ErrTransport)

// handlePoll answers a GET of a polling session: at once if packets are
// queued, else when some are, or when the socket closes or upgrades.
func (s *Socket) handlePoll(w http.ResponseWriter, r *http.Request) {
	srv := s.srv
	done := s.Done()
	if s.accepting.Load() > 0 {
		// A WebSocket for this sid is mid-handshake: let it register as
		// the upgrade candidate first (bounded), so the check below sees it.
		t := time.NewTimer(min(srv.cfg.UpgradeTimeout, time.Second))
		tick := time.NewTicker(time.Millisecond)
	registering:
		for s.accepting.Load() > 0 {
			select {
			case <-done:
				break registering
			case <-r.Context().Done():
				break registering
			case <-t.C:
				break registering
			case <-tick.C:
			}
		}
		tick.Stop()
		t.Stop()
	}
	s.mu.Lock()
	if cand := s.upgrade; cand != nil && !s.polling && !s.closed {
		// The client may have sent "2probe" and "5" on the candidate
		// WebSocket before this GET: while the candidate has data in
		// flight, let it be handled first, so the GET meets an upgraded
		// session (400) as it would on the reference server. A real
		// client's poll waits only until its 2probe is handled: it sends
		// "5" after this poll returns.
		s.mu.Unlock()
		if cand.inFlight() {
			t := time.NewTimer(min(srv.cfg.UpgradeTimeout, time.Second))
			tick := time.NewTicker(time.Millisecond)
		wait:
			for cand.inFlight() {
				select {
				case <-cand.upDone:
					break wait
				case <-done:
					break wait
				case <-r.Context().Done():
					break wait
				case <-t.C:
					break wait
				case <-tick.C:
				}
			}
			tick.Stop()
			t.Stop()
		}
		s.mu.Lock()
	}
	if s.closed && !s.lingering {
		s.mu.Unlock()
		srv.refuse(w, CodeUnknownSID, "")
		return
	}
	if s.ws != nil {
		s.mu.Unlock()
		srv.refuse(w, CodeBadRequest, "")
		return
	}
	if s.polling {
		s.mu.Unlock()
		srv.refuse(w, CodeBadRequest, "")
		s.close(ReasonTransportError, errOverlap, true, packet.Close)
		return
	}
	s.polling = true
	ctx := r.Context()
	for len(s.queue) == 0 && !s.closed && !s.probed && s.ws == nil {
		s.mu.Unlock()
		srv.hook("poll-wait", s)
		select {
		case <-s.poll:
		case <-done:
		case <-ctx.Done():
			// The client gave up its poll (it went away): the session ends,
			// as with the reference server.
			s.mu.Lock()
			s.polling = false
			s.mu.Unlock()
			s.close(ReasonTransportError, errPollCancelled, false, packet.Close)
			return
		}
		s.mu.Lock()
	}
	var q []packet.Packet
	var end packet.Packet
	hasEnd := false
	switch {
	case s.ws != nil:
		// Upgraded: the queue goes over the WebSocket.
		end, hasEnd = packet.Packet{Type: packet.Noop}, true
	case s.closed:
		q = s.takeQueueLocked()
		if !s.graceful {
			q = q[:0]
		}
		end, hasEnd = packet.Packet{Type: s.pollEnd}, true
	case len(s.queue) > 0:
		q = s.takeQueueLocked()
	default: // probed: end the poll so the client can upgrade
		end, hasEnd = packet.Packet{Type: packet.Noop}, true
	}
	s.polling = false
	lingering := s.lingering
	s.mu.Unlock()
	if lingering {
		s.endLinger()
	}

	bp := getBatch()
	b := packet.AppendPayload(*bp, q)
	if hasEnd {
		if len(q) > 0 {
			b = append(b, packet.Separator)
		}
		b = packet.AppendText(b, end)
	}
	s.countOut(q, len(b))
	if hasEnd {
		srv.stats.packetsOut.Add(1)
	}
	err := srv.writePayload(w, b)
	*bp = b
	putBatch(bp)
	if q != nil {
		s.returnQueue(q)
	}
	if err != nil {
		s.writeFailed(err)
	}
}

// writePayload writes a polling response body within WriteTimeout.
func (srv *Server) writePayload(w http.ResponseWriter, b []byte) error {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(srv.cfg.WriteTimeout))
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	if err == nil {
		err = rc.Flush()
	}
	// Deadlines outlive the request on a kept-alive connection: clear it
	// before the next request (a long poll) comes.
	_ = rc.SetWriteDeadline(time.Time{})
	return err
}

var (
	textPlain = []string{"text/plain; charset=UTF-8"}
	textHTML  = []string{"text/html"}
	okBody    = []byte("ok")
)

// handlePost reads a POST of a polling session and delivers its packets.
func (s *Socket) handlePost(w http.ResponseWriter, r *http.Request) {
	srv := s.srv
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		srv.refuse(w, CodeUnknownSID, "")
		return
	}
	if s.ws != nil {
		s.mu.Unlock()
		srv.refuse(w, CodeBadRequest, "")
		return
	}
	if s.posting {
		s.mu.Unlock()
		srv.refuse(w, CodeBadRequest, "")
		s.close(ReasonTransportError, errOverlap, true, packet.Close)
		return
	}
	s.posting = true
	s.mu.Unlock()

	srv.hook("post-read", s)
	// Read the whole body first, within a deadline and without holding
	// the handler lock: a client that stalls its body delays nobody.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(srv.cfg.WriteTimeout))
	body, err := packet.ReadBody(r.Body, r.ContentLength, srv.cfg.MaxPayload)
	_ = rc.SetReadDeadline(time.Time{})
	var perr error
	if err == nil {
		s.lockRecv()
		err = packet.DecodePayload(body, func(p packet.Packet) error {
			if !s.onPacket(p, p.Len()) {
				return errStop
			}
			return nil
		})
		s.unlockRecv()
	}
	// The body is read: the next POST may come, even before we answer.
	s.mu.Lock()
	s.posting = false
	s.mu.Unlock()
	switch {
	case err == nil || errors.Is(err, errStop):
	case errors.Is(err, packet.ErrTooLarge):
		srv.stats.tooLarge.Add(1)
		w.Header().Set("Connection", "close")
		http.Error(w, "engineio: payload too large", http.StatusRequestEntityTooLarge)
		s.close(ReasonTransportError, err, true, packet.Close)
		return
	case errors.Is(err, packet.ErrEmpty), errors.Is(err, packet.ErrUnknownType), errors.Is(err, packet.ErrBase64):
		perr = err
	default: // the body could not be read
		srv.refuse(w, CodeBadRequest, "")
		s.close(ReasonTransportError, fmt.Errorf("%w: %w", ErrTransport, err), true, packet.Close)
		return
	}
	if perr != nil {
		srv.refuse(w, CodeBadRequest, "")
		s.parseError(perr)
		return
	}
	h := w.Header()
	h["Content-Type"] = textHTML
	h["Content-Length"] = []string{"2"}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(okBody)
}

var errStop = errors.New("engineio: stop")
