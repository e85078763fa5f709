#!/usr/bin/env bash
# Build a release mirror in the GitHub releases layout from Debian's binaries:
#   OUT/prometheus/<project>/releases/download/v<VERSION>/<project>-<VERSION>.linux-<ARCH>.tar.gz
#   ... and sha256sums.txt beside each tarball (promu's format: "<hex>  <name>").
# Usage: make-mirror.sh OUT [prometheus=VER] [alertmanager=VER] [node_exporter=VER] [blackbox_exporter=VER]
#                        [arch=ARCH] [tools=none] [only=PROJECT]
# Defaults are the Debian package versions, so `prometheus --version` tells the truth.
# The layout follows the release's version (promu's .promu.yml at that tag): consoles/ and
# console_libraries/ before 3.0, npm_licenses.tar.bz2 before 3.13. `tools=none` leaves
# promtool and amtool out (a release that ships no validators); `only=prometheus` packs that
# project alone.
set -euo pipefail
out=${1:?usage: make-mirror.sh OUT [component=VERSION]...}
shift
deb_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null | sed -E 's/^[0-9]+://; s/[+~-].*//'; }
declare -A ver=(
  [prometheus]=$(deb_version prometheus)
  [alertmanager]=$(deb_version prometheus-alertmanager)
  [node_exporter]=$(deb_version prometheus-node-exporter)
  [blackbox_exporter]=$(deb_version prometheus-blackbox-exporter)
)
arch=$(dpkg --print-architecture)
tools=yes
projects="prometheus alertmanager node_exporter blackbox_exporter"
for kv in "$@"; do
  case "$kv" in
    arch=*) arch=${kv#arch=} ;;
    tools=*) tools=${kv#tools=} ;;
    only=*) projects=${kv#only=} ;;
    *=*) ver[${kv%%=*}]=${kv#*=} ;;
    *) echo "bad argument: $kv" >&2; exit 64 ;;
  esac
done
declare -A bins=(
  [prometheus]="prometheus:/usr/bin/prometheus promtool:/usr/bin/promtool"
  [alertmanager]="alertmanager:/usr/bin/prometheus-alertmanager amtool:/usr/bin/amtool"
  [node_exporter]="node_exporter:/usr/bin/prometheus-node-exporter"
  [blackbox_exporter]="blackbox_exporter:/usr/bin/prometheus-blackbox-exporter"
)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for project in $projects; do
  v=${ver[$project]}
  [ -n "$v" ] || { echo "no version for $project (is its Debian package installed?)" >&2; exit 1; }
  name="$project-$v.linux-$arch"
  top="$work/$name"
  mkdir -p "$top"
  for pair in ${bins[$project]}; do
    case "${pair%%:*}" in promtool|amtool) [ "$tools" = none ] && continue ;; esac
    install -m 0755 "${pair#*:}" "$top/${pair%%:*}"
  done
  echo "Apache License 2.0 (test mirror built from Debian binaries)" > "$top/LICENSE"
  echo "$project $v" > "$top/NOTICE"
  case "$project" in
    prometheus)
      printf 'global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ["localhost:9090"]\n' > "$top/prometheus.yml"
      # 2.x tarballs ship consoles/ and console_libraries/; 3.x do not.
      if [ "${v%%.*}" -lt 3 ]; then
        mkdir -p "$top/consoles" "$top/console_libraries"
        echo '<h1>consoles</h1>' > "$top/consoles/index.html.example"
        echo '{{/* libs */}}' > "$top/console_libraries/prom.lib"
      fi
      # 3.13+ tarballs ship no npm_licenses.tar.bz2.
      if [ "$(printf '%s\n3.13.0\n' "$v" | sort -V | head -1)" != 3.13.0 ]; then
        tar -C "$work" -cjf "$top/npm_licenses.tar.bz2" --files-from /dev/null
      fi ;;
    alertmanager)
      printf 'route:\n  receiver: default\nreceivers:\n  - name: default\n' > "$top/alertmanager.yml" ;;
    blackbox_exporter)
      # Upstream tarballs ship an example blackbox.yml beside the binary.
      printf 'modules:\n  http_2xx:\n    prober: http\n' > "$top/blackbox.yml" ;;
  esac
  dest="$out/prometheus/$project/releases/download/v$v"
  mkdir -p "$dest"
  tar -C "$work" -czf "$dest/$name.tar.gz" --owner=0 --group=0 "$name"
  (
    cd "$dest"
    # A decoy line for another platform first: sums must be matched by file name.
    printf '%064d  %s\n' 0 "$project-$v.darwin-$arch.tar.gz"
    sha256sum "$name.tar.gz"
  ) > "$work/sums" && mv "$work/sums" "$dest/sha256sums.txt"
  echo "$dest/$name.tar.gz"
done
