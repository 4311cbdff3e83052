#!/usr/bin/env bash
# Socket.IO speed comparison, side by side in one run: switchboard's
# socketio server (internal/siobench/server) and the official Node.js
# socket.io 4.8 server (interop/node/bench/server.js), driven by the same
# lean WebSocket clients (internal/siobench), printing ratios:
#   - broadcast to 1,000 clients: deliveries/s at the clients, server CPU
#     per delivery (/proc/PID/stat utime+stime);
#   - echo with ack, one client: round trip p50/p99;
#   - 10,000 idle connections: server RSS growth per connection.
# Needs node and interop/node/node_modules (bash ci/deps.sh). About 1-2 min.
set -euo pipefail
cd "$(dirname "$0")/../.."

# 10,000 connections need more than the usual 1024 descriptors, in the
# client process and in each server.
want=$((2 * ${SIOBENCH_IDLE:-10000} + 1000))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
	want=$hard
fi
ulimit -n "$want"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/sioserver" ./internal/siobench/server
go build -o "$tmp/siobench" ./internal/siobench
"$tmp/siobench" -go "$tmp/sioserver" -node interop/node/bench/server.js \
	-clients "${SIOBENCH_CLIENTS:-1000}" -idle "${SIOBENCH_IDLE:-10000}" \
	-duration "${SIOBENCH_DURATION:-10s}" -echoes "${SIOBENCH_ECHOES:-20000}"
