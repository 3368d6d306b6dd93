# torale-cred. `make run` runs the service in the foreground, `make test` runs
# every test against a real Secret Service; both install what they need.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/torale-ai/torale-cred/internal/version.version=$(VERSION)
BUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
CMDS := torale-cred git-credential-torale torale-cred-service

.PHONY: all build run test lint cross bench fuzz clean deps reliability reliability-short

all: build

## build: static binaries in bin/ (CGO_ENABLED=0, as shipped)
build:
	@mkdir -p bin
	@for c in $(CMDS); do [ -d cmd/$$c ] && $(BUILD) -o bin/$$c ./cmd/$$c || exit 1; done

deps:
	@.ci/deps

## run: the daemon in the foreground; on a machine without a Secret Service
## it starts a private gnome-keyring in a dbus-run-session and says so.
run: build deps
	@if [ -n "$$DBUS_SESSION_BUS_ADDRESS" ] && timeout 3 dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true; then \
		exec bin/torale-cred daemon; \
	else \
		echo "make run: no Secret Service reachable; starting a private gnome-keyring (password: torale-test) in a dbus-run-session. Keys stored now last only for this run." >&2; \
		exec .ci/with-keyring bin/torale-cred daemon; \
	fi

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out" >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## cross: the other platforms still build
cross:
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null ./...
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o /dev/null ./...

## test: lint, cross-builds, then every test (race detector on) inside a
## private D-Bus session with an unlocked gnome-keyring.
test: deps lint cross build
	.ci/with-keyring $(GO) test -race -count=1 ./...

## reliability: the full reliability suite against real daemon processes on a
## real Secret Service: soak (64 clients x 100,000 look-ups while keys migrate),
## faults, hostile input, secrets hygiene (docs/reliability.md). Root is needed
## for the tmpfs and other-user cases. RELIABILITY_REPORT=file keeps the table.
RELIABILITY_REPORT ?=
reliability: deps
	TORALE_CRED_RELIABILITY=full TORALE_CRED_RELIABILITY_REPORT=$(abspath $(RELIABILITY_REPORT)) \
		.ci/with-keyring $(GO) test -count=1 -timeout 30m -v ./internal/reliability/

## reliability-short: the same cases scaled down (8 x 20,000 look-ups, 2,000
## connections), as CI runs them, without the race detector so memory is real
reliability-short: deps
	TORALE_CRED_RELIABILITY=short TORALE_CRED_RELIABILITY_REPORT=$(abspath $(RELIABILITY_REPORT)) \
		.ci/with-keyring $(GO) test -count=1 -timeout 5m ./internal/reliability/

## fuzz: every fuzz target for FUZZTIME each (default 10s); crashers stay in
## testdata/fuzz as regression seeds
fuzz:
	.ci/fuzz

## bench: every speed figure side by side in one run (daemon look-ups and
## their peers, throughput, memory, idle cost, plaintext exposure window,
## start-up), printed and written to docs/benchmarks.md with the machine's
## description; about 3 minutes. BENCH_QUICK=1: a smoke run that writes no file.
bench: deps build
	.ci/with-keyring $(GO) run ./internal/bench/report -bin bin $(if $(BENCH_QUICK),-quick,-out docs/benchmarks.md)

.PHONY: dist package

## dist: static binaries for every platform in dist/<os>_<arch>/, the version
## stamped from git (VERSION=... to override)
DIST ?= dist
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
dist:
	@for c in $(CMDS); do [ -f cmd/$$c/main.go ] || { echo "make $@: cmd/$$c/main.go is missing; $(CMDS) all ship" >&2; exit 1; }; done
	@for p in $(DIST_PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		for c in $(CMDS); do \
			echo "$(DIST)/$${os}_$$arch/$$c$$ext"; \
			GOOS=$$os GOARCH=$$arch $(BUILD) -o $(DIST)/$${os}_$$arch/$$c$$ext ./cmd/$$c || exit 1; \
		done; \
	done

## package: .deb and .rpm for linux/$(PACKAGE_ARCHS) in dist/, built with nfpm
## (pinned; `go run` builds it once into Go's cache, outside go.mod)
NFPM ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
PACKAGE_ARCHS ?= amd64 arm64
# dpkg and rpm want a version that starts with a digit and has no "-":
# v1.2.3 -> 1.2.3, v1.2.3-4-gabc-dirty -> 1.2.3+4.gabc.dirty, abc123 -> 0.0.0~git.abc123
PKG_VERSION ?= $(shell echo '$(VERSION)' | sed -E 's/^v([0-9])/\1/; /^[0-9]+\.[0-9]+/!s/^/0.0.0~git./; s/-/+/; s/-/./g')
package:
	@for c in $(CMDS); do [ -f cmd/$$c/main.go ] || { echo "make $@: cmd/$$c/main.go is missing; the package ships all of $(CMDS)" >&2; exit 1; }; done
	@for arch in $(PACKAGE_ARCHS); do \
		for c in $(CMDS); do GOOS=linux GOARCH=$$arch $(BUILD) -o $(DIST)/linux_$$arch/$$c ./cmd/$$c || exit 1; done; \
		for f in deb rpm; do \
			PKG_ARCH=$$arch PKG_VERSION='$(PKG_VERSION)' PKG_BIN=$(DIST)/linux_$$arch \
				$(NFPM) package --config packaging/nfpm.yaml --packager $$f --target $(DIST)/ || exit 1; \
		done; \
	done

clean:
	rm -rf bin dist
