#!/usr/bin/env bash
# gofmt, go vet and staticcheck (pinned in go.mod's tool block).
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -s -l $(git ls-files '*.go') $(git ls-files --others --exclude-standard '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "lint: gofmt -s would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go mod tidy -diff || { echo "lint: go.mod/go.sum are not tidy (run go mod tidy)" >&2; exit 1; }
go vet ./...
go tool staticcheck ./...
echo "lint: ok"
