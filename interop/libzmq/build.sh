#!/usr/bin/env bash
# Builds the perf tools in perf.c against Debian's libzmq3-dev:
#   OUT/local_thr OUT/remote_thr OUT/local_lat OUT/remote_lat        (libzmq)
#   OUT/tcp_local_thr OUT/tcp_remote_thr OUT/tcp_local_lat OUT/tcp_remote_lat (plain TCP)
# Usage: bash interop/libzmq/build.sh [OUT]   (OUT defaults to interop/libzmq/bin)
# Rebuilds only when perf.c is newer than a binary. Kept outside the Go module:
# the Go code stays cgo-free.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/bin}
mkdir -p "$out"
cc=${CC:-cc}
cflags=$(pkg-config --cflags libzmq)
libs=$(pkg-config --libs libzmq)
for t in local_thr remote_thr local_lat remote_lat; do
	if [ ! -x "$out/$t" ] || [ "$here/perf.c" -nt "$out/$t" ]; then
		$cc -O2 -Wall -Wextra -std=c11 -D_POSIX_C_SOURCE=200809L -DTOOL_$t $cflags -o "$out/$t" "$here/perf.c" $libs
	fi
	if [ ! -x "$out/tcp_$t" ] || [ "$here/perf.c" -nt "$out/tcp_$t" ]; then
		$cc -O2 -Wall -Wextra -std=c11 -D_POSIX_C_SOURCE=200809L -DTOOL_$t -DPLAIN_TCP -o "$out/tcp_$t" "$here/perf.c"
	fi
done
echo "$out"
