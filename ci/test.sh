#!/usr/bin/env bash
# Installs missing peers, lints, then runs every test with the race detector,
# the interop tests included (SWITCHBOARD_INTEROP=1 makes a missing peer a
# failure rather than a skip).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash ci/deps.sh
bash ci/lint.sh
export SWITCHBOARD_INTEROP=1
set +e
go test -race -shuffle=on -timeout 15m ./... 2>&1 | tee /tmp/switchboard-test.log
status=${PIPESTATUS[0]}
set -e
echo "test: $(grep -c '^ok ' /tmp/switchboard-test.log) packages ok, $(grep -c '^FAIL' /tmp/switchboard-test.log) failed, $(($(date +%s) - start))s"
exit "$status"
