#!/usr/bin/env bash
# A fleet over SSH: first converge and no-op re-run of the monstack.stack.apply playbook
# against a plain-Ansible reference playbook (tests/bench/fleet/), each on N freshly
# booted real hosts (FLEET_BENCH_HOSTS, default 3; forks = N). The collection carries the
# release binary (make bench builds it). Needs root (systemd-nspawn) and ansible-core in
# target/venv (make deps). Goal: monstack's no-op re-run <= 1/5 of the reference's, its
# first converge <= 1/3.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x target/release/monstack ] || cargo build --release --locked
CI=${CI:-1} MONSTACK_COLLECTION_BIN=$PWD/target/release/monstack \
  cargo test --locked --test fleet_bench -- --ignored --nocapture --test-threads=1 2>&1 \
  | grep -v -E '^(running|test result|$)|Finished|Running|Compiling'
