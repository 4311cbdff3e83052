package monitor

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxSeries bounds the door/proto label pairs a Collector reports; the
// connections of pairs beyond it are reported under door and proto
// OverflowLabel.
const maxSeries = 512

// OverflowLabel is the door and proto label of the series that collects
// the connections of door/proto pairs beyond a Collector's bound (512
// pairs, the overflow series not counted).
const OverflowLabel = "_other"

var seriesLabels = []string{"door", "proto"}

// Collector is a prometheus.Collector over a Source. On each scrape it
// reads one list of connections and reports, per door and protocol (the
// labels door and proto; never per connection, so the number of series
// stays bounded):
//
//	switchboard_connections               gauge    open connections and sockets
//	switchboard_queue_messages            gauge    messages waiting to be sent
//	switchboard_messages_received_total   counter  messages received
//	switchboard_messages_sent_total       counter  messages sent
//	switchboard_bytes_received_total      counter  bytes received
//	switchboard_bytes_sent_total          counter  bytes sent
//	switchboard_process_start_time_seconds gauge   Process.Started (if set)
//
// A Source reports the running totals of open connections only; the
// Collector keeps the counters monotonic as Prometheus requires: when a
// connection is gone (or its ID comes back with smaller counters, or it
// moves to another protocol, as Socket.IO does when it upgrades from
// polling to WebSocket), what it had counted at the last scrape stays in
// its series. Traffic of a connection after the last scrape before it
// closed is not counted, nor is a connection that opened and closed
// between two scrapes. Connections are told apart by Door and ID;
// connections without an ID are added as they are, untracked.
//
// A series once reported stays (its gauges at 0 once its connections are
// gone). Its methods are safe for concurrent use; scrapes are serialized.
type Collector struct {
	proc Process
	src  Source

	connections, queue                 *prometheus.Desc
	msgsIn, msgsOut, bytesIn, bytesOut *prometheus.Desc
	started                            *prometheus.Desc

	mu     sync.Mutex
	gen    uint64                   // scrape number
	conns  map[connKey]*tracked     // connections seen at the last scrape
	series map[seriesKey]*counters  // every series reported: what gone connections counted
	scrape map[seriesKey]*aggregate // reused by Collect
}

var _ prometheus.Collector = (*Collector)(nil)

type seriesKey struct{ door, proto string }

type connKey struct{ door, id string }

// counters are a connection's running totals.
type counters struct{ msgsIn, msgsOut, bytesIn, bytesOut uint64 }

func (a *counters) add(b counters) {
	a.msgsIn += b.msgsIn
	a.msgsOut += b.msgsOut
	a.bytesIn += b.bytesIn
	a.bytesOut += b.bytesOut
}

func (a counters) sub(b counters) counters {
	return counters{a.msgsIn - b.msgsIn, a.msgsOut - b.msgsOut, a.bytesIn - b.bytesIn, a.bytesOut - b.bytesOut}
}

// atLeast reports whether no counter of a is below b's.
func (a counters) atLeast(b counters) bool {
	return a.msgsIn >= b.msgsIn && a.msgsOut >= b.msgsOut && a.bytesIn >= b.bytesIn && a.bytesOut >= b.bytesOut
}

// tracked is a connection seen at the last scrape: its series, its
// counters then, and base, the part of them counted elsewhere (in another
// series, before it moved).
type tracked struct {
	sk         seriesKey
	last, base counters
	gen        uint64
}

// aggregate is one series in one scrape.
type aggregate struct {
	conns, queue int
	c            counters
}

// NewCollector returns a Collector reporting the connections of src for
// the process p.
func NewCollector(p Process, src Source) *Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, seriesLabels, nil)
	}
	return &Collector{
		proc:        p,
		src:         src,
		connections: d("switchboard_connections", "Open connections and sockets."),
		queue:       d("switchboard_queue_messages", "Messages waiting to be sent."),
		msgsIn:      d("switchboard_messages_received_total", "Messages received."),
		msgsOut:     d("switchboard_messages_sent_total", "Messages sent."),
		bytesIn:     d("switchboard_bytes_received_total", "Bytes received."),
		bytesOut:    d("switchboard_bytes_sent_total", "Bytes sent."),
		started:     prometheus.NewDesc("switchboard_process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", nil, nil),
		conns:       map[connKey]*tracked{},
		series:      map[seriesKey]*counters{},
		scrape:      map[seriesKey]*aggregate{},
	}
}

// Describe sends the descriptors of the metrics the Collector reports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connections, c.queue, c.msgsIn, c.msgsOut, c.bytesIn, c.bytesOut, c.started} {
		ch <- d
	}
}

// Collect reads the Source once and sends the metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.collect() {
		ch <- m
	}
}

// collect updates the state from one list of connections and returns the
// metrics.
func (c *Collector) collect() []prometheus.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	conns := c.src.Conns() // under mu: scrapes apply their lists in the order they read them
	c.gen++
	live := make([]counters, len(conns)) // what each connection adds to its series
	keys := make([]seriesKey, len(conns))
	for i := range conns {
		mc := &conns[i]
		sk := c.seriesFor(mc.Door, mc.Proto)
		cur := counters{mc.MsgsIn, mc.MsgsOut, mc.BytesIn, mc.BytesOut}
		keys[i], live[i] = sk, cur
		if mc.ID == "" {
			continue
		}
		ck := connKey{mc.Door, mc.ID}
		t := c.conns[ck]
		switch {
		case t == nil:
			t = &tracked{sk: sk}
			c.conns[ck] = t
		case t.gen == c.gen: // the ID twice in one list: the second untracked
			continue
		case !cur.atLeast(t.last): // smaller counters: another connection under the same ID
			c.retire(t)
			t.sk, t.base = sk, counters{}
		case t.sk != sk: // moved: what it counted stays, the rest counts here
			c.retire(t)
			t.sk, t.base = sk, t.last
		}
		t.last, t.gen = cur, c.gen
		live[i] = cur.sub(t.base)
	}
	for ck, t := range c.conns {
		if t.gen != c.gen {
			c.retire(t)
			delete(c.conns, ck)
		}
	}

	clear(c.scrape)
	for sk, gone := range c.series {
		c.scrape[sk] = &aggregate{c: *gone}
	}
	for i := range conns {
		a := c.scrape[keys[i]]
		a.conns++
		a.queue += conns[i].Queue
		a.c.add(live[i])
	}
	out := make([]prometheus.Metric, 0, 6*len(c.scrape)+1)
	for sk, a := range c.scrape {
		g := func(d *prometheus.Desc, v int) {
			out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), sk.door, sk.proto))
		}
		n := func(d *prometheus.Desc, v uint64) {
			out = append(out, prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), sk.door, sk.proto))
		}
		g(c.connections, a.conns)
		g(c.queue, a.queue)
		n(c.msgsIn, a.c.msgsIn)
		n(c.msgsOut, a.c.msgsOut)
		n(c.bytesIn, a.c.bytesIn)
		n(c.bytesOut, a.c.bytesOut)
	}
	if !c.proc.Started.IsZero() {
		out = append(out, prometheus.MustNewConstMetric(c.started, prometheus.GaugeValue,
			float64(c.proc.Started.UnixNano())/1e9))
	}
	return out
}

// seriesFor returns the series of door and proto, adding it if there is
// room; c.mu is held.
func (c *Collector) seriesFor(door, proto string) seriesKey {
	sk := seriesKey{door, proto}
	if _, ok := c.series[sk]; ok {
		return sk
	}
	if len(c.series) >= maxSeries {
		sk = seriesKey{OverflowLabel, OverflowLabel}
		if _, ok := c.series[sk]; ok {
			return sk
		}
	}
	c.series[sk] = &counters{}
	return sk
}

// retire adds what t counted in its series to the series' counts of gone
// connections; c.mu is held.
func (c *Collector) retire(t *tracked) {
	c.series[t.sk].add(t.last.sub(t.base))
}

// NewRegistry returns a private registry (not prometheus's global one)
// holding a Collector over src and the standard Go runtime and process
// collectors (go_*, process_*). Callers may register more collectors.
func NewRegistry(p Process, src Source) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(p, src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// PrometheusHandler serves the metrics of NewRegistry(p, src) through
// promhttp: the Prometheus text format, or whichever format the scraper
// asks for in its Accept header (protobuf, OpenMetrics), gzip-compressed
// on request. A collection error leaves the other metrics served. At most
// 4 scrapes are served at once; more are answered 503.
func PrometheusHandler(p Process, src Source) http.Handler {
	return promhttp.HandlerFor(NewRegistry(p, src), promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	})
}
