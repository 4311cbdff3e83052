package monitor

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metrics maps "name{door="d",proto="p"}" (or the bare name) to a value.
type metrics map[string]float64

// series names a series of the Collector.
func series(name, door, proto string) string {
	return fmt.Sprintf("%s{door=%q,proto=%q}", name, door, proto)
}

// parseMetrics parses the Prometheus text format with expfmt.
func parseMetrics(t *testing.T, r io.Reader) metrics {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	out := metrics{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetUntyped() != nil:
				out[key] = m.GetUntyped().GetValue()
			default:
				out[key] = -1 // present; summaries and histograms are not compared
			}
		}
	}
	return out
}

// scrape GETs h and parses the answer.
func scrape(t *testing.T, h http.Handler) metrics {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q", ct)
	}
	return parseMetrics(t, rec.Body)
}

// source is a Source whose list the test changes between scrapes.
type source struct {
	mu    sync.Mutex
	conns []Conn
}

func (s *source) set(c ...Conn) {
	s.mu.Lock()
	s.conns = c
	s.mu.Unlock()
}

func (s *source) Conns() []Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Conn(nil), s.conns...)
}

func TestPrometheusHandler(t *testing.T) {
	start := time.Unix(1000, 0)
	src := &source{}
	h := PrometheusHandler(Process{PID: 1, Command: "listen", Started: start}, src)
	tcp := func(id string, in, out uint64) Conn {
		return Conn{ID: id, Door: "d", Proto: "tcp", MsgsIn: in, MsgsOut: out, BytesIn: 10 * in, BytesOut: 10 * out, Queue: 1}
	}
	type want map[string]float64 // series(name, door, proto) or bare name → value
	c := func(name, door, proto string) string { return series("switchboard_"+name, door, proto) }
	for _, step := range []struct {
		name  string
		conns []Conn
		want  want
	}{
		{"two conns", []Conn{tcp("1", 3, 1), tcp("2", 2, 0), {ID: "u", Door: "d", Proto: "udp", MsgsIn: 5, BytesIn: 50}}, want{
			c("connections", "d", "tcp"): 2, c("queue_messages", "d", "tcp"): 2,
			c("messages_received_total", "d", "tcp"): 5, c("messages_sent_total", "d", "tcp"): 1,
			c("bytes_received_total", "d", "tcp"): 50, c("bytes_sent_total", "d", "tcp"): 10,
			c("connections", "d", "udp"): 1, c("messages_received_total", "d", "udp"): 5,
			"switchboard_process_start_time_seconds": 1000,
		}},
		{"one grows, others gone: counters stay", []Conn{tcp("1", 4, 2)}, want{
			c("connections", "d", "tcp"): 1, c("queue_messages", "d", "tcp"): 1,
			c("messages_received_total", "d", "tcp"): 6, c("messages_sent_total", "d", "tcp"): 2,
			c("connections", "d", "udp"): 0, c("messages_received_total", "d", "udp"): 5,
		}},
		{"moves to tls: the rest counts there", []Conn{{ID: "1", Door: "d", Proto: "tls", MsgsIn: 7, MsgsOut: 2, BytesIn: 70, BytesOut: 20}}, want{
			c("connections", "d", "tcp"): 0, c("messages_received_total", "d", "tcp"): 6,
			c("connections", "d", "tls"): 1, c("messages_received_total", "d", "tls"): 3, c("bytes_received_total", "d", "tls"): 30,
			c("messages_sent_total", "d", "tls"): 0,
		}},
		{"ID reused with smaller counters", []Conn{{ID: "1", Door: "d", Proto: "tls", MsgsIn: 1}}, want{
			c("messages_received_total", "d", "tls"): 4, c("messages_received_total", "d", "tcp"): 6,
		}},
		{"same ID in another door, and conns without ID", []Conn{
			{ID: "1", Door: "d", Proto: "tls", MsgsIn: 1},
			{ID: "1", Door: "e", Proto: "tls", MsgsIn: 2},
			{Door: "e", Proto: "tls", MsgsIn: 5}, {Door: "e", Proto: "tls", MsgsIn: 5},
		}, want{
			c("messages_received_total", "d", "tls"): 4, c("connections", "e", "tls"): 3,
			c("messages_received_total", "e", "tls"): 12,
		}},
		{"labels escaped", []Conn{{ID: "x", Door: "we\"i\\rd\n", Proto: "tcp", MsgsIn: 1}}, want{
			c("messages_received_total", "we\"i\\rd\n", "tcp"): 1, c("connections", "e", "tls"): 0,
		}},
	} {
		src.set(step.conns...)
		got := scrape(t, h)
		for k, v := range step.want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s: %s = %v (present %v), want %v", step.name, k, g, ok, v)
			}
		}
		for _, k := range []string{"go_goroutines", "process_start_time_seconds", "process_open_fds"} {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: no %s", step.name, k)
			}
		}
		if t.Failed() {
			t.Fatalf("after %q the scrape was %v", step.name, got)
		}
	}
}

// Door/proto pairs beyond the bound are reported under OverflowLabel.
func TestCollectorOverflow(t *testing.T) {
	src := &source{}
	var conns []Conn
	for i := range maxSeries + 10 {
		conns = append(conns, Conn{ID: "c", Door: fmt.Sprint("door", i), Proto: "tcp", MsgsIn: 1})
	}
	src.set(conns...)
	got := scrape(t, PrometheusHandler(Process{}, src))
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "switchboard_connections{") {
			n++
		}
	}
	if n != maxSeries+1 {
		t.Errorf("%d connection series, want %d and the overflow", n, maxSeries)
	}
	if g := got[series("switchboard_messages_received_total", OverflowLabel, OverflowLabel)]; g != 10 {
		t.Errorf("overflow series counted %v messages, want 10", g)
	}
}

// Over random opens, growth, protocol moves and closes, every counter
// series only grows, and each counter's sum over its series is the sum of
// what every connection had counted when last scraped.
func TestCollectorMonotonic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := &source{}
	h := PrometheusHandler(Process{}, src)
	type conn struct {
		Conn
		scraped uint64 // MsgsIn at the last scrape
	}
	live := map[string]*conn{}
	var gone uint64 // what closed connections had at their last scrape
	prev := metrics{}
	protos := []string{"polling", "websocket", "tcp"}
	for step := range 300 {
		for id, c := range live {
			switch r := rng.IntN(10); {
			case r == 0:
				gone += c.scraped
				delete(live, id)
			case r == 1:
				c.Proto = protos[rng.IntN(len(protos))]
				fallthrough
			default:
				c.MsgsIn += uint64(rng.IntN(5))
				c.BytesOut += uint64(rng.IntN(100))
			}
		}
		for range rng.IntN(3) {
			id := fmt.Sprint(step, "-", len(live))
			live[id] = &conn{Conn: Conn{ID: id, Door: []string{"a", "b"}[rng.IntN(2)], Proto: protos[rng.IntN(len(protos))], MsgsIn: uint64(rng.IntN(3))}}
		}
		var cs []Conn
		var want uint64 = gone
		for _, c := range live {
			cs = append(cs, c.Conn)
			c.scraped = c.MsgsIn
			want += c.MsgsIn
		}
		src.set(cs...)
		got := scrape(t, h)
		var sum float64
		for k, v := range got {
			if !strings.HasPrefix(k, "switchboard_") || !strings.Contains(k, "_total{") {
				continue
			}
			if v < prev[k] {
				t.Fatalf("step %d: %s went from %v to %v", step, k, prev[k], v)
			}
			if strings.HasPrefix(k, "switchboard_messages_received_total{") {
				sum += v
			}
		}
		for k := range prev {
			if _, ok := got[k]; !ok && strings.HasPrefix(k, "switchboard_") {
				t.Fatalf("step %d: %s gone", step, k)
			}
		}
		if sum != float64(want) {
			t.Fatalf("step %d: messages received sum to %v, want %d", step, sum, want)
		}
		prev = got
	}
}

// Concurrent scrapes while the connections change (run with -race).
func TestCollectorConcurrent(t *testing.T) {
	src := &source{}
	c := NewCollector(Process{Started: time.Now()}, src)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				if g == 0 {
					src.set(Conn{ID: "1", Door: "d", Proto: "tcp", MsgsIn: uint64(i)}, Conn{ID: fmt.Sprint(i % 7), Door: "e", Proto: "udp", MsgsIn: 1})
				}
				if n := len(c.collect()); n == 0 {
					t.Errorf("no metrics")
					return
				}
			}
		})
	}
	wg.Wait()
}

// The control socket serves /metrics through the same handler.
func TestControlSocketMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := time.Now()
	srv, err := Serve(ctx, ServerConfig{Dir: t.TempDir(), Process: Self("listen", nil, now), Source: SourceFunc(func() []Conn { return sample(now) })})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", srv.Path())
	}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://control/metrics", nil)
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got := parseMetrics(t, res.Body)
	for k, v := range map[string]float64{
		series("switchboard_bytes_received_total", "", "tcp"): 30,
		series("switchboard_connections", "", "udp"):          1,
		series("switchboard_queue_messages", "", "tcp"):       2,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// A scraper asking for the protobuf format (as Prometheus may) gets it,
// gzip-compressed on request.
func TestPrometheusHandlerProtobuf(t *testing.T) {
	now := time.Now()
	h := PrometheusHandler(Process{Started: now}, SourceFunc(func() []Conn { return sample(now) }))
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3")
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("%d, Content-Encoding %q", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	format := expfmt.ResponseFormat(rec.Header())
	if format.FormatType() != expfmt.TypeProtoDelim {
		t.Fatalf("format %q, want protobuf", format)
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	dec := expfmt.NewDecoder(zr, format)
	found := false
	for range 1000 {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if mf.GetName() != "switchboard_bytes_received_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "proto" && l.GetValue() == "tcp" && m.GetCounter().GetValue() == 30 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("no switchboard_bytes_received_total{proto=\"tcp\"} 30")
	}
}
