#!/usr/bin/env bash
# Grafana push of 200 dashboards to the loopback emulator: first apply and a no-op
# re-apply (wall time, requests, writes), beside a reference run that re-posts every
# dashboard as the old setup script did. Target: no-op re-apply <= 0.5 s, zero writes
# (also against the Grafana 12 emulator with dashboards it rewrites on save).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test --release --locked --test grafana_bench -- --ignored --nocapture --test-threads=1 2>&1 \
  | grep -v -E '^(running|test result|$)|Finished|Running|Compiling'
