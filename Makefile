# Thin targets over ci/*.sh; CI runs the same ones (.ci/run calls make test).
.PHONY: test lint bench fuzz deps fmt

test:
	bash ci/test.sh

deps:
	bash ci/deps.sh

lint:
	bash ci/lint.sh

bench:
	bash ci/bench.sh

fuzz:
	bash ci/fuzz.sh

fmt:
	gofmt -s -w $$(git ls-files '*.go')
