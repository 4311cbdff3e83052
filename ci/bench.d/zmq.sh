#!/usr/bin/env bash
# ZeroMQ speed comparison, side by side in one run: switchboard's pure-Go zmq
# (`switchboard bench`), libzmq (our C perf tools in interop/libzmq, built
# against libzmq3-dev), go-zeromq/zmq4 (interop/zmq4bench) and plain TCP (the
# same C tools in plain-socket mode: length-prefixed messages through a
# 64 KiB buffer, the ceiling for any library on TCP). All four speak libzmq's
# perf-tool arguments and output lines.
#
# PUSH/PULL throughput at 16 B, 256 B, 4 KiB, 64 KiB and REQ/REP latency at
# 1 B and 1 KiB over tcp loopback. Each cell runs REPS rounds (default 5);
# a round runs every implementation once, in turn, so that the figures of
# one round meet about the same background load. A figure is the median
# over rounds; a ratio (switchboard / other: throughput, higher is better
# for switchboard; latency, lower is better) is the median of the
# per-round ratios, steadier on a shared machine than a ratio of medians.
#
# Env: REPS (runs per cell), ZMQ_BENCH_PORT (first of the loopback ports
# used, default 57100), ZMQ_BENCH_QUICK=1 (counts / 10, for a smoke run).
# Called by `make bench` (ci/bench.sh); runs in about 2-4 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."

reps=${REPS:-5}
port=${ZMQ_BENCH_PORT:-57100}
div=1
[ "${ZMQ_BENCH_QUICK:-}" = 1 ] && div=10

work=$(mktemp -d /tmp/switchboard-zmqbench.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "zmq bench: building switchboard, the libzmq and plain-TCP tools, zmq4bench"
go build -o "$work/switchboard" ./cmd/switchboard
bash interop/libzmq/build.sh "$work/c" >/dev/null
(cd interop/zmq4bench && go build -o "$work/zmq4bench" .)

# tool IMPL ROLE: the command line prefix for one side of one implementation.
tool() {
	case $1 in
	switchboard) echo "$work/switchboard bench $2" ;;
	libzmq) echo "$work/c/$2" ;;
	tcp) echo "$work/c/tcp_$2" ;;
	zmq4) echo "$work/zmq4bench $2" ;;
	esac
}

# run1 IMPL KIND SIZE COUNT: one local/remote run; prints msg/s (thr) or
# µs (lat) from whichever side reports it.
run1() {
	local impl=$1 kind=$2 size=$3 count=$4 ep out lout rout lpid
	port=$((port + 1))
	ep="tcp://127.0.0.1:$port"
	lout="$work/local.out"
	rout="$work/remote.out"
	timeout 120 $(tool "$impl" "local_$kind") "$ep" "$size" "$count" >"$lout" 2>&1 &
	lpid=$!
	if ! timeout 120 $(tool "$impl" "remote_$kind") "$ep" "$size" "$count" >"$rout" 2>&1; then
		echo "zmq bench: $impl remote_$kind $size $count failed:" >&2
		cat "$rout" >&2
		kill "$lpid" 2>/dev/null || true
		wait "$lpid" 2>/dev/null || true
		return 1
	fi
	if ! wait "$lpid"; then
		echo "zmq bench: $impl local_$kind $size $count failed:" >&2
		cat "$lout" >&2
		return 1
	fi
	if [ "$kind" = thr ]; then
		awk '/mean throughput: .* \[msg\/s\]/ {print $3}' "$lout"
	else
		awk '/average latency:/ {print $3}' "$rout"
	fi
}

# median: the median of the numbers on stdin.
median() {
	sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'
}

# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# rounds KIND SIZE: $reps rounds, each running every implementation once
# in turn, so that a pair of figures meets about the same background
# load. Sets val[IMPL] (median over rounds) and rat[IMPL] (median of the
# per-round ratios switchboard / IMPL).
rounds() {
	local kind=$1 size=$2 i impl
	declare -gA val=() rat=()
	declare -A vals=() rats=()
	for ((i = 0; i < reps; i++)); do
		declare -A one=()
		for impl in "${impls[@]}"; do
			one[$impl]=$(run1 "$impl" "$kind" "$size" "$(count "$size" "$kind" "$impl")")
			vals[$impl]+="${one[$impl]} "
		done
		for impl in "${impls[@]}"; do
			rats[$impl]+="$(ratio "${one[switchboard]}" "${one[$impl]}") "
		done
		unset one
	done
	for impl in "${impls[@]}"; do
		val[$impl]=$(printf '%s\n' ${vals[$impl]} | median)
		rat[$impl]=$(printf '%s\n' ${rats[$impl]} | median)
	done
}

# count SIZE KIND IMPL: message counts sized for ~0.5-2 s per run.
count() {
	local n
	case "$2:$1" in
	thr:16) n=2000000 ;;
	thr:256) n=1000000 ;;
	thr:4096) n=200000 ;;
	thr:65536) n=20000 ;;
	lat:*) n=20000 ;;
	esac
	# zmq4 is one to two orders of magnitude slower: fewer messages.
	[ "$3" = zmq4 ] && n=$((n / 10))
	echo $((n / div))
}

impls=(switchboard libzmq zmq4 tcp)

echo
echo "PUSH/PULL throughput over tcp loopback, msg/s (median of $reps rounds; MB/s in brackets;"
echo "ratios: median of the per-round ratios)"
printf '%-7s %22s %22s %22s %22s  %8s %8s %8s\n' size switchboard libzmq zmq4 plain-tcp sb/libzmq sb/zmq4 sb/tcp
for size in 16 256 4096 65536; do
	rounds thr "$size"
	cells=()
	for impl in "${impls[@]}"; do
		cells+=("$(awk -v m="${val[$impl]}" -v s="$size" 'BEGIN { printf "%d (%.0f)", m, m * s / 1e6 }')")
	done
	printf '%-7s %22s %22s %22s %22s  %8s %8s %8s\n' "$size" "${cells[@]}" \
		"${rat[libzmq]}" "${rat[zmq4]}" "${rat[tcp]}"
done

echo
echo "REQ/REP latency over tcp loopback, µs one way (libzmq's measure: round trip / 2;"
echo "median of $reps rounds; ratios: median of the per-round ratios, lower is better)"
printf '%-7s %12s %12s %12s %12s  %9s %9s %9s\n' size switchboard libzmq zmq4 plain-tcp sb/libzmq sb/zmq4 sb/tcp
for size in 1 1024; do
	rounds lat "$size"
	printf '%-7s %12s %12s %12s %12s  %9s %9s %9s\n' "$size" \
		"${val[switchboard]}" "${val[libzmq]}" "${val[zmq4]}" "${val[tcp]}" \
		"${rat[libzmq]}" "${rat[zmq4]}" "${rat[tcp]}"
done
