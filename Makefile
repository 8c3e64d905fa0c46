# logship — see README.md. `make demo` and `make test` set up everything they
# need on a fresh Debian/Ubuntu machine (run as root).

SHELL      := /bin/bash
PLUGIN     ?= logship:latest
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO         ?= go
PLUGIN_DIR := build/plugin
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"

.PHONY: all build plugin-dir install demo test unit e2e bench setup clean

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o bin/logship ./cmd/logship

# The managed plugin's folder: config.json + a rootfs holding the static binary.
plugin-dir: build
	rm -rf $(PLUGIN_DIR)
	mkdir -p $(PLUGIN_DIR)/rootfs/run/docker/plugins $(PLUGIN_DIR)/rootfs/tmp $(PLUGIN_DIR)/rootfs/etc/ssl/certs $(PLUGIN_DIR)/rootfs/var/lib/docker
	cp bin/logship $(PLUGIN_DIR)/rootfs/logship
	if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt $(PLUGIN_DIR)/rootfs/etc/ssl/certs/; fi
	cp config.json $(PLUGIN_DIR)/config.json

setup:
	bash test/setup.sh

# (Re)creates and enables the plugin $(PLUGIN), replacing an older one.
install: setup plugin-dir
	bash test/install-plugin.sh $(PLUGIN) $(PLUGIN_DIR)

demo: install
	bash test/demo.sh $(PLUGIN)

# Unit, integration and end-to-end tests (through a real dockerd).
test: setup
	bash test/run-tests.sh

unit:
	$(GO) test ./...

# Only the end-to-end suite, against the plugin as installed by `make install`.
e2e: install
	LOGSHIP_E2E=1 $(GO) test -count=1 -timeout 60m -v ./test/e2e/...

bench: setup
	bash test/bench.sh

clean:
	rm -rf bin build
