# tokenjar: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build frontend test test-go test-go-postgres test-frontend e2e bench clean

# Build everything and start tokenjar on http://127.0.0.1:8420 (data in ./data).
run: build
	./tokenjar serve --data ./data

build: frontend
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o tokenjar .

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

frontend: node_modules/.installed
	npm run build

# Every test: Go (engine, API, crash) on SQLite and again on PostgreSQL, the frontend's type
# check and unit tests, and the end-to-end tests in a real Chromium.
test: test-go test-go-postgres test-frontend e2e

ENSURE_STRACE := scripts/ensure-package.sh strace strace "the fsync test (fsync_test.go)"
ENSURE_SQLITE3 := scripts/ensure-package.sh sqlite3 sqlite3 "the lock test (db/locks_test.go)"

# The Go suite on SQLite, the default engine: TOKENJAR_TEST_DATABASE is cleared for it.
test-go:
	$(ENSURE_STRACE)
	$(ENSURE_SQLITE3)
	$(GO) vet ./...
	env -u TOKENJAR_TEST_DATABASE $(GO) test -count=1 ./...

# The Go suite on PostgreSQL: on the server TOKENJAR_TEST_DATABASE names (an admin URL), or when
# it is unset on a throwaway cluster that scripts/with-pg-cluster.sh starts for the run (Debian's
# postgresql, installed with apt-get if missing) and stops after it, also when a test fails.
test-go-postgres:
	$(ENSURE_STRACE)
	$(ENSURE_SQLITE3)
	scripts/with-pg-cluster.sh $(GO) test -count=1 -p 2 -timeout 25m ./...

test-frontend: node_modules/.installed
	npm run check
	npm test

e2e: build
	scripts/ensure-chromium.sh
	TOKENJAR_BIN=./tokenjar npm run e2e

bench: build
	bench/run.sh

clean:
	rm -rf tokenjar frontend/dist/assets frontend/dist/index.html node_modules
