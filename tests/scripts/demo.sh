#!/usr/bin/env bash
# The offline demo (`make demo`): build a release mirror from Debian's binaries, serve
# it on a free loopback port, start the Grafana API emulator of the tests (not Grafana),
# `monstack apply --root ./demo --service-manager direct`, show Prometheus scraping
# itself, node_exporter and Alertmanager with the runbook's rules loaded and the Grafana
# datasource, folder and dashboard that landed, apply again to show zero changes (and no
# Grafana write), then `monstack status`. The mirror and the emulator end with this
# script; the stack keeps running. Stop it with `make demo-clean`.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=${CARGO_TARGET_DIR:-target}
bin=${MONSTACK_BIN:-$target/release/monstack}
[ -x "$bin" ] || cargo build --release --locked
emulator=$target/release/examples/grafana-emulator
[ -x "$emulator" ] || cargo build --release --locked --example grafana-emulator
demo=./demo
mirror=target/demo-mirror
config=$demo/monstack.yaml
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
  say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
else
  say() { printf '\n== %s\n' "$*" >&2; }
fi

. tests/scripts/loopback.sh
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }

[ -f "$mirror/.complete" ] || say "building a release mirror from Debian's binaries ($mirror)"
ensure_mirror "$mirror"

# Helpers this script starts end with it: the mirror server is killed, the emulator's
# stdin is closed (it then prints its counters and exits; SIGTERM if it does not).
http_pid='' emu_pid='' emu_in=''
cleanup() {
  if [ -n "$emu_pid" ]; then
    [ -n "$emu_in" ] && exec {emu_in}>&-
    for _ in $(seq 1 100); do kill -0 "$emu_pid" 2>/dev/null || break; sleep 0.05; done
    kill "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
  fi
  if [ -n "$http_pid" ]; then
    kill "$http_pid" 2>/dev/null || true
    wait "$http_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

serve_mirror "$mirror"

say "starting the Grafana API emulator of monstack's tests (not Grafana; in memory)"
# Its stdin/stdout are a pipe pair (bash marks them close-on-exec, so the services
# apply starts do not hold them): the first line out is its URL; `counters` and
# `token` on stdin are answered with one line each.
coproc EMU { exec "$emulator"; }
emu_pid=$EMU_PID emu_in=${EMU[1]} emu_out=${EMU[0]}
# Ask in this shell (not in a $(...) subshell, where bash may close coproc fds).
emu() {
  echo "$1" >&"$emu_in"
  IFS= read -r -t 10 emu_reply <&"$emu_out" || { echo "the Grafana API emulator did not answer" >&2; exit 1; }
}
IFS= read -r -t 10 grafana_url <&"$emu_out" || { echo "the Grafana API emulator did not start" >&2; exit 1; }
# The token reaches monstack and curl through the environment only, never argv.
emu token
export GRAFANA_TOKEN=$emu_reply
for i in $(seq 1 100); do
  curl -sf -o /dev/null "$grafana_url/api/health" && break
  [ "$i" = 100 ] && { echo "the Grafana API emulator did not come up" >&2; exit 1; }
  sleep 0.05
done

# Ports: keep those of a demo that is already running, else the defaults when free,
# else fresh ones from the OS.
if [ -f "$config" ] && [ -f "$demo/var/lib/monstack/run/prometheus.pid" ]; then
  echo "  a demo stack already runs under $demo: its ports are kept, and the host side should" >&2
  echo "  stay unchanged; the emulator is new and empty, so Grafana objects are created again" >&2
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
    -e "s#http://127.0.0.1:19030#$grafana_url#" \
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

say "Grafana API emulator at $grafana_url: what apply put there"
# The Authorization header is read from a file descriptor, so the token is not in argv.
gapi() { curl -sf -H @<(printf 'Authorization: Bearer %s\n' "$GRAFANA_TOKEN") "$grafana_url$1"; }
gapi /api/datasources | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    print("  datasource %-20s uid=%-20s url=%s default=%s" % (d["name"], d["uid"], d["url"], str(d["isDefault"]).lower()))'
gapi /api/folders | python3 -c '
import json, sys
for f in json.load(sys.stdin):
    print("  folder     %-20s uid=%s" % (f["title"], f["uid"]))'
gapi '/api/search?type=dash-db' | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    print("  dashboard  %-20s uid=%-20s folder=%s" % (d["title"], d["uid"], d.get("folderUid", "")))'
ds_uid=$(gapi /api/datasources | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["uid"])')
gapi "/api/datasources/uid/$ds_uid/health" | python3 -c '
import json, sys
print("  datasource health (the emulator queries the demo Prometheus): " + json.load(sys.stdin)["message"])'

say "monstack apply again: nothing to change"
emu counters; before=$emu_reply
"$bin" apply --root "$demo" --config "$config" --detailed-exitcode
emu counters; after=$emu_reply
w0=${before#*writes=} w1=${after#*writes=}
r0=${before%% *} r1=${after%% *}
echo "  Grafana API emulator: $((${r1#requests=} - ${r0#requests=})) requests, $((w1 - w0)) writes during this apply (writes: $w0 before, $w1 after)"
[ "$w0" = "$w1" ] || { echo "the second apply wrote to Grafana" >&2; exit 1; }

say "monstack status --root $demo --config $config"
"$bin" status --root "$demo" --config "$config"

say "done"
cat >&2 <<MSG
The stack keeps running under $demo (Prometheus http://127.0.0.1:$p, Alertmanager
http://127.0.0.1:$a, node_exporter http://127.0.0.1:$n; logs in $demo/var/lib/monstack/log).
The Grafana API emulator and the release mirror stop now, with this script: a later
\`monstack status\` or \`apply\` on $config fails on Grafana (nothing answers at its URL then);
\`make demo\` again starts a fresh emulator and re-applies.
Try: $bin plan --root $demo --config $config
Stop it and remove $demo with:  make demo-clean
MSG
