#!/usr/bin/env bash
# Hub broadcast comparison, side by side in one run (internal/hubbench):
# one room of 1,000 Socket.IO clients where one client says lines, on
#   - hub:  the real daemon (switchboard serve) with the ZeroMQ XPUB door
#           and 10 ZeroMQ subscribers in the room too;
#   - hub-sio: the same without the ZeroMQ door;
#   - bare: switchboard's socketio server with the same handlers (no hub);
#   - node: the official socket.io 4.8 server (interop/e2e/bench_chat.js).
# Prints deliveries/s and server CPU per delivery (/proc/PID/stat) with
# ratios; the hub's cross-door overhead should stay within 10% of bare.
# Needs node and interop/node/node_modules (bash ci/deps.sh). About 1.5 min.
set -euo pipefail
cd "$(dirname "$0")/../.."

want=$((4 * ${HUBBENCH_CLIENTS:-1000} + 1000))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
	want=$hard
fi
ulimit -n "$want"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/switchboard" ./cmd/switchboard
go build -o "$tmp/hubbench" ./internal/hubbench
"$tmp/hubbench" -switchboard "$tmp/switchboard" -node-script interop/e2e/bench_chat.js \
	-clients "${HUBBENCH_CLIENTS:-1000}" -subs "${HUBBENCH_SUBS:-10}" \
	-duration "${HUBBENCH_DURATION:-10s}"
