#!/usr/bin/env bash
# The offline demo (`make demo`): build a release mirror from Debian's binaries, serve
# it on a free loopback port, `monstack apply --root ./demo --service-manager direct`,
# show Prometheus scraping itself, node_exporter and Alertmanager with the runbook's
# rules loaded, then apply again to show zero changes. Stop with `make demo-clean`.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${MONSTACK_BIN:-target/release/monstack}
[ -x "$bin" ] || cargo build --release --locked
demo=./demo
mirror=target/demo-mirror
config=$demo/monstack.yaml
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
else
  say() { printf '\n== %s\n' "$*" >&2; }
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }

if [ ! -f "$mirror/.complete" ]; then
  say "building a release mirror from Debian's binaries ($mirror)"
  rm -rf "$mirror"
  bash tests/scripts/make-mirror.sh "$mirror" prometheus=2.42.0 alertmanager=0.25.0 node_exporter=1.5.0 >/dev/null
  touch "$mirror/.complete"
fi

mport=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$mirror" "$mport" >/dev/null 2>&1 &
http_pid=$!
trap 'kill $http_pid 2>/dev/null || true; wait $http_pid 2>/dev/null || true' EXIT
for i in $(seq 1 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$mport/" && break
  [ "$i" = 100 ] && { echo "the mirror did not come up" >&2; exit 1; }
  sleep 0.05
done

# Ports: keep those of a demo that is already running, else the defaults when free,
# else fresh ones from the OS.
if [ -f "$config" ] && [ -f "$demo/var/lib/monstack/run/prometheus.pid" ]; then
  p=$(sed -n 's/^  listen_address: 127.0.0.1:\([0-9]*\)$/\1/p' "$config" | sed -n 1p)
  a=$(sed -n 's/^  listen_address: 127.0.0.1:\([0-9]*\)$/\1/p' "$config" | sed -n 2p)
  n=$(sed -n 's/^  listen_address: 127.0.0.1:\([0-9]*\)$/\1/p' "$config" | sed -n 3p)
else
  p=$(port_free 19090 && echo 19090 || free_port)
  a=$(port_free 19093 && echo 19093 || free_port)
  n=$(port_free 19100 && echo 19100 || free_port)
fi
mkdir -p "$demo"
sed -e "s#http://127.0.0.1:19080#http://127.0.0.1:$mport#" \
    -e "s/127.0.0.1:19090/127.0.0.1:$p/g" \
    -e "s/127.0.0.1:19093/127.0.0.1:$a/g" \
    -e "s/127.0.0.1:19100/127.0.0.1:$n/g" \
    tests/demo/monstack.yaml > "$config"

say "monstack apply --root $demo --service-manager direct --config $config"
"$bin" apply --root "$demo" --service-manager direct --config "$config"

say "Prometheus on http://127.0.0.1:$p: targets (polling until every one is up)"
query() { curl -s "http://127.0.0.1:$p$1"; }
for i in $(seq 1 120); do
  up=$(query '/api/v1/query?query=up' | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(" ".join(sorted(x["metric"]["job"] + "=" + x["value"][1] for x in r)))' 2>/dev/null || true)
  case "$up" in *alertmanager=1*node=1*prometheus=1*) break ;; esac
  [ "$i" = 120 ] && { echo "targets not all up: $up" >&2; exit 1; }
  sleep 0.5
done
query '/api/v1/query?query=up' | python3 -c '
import json, sys
for x in sorted(json.load(sys.stdin)["data"]["result"], key=lambda x: x["metric"]["job"]):
    print("  up{job=%-14s instance=%s} = %s" % (x["metric"]["job"] + ",", x["metric"]["instance"], x["value"][1]))'

say "alert rules loaded (the runbook's five)"
query '/api/v1/rules' | python3 -c '
import json, sys
for g in json.load(sys.stdin)["data"]["groups"]:
    for r in g["rules"]:
        print("  %-28s %-8s for %4ss  %s" % (r["name"], r["state"], r.get("duration", 0), r["query"]))'

say "Alertmanagers Prometheus sends to"
query '/api/v1/alertmanagers' | python3 -c '
import json, sys
for a in json.load(sys.stdin)["data"]["activeAlertmanagers"]:
    print("  " + a["url"])'

say "monstack apply again: nothing to change"
"$bin" apply --root "$demo" --config "$config" --detailed-exitcode

say "done"
cat >&2 <<MSG
The stack keeps running under $demo (Prometheus http://127.0.0.1:$p, Alertmanager
http://127.0.0.1:$a, node_exporter http://127.0.0.1:$n; logs in $demo/var/lib/monstack/log).
Try: $bin plan --root $demo --config $config
Stop it and remove $demo with:  make demo-clean
MSG
