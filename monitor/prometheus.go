package monitor

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WritePrometheus writes the snapshot in the Prometheus text exposition
// format (version 0.0.4): totals, and per protocol and door the number of
// connections and the message and byte counters. Per-connection series are
// left out on purpose: their labels would be unbounded.
func (s *Snapshot) WritePrometheus(w io.Writer) error {
	type key struct{ proto, door string }
	type agg struct {
		conns                              int
		msgsIn, msgsOut, bytesIn, bytesOut uint64
		queue                              int
	}
	groups := map[key]*agg{}
	for _, c := range s.Conns {
		k := key{c.Proto, c.Door}
		a := groups[k]
		if a == nil {
			a = &agg{}
			groups[k] = a
		}
		a.conns++
		a.msgsIn += c.MsgsIn
		a.msgsOut += c.MsgsOut
		a.bytesIn += c.BytesIn
		a.bytesOut += c.BytesOut
		a.queue += c.Queue
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].proto != keys[j].proto {
			return keys[i].proto < keys[j].proto
		}
		return keys[i].door < keys[j].door
	})
	bw := bufio.NewWriter(w)
	metric := func(name, typ, help string, val func(*agg) string) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, k := range keys {
			fmt.Fprintf(bw, "%s{proto=\"%s\",door=\"%s\"} %s\n", name, promEscape(k.proto), promEscape(k.door), val(groups[k]))
		}
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	metric("switchboard_connections", "gauge", "Open connections and sockets.", func(a *agg) string { return strconv.Itoa(a.conns) })
	metric("switchboard_messages_received_total", "counter", "Messages received.", func(a *agg) string { return u(a.msgsIn) })
	metric("switchboard_messages_sent_total", "counter", "Messages sent.", func(a *agg) string { return u(a.msgsOut) })
	metric("switchboard_bytes_received_total", "counter", "Bytes received.", func(a *agg) string { return u(a.bytesIn) })
	metric("switchboard_bytes_sent_total", "counter", "Bytes sent.", func(a *agg) string { return u(a.bytesOut) })
	metric("switchboard_queue_messages", "gauge", "Messages waiting to be sent.", func(a *agg) string { return strconv.Itoa(a.queue) })
	fmt.Fprintf(bw, "# HELP switchboard_process_start_time_seconds Start time of the process.\n# TYPE switchboard_process_start_time_seconds gauge\n")
	fmt.Fprintf(bw, "switchboard_process_start_time_seconds %d\n", s.Process.Started.Unix())
	return bw.Flush()
}

var promEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func promEscape(s string) string { return promEscaper.Replace(s) }

// PrometheusHandler serves a snapshot of src in the Prometheus text format.
func PrometheusHandler(p Process, src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = NewSnapshot(p, time.Now(), src.Conns()).WritePrometheus(w)
	})
}
