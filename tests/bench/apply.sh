#!/usr/bin/env bash
# Benchmark: the full default stack (every file, three releases, three services in
# `direct` mode on loopback ports, releases from a loopback mirror, Grafana off):
# first apply, then a no-op re-apply and a plan, side by side in one run.
# Target: no-op re-apply under 100 ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${MONSTACK_BIN:-target/release/monstack}
[ -x "$bin" ] || cargo build --release --locked
runs=${RUNS:-20}
mirror=target/demo-mirror
. tests/scripts/loopback.sh
ensure_mirror "$mirror"
work=$(mktemp -d)
p=$(free_port); a=$(free_port); n=$(free_port)
http_pid=''
cleanup() {
  "$bin" stop --root "$work/root" --config "$work/monstack.yaml" -q >/dev/null 2>&1 || true
  kill "$http_pid" 2>/dev/null || true
  wait "$http_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
serve_mirror "$mirror"

# The default stack (runbook jobs, rules, logrotate, rsyslog, units), on loopback ports.
cat > "$work/monstack.yaml" <<YAML
downloads:
  base_url: http://127.0.0.1:$mport
prometheus:
  version: 2.42.0
  listen_address: 127.0.0.1:$p
  scrape_configs:
    - job_name: snowflake-mcp
      targets: ['127.0.0.1:8000']
      metrics_path: /metrics
      scrape_interval: 30s
    - job_name: prometheus
      targets: ['127.0.0.1:$p']
    - job_name: node
      targets: ['127.0.0.1:$n']
  alertmanagers: ['127.0.0.1:$a']
alertmanager:
  version: 0.25.0
  listen_address: 127.0.0.1:$a
node_exporter:
  version: 1.5.0
  listen_address: 127.0.0.1:$n
grafana:
  enabled: false
YAML
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
m() { "$bin" --root "$work/root" --config "$work/monstack.yaml" -q "$@"; }

t=$(date +%s%N); m apply --service-manager direct >/dev/null; first=$(ms "$t")

times_of() {
  local out=()
  for _ in $(seq 1 "$runs"); do
    local t; t=$(date +%s%N)
    m "$@" --detailed-exitcode >/dev/null || { echo "not converged: $* exited $?" >&2; exit 1; }
    out+=("$(( ($(date +%s%N) - t) / 1000 ))")
  done
  printf '%s\n' "${out[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f %.1f", a[1]/1000, a[int((NR+1)/2)]/1000, a[NR]/1000}'
}
read -r noop_min noop_med noop_max <<<"$(times_of apply)"
read -r plan_min plan_med plan_max <<<"$(times_of plan)"

printf '%-28s %10s %10s %10s\n' "apply.sh ($runs runs each)" "min ms" "median ms" "max ms"
printf '%-28s %10s %10s %10s\n' "first apply (reference)" "$first" "$first" "$first"
printf '%-28s %10s %10s %10s\n' "no-op re-apply" "$noop_min" "$noop_med" "$noop_max"
printf '%-28s %10s %10s %10s\n' "plan" "$plan_min" "$plan_med" "$plan_max"
awk -v f="$first" -v n="$noop_med" -v p="$plan_med" 'BEGIN {
  printf "ratio no-op/first = %.4f   plan/first = %.4f\n", n / f, p / f
  printf "target no-op re-apply < 100 ms: %s\n", (n < 100 ? "met" : "MISSED")
}'
