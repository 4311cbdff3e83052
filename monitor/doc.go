// Package monitor describes the live state of a process's connections and
// serves it: a Snapshot type (process, time, one Conn per connection, and
// totals) with JSON tags, a Source interface for anything that can list its
// connections, an HTTP JSON handler, and a control socket: a Unix socket per
// process under the runtime directory that `switchboard stat` finds and
// reads.
//
// Entry points:
//
//   - NewSnapshot builds a Snapshot from conns and computes the totals.
//   - Handler serves a Source as JSON over HTTP.
//   - NewCollector is a prometheus.Collector over a Source (per door and
//     protocol: connections, queue depth, messages and bytes in and out);
//     NewRegistry puts it on a private registry with the Go and process
//     collectors; PrometheusHandler serves that registry through promhttp.
//   - Serve starts the control socket of this process; Fetch reads one;
//     Discover lists the control sockets of this user's processes.
//
// The control socket speaks HTTP/1.1: GET /snapshot returns the Snapshot as
// JSON and GET /metrics the Prometheus metrics, so
// `curl --unix-socket PATH http://x/snapshot` works too.
//
// The examples are the best way to understand how to use this package.
package monitor
