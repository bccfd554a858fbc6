# Parlor: `make run` serves on the embedded defaults, `make test` runs every test.
GO       ?= go
BIN      := bin
PLUGINS  := $(filter-out internal,$(notdir $(wildcard plugins/*)))
GOFILES  := $(shell find . -name '*.go' -not -path './bin/*' 2>/dev/null)

# The odbc plugin needs unixODBC's headers (Debian: unixodbc-dev). Where they
# are missing, everything is built and tested with the tag noodbc: the odbc
# plugin is a stub that says what to install, and its tests skip (or fail
# under PARLOR_REQUIRE_SERVICES=1).
CC       ?= cc
HAVE_ODBC := $(shell printf '\043include <sql.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
ifneq ($(HAVE_ODBC),yes)
export GOFLAGS := $(strip $(GOFLAGS) -tags=noodbc)
$(info make: unixODBC headers (sql.h) not found: parlor-plugin-odbc is built without ODBC support; install unixodbc-dev for it)
endif

.PHONY: all build examples run test vet fmt-check tidy-check clean proto

all: build

build: $(BIN)/parlor $(BIN)/parlorctl $(addprefix $(BIN)/plugins/parlor-plugin-,$(PLUGINS))

# The web client and the modules' extensions are embedded: their files count too.
WEBFILES := $(shell find core/web/static plugins/*/web -type f 2>/dev/null)

$(BIN)/parlor $(BIN)/parlorctl: $(GOFILES) $(WEBFILES) go.mod go.sum config/parlor.yaml
	$(GO) build -o $@ ./cmd/$(notdir $@)

$(BIN)/plugins/parlor-plugin-%: $(GOFILES) $(WEBFILES) go.mod go.sum
	$(GO) build -o $@ ./plugins/$*

# examples: the example plugins, next to the shipped ones (docs/example-module.md).
examples: $(BIN)/plugins/parlor-plugin-dice $(BIN)/plugins/parlor-plugin-users

$(BIN)/plugins/parlor-plugin-dice: $(GOFILES) $(wildcard examples/module/*.js) go.mod go.sum
	$(GO) build -o $@ ./examples/module

$(BIN)/plugins/parlor-plugin-users: $(GOFILES) go.mod go.sum
	$(GO) build -o $@ ./examples/auth-plugin

run: build
	./$(BIN)/parlor

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

tidy-check:
	@$(GO) mod tidy -diff >/dev/null 2>&1 || { echo "go.mod/go.sum are not tidy: run 'go mod tidy'"; $(GO) mod tidy -diff; exit 1; }

test: build vet fmt-check tidy-check
	$(GO) test -race -count=1 -timeout 30m ./...

proto:
	$(GO) generate ./sdk/proto

clean:
	rm -rf $(BIN)

# bench: the standard load scenario (about a minute on 2 cores:
# 5000 idle clients, a room of 1000 with 1 and 4 publishers, 100 msg/s
# latency, guest and authurl logins; three nodes against one when NATS runs
# on 127.0.0.1:4222) and the Go micro-benchmarks of the message path; the
# figures are added to BENCHMARKS.md.
.PHONY: bench
bench: build $(BIN)/parlor-bench
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./core/chat/ ./core/modules/ ./core/transport/websocket/ > $(BIN)/gobench.txt && cat $(BIN)/gobench.txt
	./$(BIN)/parlor-bench --spawn $(BIN)/parlor $(if $(BASELINE),--baseline $(BASELINE)) --gobench $(BIN)/gobench.txt --markdown BENCHMARKS.md

$(BIN)/parlor-bench: $(GOFILES) go.mod go.sum
	$(GO) build -o $@ ./cmd/parlor-bench
