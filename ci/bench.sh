#!/usr/bin/env bash
# Benchmarks: Go benchmarks with -benchmem, then the side-by-side comparisons
# against the reference implementations, each printing ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/deps.sh
go test -run='^$' -bench=. -benchmem -count=1 ./...
for b in ci/bench.d/*.sh; do
	[ -e "$b" ] || continue
	echo "== $b"
	bash "$b"
done
