SHELL := /bin/bash
# monstack — build, test, lint, bench, demo.
# `make test` installs the Debian packages the tests need when they are missing.

CARGO ?= cargo
DEBS := prometheus prometheus-alertmanager prometheus-node-exporter logrotate systemd curl python3 time bc bzip2
APT_STAMP := /var/lib/apt/lists/partial

.PHONY: all build release test deps lint fmt bench demo demo-clean clean ci

all: build

build:
	$(CARGO) build --locked

release:
	$(CARGO) build --locked --release

## Install the real validators and the binaries the test mirror is built from.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f '$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: deps
	$(CARGO) test --locked --no-fail-fast

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Benchmarks: each tests/bench/*.sh prints its figures side by side with a reference run.
bench: deps release
	@set -e; for b in tests/bench/*.sh; do echo "== $$b"; bash $$b; done

## The main job: an offline sandbox demo of the full flow under ./demo (Grafana is the
## tests' Grafana API emulator, built as an example).
demo: deps release
	$(CARGO) build --locked --release --example grafana-emulator
	bash tests/scripts/demo.sh

## Stop the demo's stack with the config the demo wrote, then remove ./demo.
demo-clean:
	@if [ -d ./demo ]; then \
	  [ -x ./target/release/monstack ] || $(CARGO) build --locked --release; \
	  ./target/release/monstack stop --root ./demo --config ./demo/monstack.yaml \
	    || { echo "demo-clean: the stack did not stop; ./demo kept" >&2; exit 1; }; \
	fi
	rm -rf ./demo

ci: lint test

clean:
	$(CARGO) clean
