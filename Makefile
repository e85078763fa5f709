SHELL := /bin/bash
# monstack — build, test, lint, bench, demo.
# `make test` installs the Debian packages the tests need when they are missing.

CARGO ?= cargo
DEBS := prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter logrotate systemd curl python3 time bc bzip2 \
  systemd-container socat openssh-server openssh-client rsyslog python3-venv cloud-init apt-utils gpg
APT_STAMP := /var/lib/apt/lists/partial
# ansible-core (pinned in ansible/requirements.txt) lives in this venv.
VENV := target/venv
PYTHON := $(shell command -v /usr/bin/python3 || command -v python3)
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# More binaries for the collection, as SYSTEM_ARCH=PATH (e.g. linux_aarch64=target/aarch64-unknown-linux-gnu/release/monstack).
ANSIBLE_EXTRA_BINARIES ?=

.PHONY: all build release test deps venv lint fmt bench demo demo-clean clean ci ansible

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
	@$(MAKE) --no-print-directory venv

## ansible-core from PyPI into target/venv, at the version ansible/requirements.txt pins.
venv: $(VENV)/.installed
$(VENV)/.installed: ansible/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r ansible/requirements.txt
	touch $@

## The Ansible collection monstack.stack with this build's binary for this machine's
## platform (plus ANSIBLE_EXTRA_BINARIES): target/ansible/monstack-stack-VERSION.tar.gz.
ansible: release venv
	bash ansible/build.sh target/ansible $(VERSION) $(VENV)/bin/ansible-galaxy \
	  linux_$$(uname -m)=target/release/monstack $(ANSIBLE_EXTRA_BINARIES)

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
