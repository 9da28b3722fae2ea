# microsim — build and test entry points. `make test` is what CI runs.

GO        ?= go
FUZZTIME  ?= 10s
# -p 2 matches the 2-core CI machine; race-enabled tests are CPU-bound.
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: test vet unit fuzz generate bench

test: vet unit fuzz

vet:
	$(GO) vet ./...

unit:
	$(GO) test $(TESTFLAGS) ./...

# Runs every fuzz target in the module for FUZZTIME each (the seed corpus
# already runs as part of `unit`). Targets are discovered, not listed by hand.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for fz in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$fz ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

generate:
	$(GO) generate ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./bench/...
