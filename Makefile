# microsim — build and test entry points. `make test` is what CI runs.

GO        ?= go
# A count, not a duration: go1.26's fuzz coordinator can fail a run that
# found nothing with "context deadline exceeded" when a busy worker misses
# the end of a -fuzztime duration (golang/go#75804, fixed in go1.27); a
# count has no deadline to race. 100000 execs take ~4-15 s per target here.
FUZZTIME  ?= 100000x
# Minimizing each new interesting input may take up to 60 s by default,
# which ate whole 10 s runs (FuzzParseScenario: 25 execs); 1 s leaves the
# run to the search (~11k execs).
FUZZMINIMIZE ?= 1s
# -p 2 matches the 2-core CI machine; race-enabled tests are CPU-bound.
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: test vet unit allocs poison peers fuzz generate bench consul prometheus chromium

test: vet unit allocs poison peers fuzz

# vet, staticcheck (pinned as a tool in go.mod), and a build for the other
# systems and architectures the module must compile on (platform-specific
# fast paths live behind build tags, with a portable fallback).
vet:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	GOOS=windows GOARCH=amd64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=linux GOARCH=arm64 $(GO) build ./...

# The Consul registry's tests run a real agent: bin/consul, built by the
# consul target, is put first on PATH, and MICROSIM_REQUIRE_CONSUL=1 makes
# those tests fail instead of skipping when it is missing. Likewise the
# metrics e2e test runs Debian's prometheus and promtool (the prometheus
# target), and MICROSIM_REQUIRE_PROMETHEUS=1 makes it fail without them; the
# dashboard's browser test drives Debian's chromium (the chromium target)
# and MICROSIM_REQUIRE_CHROMIUM=1 makes it fail without it.
unit: consul prometheus chromium
	PATH="$(CURDIR)/bin:$$PATH" MICROSIM_REQUIRE_CONSUL=1 MICROSIM_REQUIRE_PROMETHEUS=1 MICROSIM_REQUIRE_CHROMIUM=1 $(GO) test $(TESTFLAGS) ./...

# Allocation-count tests (TestCallAllocations, the selector's pick path,
# the memory transport's reuse on a cold connection, a lazy pool's Get):
# counts mean nothing under the race detector, so those tests are built
# without it (or skip under it) and run here, race detector off.
allocs:
	$(GO) test -count=1 -p 1 -run 'Alloc' ./bench/ ./framework/... ./memory/ ./internal/lazypool/

# Misuse of lent memory made visible: built with the microsim_poison tag
# (internal/poison), the transports overwrite a received message when its
# lease ends (its socket's next Recv or Close) instead of reusing it, so a
# reader that kept it reads garbage, which these tests (the transport
# conformance suites over memory, TCP and the decorated stacks, the
# server, the client, and the simulations that run whole worlds) notice;
# the transport-level ones also under the race detector, which reports an
# overwrite racing with a late read. About a minute on 2 cores.
poison:
	$(GO) test -count=1 -race -tags microsim_poison ./framework/transport/... ./memory/... ./faults/... ./framework/server/... ./framework/client/...
	$(GO) test -count=1 -tags microsim_poison ./sim/... ./scenarios/...

# bench/peers is a module of its own (grpc-go, go-micro, ... stay out of
# the main module's go.mod), so ./... does not reach it: vet it and run
# each peer benchmark once, so that it keeps building and working against
# the framework it replaces in.
peers:
	cd bench/peers && $(GO) vet ./... && $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x .

# bin/consul is built from source (Consul is pinned in tools/go.mod; it has
# no Debian package and no prebuilt download here): a few minutes cold,
# nothing when bin/consul is newer than tools/go.mod and tools/go.sum.
consul: bin/consul

bin/consul: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o ../bin/consul github.com/hashicorp/consul

# Debian's prometheus package (prometheus and promtool), installed with
# apt-get when either is missing (as root, or through sudo); nothing when
# both are on PATH.
prometheus:
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y prometheus; \
	fi

# Debian's chromium (headless, for the dashboard's browser test), installed
# with apt-get when missing (as root, or through sudo); nothing when on PATH.
chromium:
	@if ! command -v chromium >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; \
	fi

# Runs every fuzz target in the module for FUZZTIME (executions) each (the seed corpus
# already runs as part of `unit`). Targets are discovered, not listed by hand.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for fz in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$fz ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg; \
	  done; \
	done

generate:
	$(GO) generate ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./bench/...
