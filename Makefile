# torale-cred. `make run` runs the service in the foreground, `make test` runs
# every test against a real Secret Service; both install what they need.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/torale-ai/torale-cred/internal/version.version=$(VERSION)
BUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
CMDS := torale-cred git-credential-torale

.PHONY: all build run test lint cross bench fuzz clean deps

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

clean:
	rm -rf bin dist
