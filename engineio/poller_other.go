//go:build !linux

package engineio

// poller is a no-op where epoll is missing: each WebSocket keeps its read
// goroutine.
type poller struct{}

func newPoller(*Server) *poller          { return &poller{} }
func fdOf(any) int                       { return -1 }
func (p *poller) park(*wsTransport) bool { return false }
func (p *poller) forget(*wsTransport)    {}
func (p *poller) stop()                  {}

// readable is unknown here: it reports false.
func readable(int) bool { return false }
