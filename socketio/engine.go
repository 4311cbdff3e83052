package socketio

import (
	"fmt"

	"github.com/switchboard/switchboard/engineio"
)

// NewServer returns a server with the main namespace "/". It starts no
// goroutine before the first request.
func NewServer(cfg *Config) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	var ecfg engineio.Config
	if cfg != nil && cfg.Engine != nil {
		ecfg = *cfg.Engine
	}
	ecfg.Path = s.cfg.Path
	ecfg.Logger = s.cfg.Logger
	eng, err := engineio.NewServer(&ecfg, func(es *engineio.Socket) {
		c := s.newConn(es)
		es.OnMessage(c.onMessage)
		es.OnClose(c.onClose)
	})
	if err != nil {
		return nil, fmt.Errorf("socketio: %w", err)
	}
	s.engine = eng
	return s, nil
}
