#!/usr/bin/env bash
# Benchmark: `monstack status` on the default stack (three services in `direct` mode on
# loopback ports, releases from a loopback mirror, Grafana off), healthy and with
# Prometheus hung (SIGSTOP), side by side with a reference run that polls the same
# endpoints one after another with curl | jq, as the runbook's health check does.
# Target: a hung component costs status about one timeout (2 s), not one per request.
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
prom_pid() { head -n1 "$work/root/var/lib/monstack/run/prometheus.pid" 2>/dev/null || true; }
cleanup() {
  local pp; pp=$(prom_pid)
  [ -n "$pp" ] && kill -CONT "$pp" 2>/dev/null || true
  "$bin" stop --root "$work/root" --config "$work/monstack.yaml" -q >/dev/null 2>&1 || true
  kill "$http_pid" 2>/dev/null || true
  wait "$http_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
serve_mirror "$mirror"

cat > "$work/monstack.yaml" <<YAML
downloads:
  base_url: http://127.0.0.1:$mport
prometheus:
  version: 2.42.0
  listen_address: 127.0.0.1:$p
  global:
    scrape_interval: 1s
  scrape_configs:
    - job_name: prometheus
      targets: ['127.0.0.1:$p']
    - job_name: node
      targets: ['127.0.0.1:$n']
alertmanager:
  version: 0.25.0
  listen_address: 127.0.0.1:$a
node_exporter:
  version: 1.5.0
  listen_address: 127.0.0.1:$n
grafana:
  enabled: false
YAML
m() { "$bin" --root "$work/root" --config "$work/monstack.yaml" "$@"; }
m -q apply --service-manager direct >/dev/null
m -q status --wait 60s >/dev/null || { echo "stack never became healthy" >&2; m status >&2; exit 1; }

# The runbook's way: one curl per endpoint, in sequence, each allowed the same 2 s.
reference() {
  local c=(curl -s --max-time 2)
  "${c[@]}" "http://127.0.0.1:$p/-/ready" >/dev/null || true
  "${c[@]}" "http://127.0.0.1:$p/metrics" | grep -q '^prometheus_config_last_reload_successful' || true
  "${c[@]}" "http://127.0.0.1:$p/api/v1/targets" | jq -r '.data.activeTargets[] | .health' >/dev/null 2>&1 || true
  "${c[@]}" "http://127.0.0.1:$p/api/v1/rules" | jq -r '.data.groups[].name' >/dev/null 2>&1 || true
  "${c[@]}" "http://127.0.0.1:$p/api/v1/alertmanagers" | jq -r '.data.activeAlertmanagers[].url' >/dev/null 2>&1 || true
  "${c[@]}" "http://127.0.0.1:$a/-/ready" >/dev/null || true
  "${c[@]}" "http://127.0.0.1:$n/metrics" | grep -c '^node_' >/dev/null || true
}

# min / median / max wall time in ms of `runs` calls of "$@" (exit codes ignored).
times_of() {
  local out=()
  for _ in $(seq 1 "$runs"); do
    local t; t=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    out+=("$(( ($(date +%s%N) - t) / 1000 ))")
  done
  printf '%s\n' "${out[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f %.1f", a[1]/1000, a[int((NR+1)/2)]/1000, a[NR]/1000}'
}
read -r s_min s_med s_max <<<"$(times_of m status)"
read -r r_min r_med r_max <<<"$(times_of reference)"

kill -STOP "$(prom_pid)"
hung_runs=$runs; runs=3
read -r hs_min hs_med hs_max <<<"$(times_of m status)"
read -r hr_min hr_med hr_max <<<"$(times_of reference)"
runs=$hung_runs
kill -CONT "$(prom_pid)"

printf '%-40s %10s %10s %10s\n' "status.sh" "min ms" "median ms" "max ms"
printf '%-40s %10s %10s %10s\n' "healthy: curl|jq reference ($runs runs)" "$r_min" "$r_med" "$r_max"
printf '%-40s %10s %10s %10s\n' "healthy: monstack status ($runs runs)" "$s_min" "$s_med" "$s_max"
printf '%-40s %10s %10s %10s\n' "hung Prometheus: reference (3 runs)" "$hr_min" "$hr_med" "$hr_max"
printf '%-40s %10s %10s %10s\n' "hung Prometheus: monstack status (3)" "$hs_min" "$hs_med" "$hs_max"
awk -v s="$s_med" -v r="$r_med" -v hs="$hs_med" -v hr="$hr_med" 'BEGIN {
  printf "ratio status/reference: healthy = %.2f   hung = %.2f\n", s / r, hs / hr
  printf "target hung Prometheus costs about one 2 s timeout (< 3000 ms): %s\n", (hs < 3000 ? "met" : "MISSED")
}'
