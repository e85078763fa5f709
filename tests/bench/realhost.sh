#!/usr/bin/env bash
# Benchmark on a real host (systemd as PID 1 in a systemd-nspawn container, as the
# real-host tests boot it: tests/support/realhost.rs), as root, no --root, systemd:
#   1. first bootstrap: time from `monstack apply` start to `monstack status` healthy;
#   2. no-op re-apply under real systemd: median of RUNS (default 15; goal <= 50 ms).
# Needs root and systemd-nspawn; says why and exits 0 (skipped) otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${MONSTACK_BIN:-target/release/monstack}
[ -x "$bin" ] || cargo build --release --locked
runs=${RUNS:-15}
if [ "$(id -u)" != 0 ] || ! command -v systemd-nspawn >/dev/null; then
  echo "SKIPPED: the real-host bench needs root and systemd-nspawn (make deps)"
  exit 0
fi
mirror=target/demo-mirror
. tests/scripts/loopback.sh
ensure_mirror "$mirror"
work=$(mktemp -d)
name="msbench-$$"
nspawn_pid='' http_pid=''
cleanup() {
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null || true
  if [ -n "$nspawn_pid" ]; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A clean /etc: no prometheus users/units, only rsyslog enabled, fresh machine-id.
cp -a /etc "$work/etc"
for db in passwd group shadow gshadow; do
  sed -i -E '/^(prometheus|alertmanager|node_exporter):/d' "$work/etc/$db"
done
find "$work/etc/systemd/system" -path '*.wants/*' ! -name rsyslog.service \
  ! -path '*getty.target.wants*' ! -path '*sysinit.target.wants*' -delete
rm -rf "$work/etc/systemd/system/sshd.service" "$work/etc/prometheus" "$work/etc/monstack" \
  "$work/etc"/logrotate.d/prometheus* "$work/etc"/default/prometheus* "$work/etc"/init.d/prometheus*
: > "$work/etc/machine-id"

bindir=$(cd "$(dirname "$bin")" && pwd)
systemd-nspawn --quiet --directory=/ --volatile=yes --register=no --keep-unit --private-network \
  --machine="$name" --bind="$work/etc:/etc" --bind-ro="$bindir:/test/bin" \
  --boot systemd.firstboot=off </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!
pid=''
for _ in $(seq 1 600); do
  for c in $(ps --ppid "$nspawn_pid" -o pid= 2>/dev/null); do
    [ "$(cat /proc/$c/comm 2>/dev/null)" = systemd ] && pid=$c
  done
  [ -n "$pid" ] && break
  sleep 0.05
done
[ -n "$pid" ] || { echo "the host did not boot:"; tail -20 "$work/console.log"; exit 1; }
in_host() { nsenter -t "$pid" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
until in_host systemctl is-system-running --wait >/dev/null 2>&1 || \
  [ "$(in_host systemctl is-system-running 2>/dev/null)" = degraded ]; do sleep 0.1; done

# The mirror, served on the host's own loopback.
mport=18080
nsenter -t "$pid" -n python3 -m http.server --bind 127.0.0.1 --directory "$mirror" "$mport" \
  >/dev/null 2>&1 &
http_pid=$!
for _ in $(seq 1 100); do in_host curl -sf -o /dev/null "http://127.0.0.1:$mport/" && break; sleep 0.05; done
mkdir -p "$work/etc/monstack"
cat > "$work/etc/monstack/monstack.yaml" <<YAML
downloads:
  base_url: http://127.0.0.1:$mport
prometheus:
  version: 2.42.0
alertmanager:
  version: 0.25.0
node_exporter:
  version: 1.5.0
grafana:
  enabled: false
YAML

ms() { in_host /test/bin/monstack "$@"; }
now() { date +%s%N; }
t0=$(now)
ms -q apply
t1=$(now)
ms -q status
t2=$(now)
boot_ms=$(( (t2 - t0) / 1000000 ))
echo "first bootstrap on a fresh real host: apply $(( (t1 - t0) / 1000000 )) ms, apply start -> status healthy $boot_ms ms"

times=()
for _ in $(seq 1 "$runs"); do
  a=$(now)
  ms -q apply --detailed-exitcode
  b=$(now)
  times+=( $(( (b - a) / 1000 )) )
done
median_us=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
min_us=$(printf '%s\n' "${times[@]}" | sort -n | head -1)
max_us=$(printf '%s\n' "${times[@]}" | sort -n | tail -1)
printf 'no-op re-apply under systemd: median %.1f ms of %d (min %.1f, max %.1f; goal <= 50 ms)\n' \
  "$(bc -l <<< "$median_us/1000")" "$runs" "$(bc -l <<< "$min_us/1000")" "$(bc -l <<< "$max_us/1000")"
