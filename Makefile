# wasmflow — `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
# The Go release with every known standard-library fix (the vulnerability
# scan is clean only on it); the go command fetches it from the module proxy
# once per machine. The guest modules in plugins-examples pin their own.
export GOTOOLCHAIN := go1.26.10
BIN       := bin/wasmflow
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
TOOLS     := $(CURDIR)/bin/tools

GOLANGCI_LINT_VERSION := v2.15.0
GOVULNCHECK_VERSION   := v1.9.0
VULNDB_VERSION        := v0.0.0-20261105234957-e22db6528018

# Integration suites run against PostgreSQL and Redis when these are set;
# on a machine where both listen on their default ports, they are found.
TEST_DATABASE_URL ?= $(shell (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && echo 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable')
TEST_REDIS_ADDR   ?= $(shell (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && echo '127.0.0.1:6379')
export TEST_DATABASE_URL TEST_REDIS_ADDR

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/wasmflow
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/wasmflow

.PHONY: run
run: build ## build and start the embedded server (SQLite in ./wasmflow-data)
	./$(BIN) serve --examples-dir plugins-examples

.PHONY: test
test: ## go vet + all tests with the race detector (integration suites when PostgreSQL/Redis are reachable)
	@echo "integration: TEST_DATABASE_URL=$${TEST_DATABASE_URL:-<unset: PostgreSQL suites skip>} TEST_REDIS_ADDR=$${TEST_REDIS_ADDR:-<unset: Redis suites skip>}"
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout=30m ./...

.PHONY: cover
cover: ## statement coverage per package
	$(GO) test -count=1 -coverprofile=coverage.out ./... | awk '/coverage:/ {print $$2, $$5}' | column -t
	@$(GO) tool cover -func=coverage.out | tail -1

.PHONY: bench
bench: ## benchmarks of the hot paths (BENCHTIME=1x for a smoke run)
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$${BENCHTIME:-1s} ./...

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME (default 10s)
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$target"; $(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$${FUZZTIME:-10s} $$pkg; \
	  done; \
	done

.PHONY: fmt
fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## go vet
	$(GO) vet ./...

$(TOOLS)/golangci-lint:
	GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

.PHONY: lint
lint: $(TOOLS)/golangci-lint ## golangci-lint (depguard keeps the import rules of DESIGN.md)
	$(TOOLS)/golangci-lint run ./...

$(TOOLS)/govulncheck:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

.PHONY: vuln
vuln: $(TOOLS)/govulncheck ## known vulnerabilities, from an offline copy of the Go vulnerability database
	$(GO) mod download golang.org/x/vulndb@$(VULNDB_VERSION)
	$(TOOLS)/govulncheck -db file://$$($(GO) env GOMODCACHE)/golang.org/x/vulndb@$(VULNDB_VERSION)/data/osv ./...

.PHONY: plugins
plugins: ## install the guest toolchains and rebuild the example nodes in plugins-examples/
	$(MAKE) -C plugins-examples install-toolchains all

.PHONY: plugins-check
plugins-check: ## rebuild the example nodes and fail if any differs from the committed .wasm
	$(MAKE) -C plugins-examples install-toolchains
	plugins-examples/check-reproducible.sh

.PHONY: check
check: ## gofmt and go mod tidy leave the tree unchanged
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) mod tidy
	@git diff --exit-code go.mod go.sum || { echo "go mod tidy changed go.mod/go.sum"; exit 1; }

.PHONY: clean
clean: ## remove build output (not ./wasmflow-data)
	rm -rf bin coverage.out

.PHONY: nodekit-sdk
nodekit-sdk: ## copy the guest SDKs of plugins-examples/sdk into the node templates of `wasmflow node init`
	@for pair in go:go/sdk c:c/sdk rust:rust assemblyscript:assemblyscript/assembly/wasmflow; do \
	  from=plugins-examples/sdk/$${pair%%:*}; to=nodekit/template/$${pair#*:}; mkdir -p $$to; \
	  for f in $$from/*; do cp $$f $$to/$$(basename $$f).tmpl; done; \
	done
