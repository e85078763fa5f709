#!/usr/bin/env bash
# Benchmark: `monstack install` of a >=100 MB release tarball from a loopback
# server, side by side with the reference `curl -s URL | tar xz` followed by
# `sha256sum` of the same file. Prints both times (median of $RUNS), the ratio
# monstack/reference and monstack's peak RSS. Targets: ratio <= 1.1, RSS < 50 MB.
# Needs a release build (make bench does it), curl, python3 and GNU time.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${MONSTACK_BIN:-target/release/monstack}
RUNS=${RUNS:-3}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is missing (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The tarball: the real binaries, four copies of each, packed at gzip's default
# level as upstream releases are; that makes it >= 100 MB of realistic content.
arch=$(dpkg --print-architecture)
version=9.9.9
top="prometheus-$version.linux-$arch"
dir="$work/mirror/prometheus/prometheus/releases/download/v$version"
mkdir -p "$work/src/$top" "$dir"
for b in prometheus promtool; do
  install -m 0755 "/usr/bin/$b" "$work/src/$top/$b"
  for n in 2 3 4; do install -m 0755 "/usr/bin/$b" "$work/src/$top/$b-copy$n"; done
done
tar -C "$work/src" -cf - "$top" | gzip -6 > "$dir/$top.tar.gz"
(cd "$dir" && sha256sum "$top.tar.gz") > "$dir/sha256sums.txt"
size=$(stat -c %s "$dir/$top.tar.gz")
[ "$size" -ge $((100 * 1000 * 1000)) ] || { echo "tarball too small: $size" >&2; exit 1; }

# Loopback server on a port from the OS; readiness is polled.
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/mirror" > "$work/server.log" 2>&1 &
server=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$work/server.log" | head -1)
  [ -n "$port" ] && curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
  port=""
  sleep 0.05
done
[ -n "$port" ] || { echo "loopback server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
base="http://127.0.0.1:$port"
url="$base/prometheus/prometheus/releases/download/v$version/$top.tar.gz"

cat > "$work/monstack.yaml" <<EOF
downloads:
  base_url: $base
prometheus:
  version: $version
  sha256: $(cut -d' ' -f1 "$dir/sha256sums.txt")
alertmanager:
  enabled: false
node_exporter:
  enabled: false
EOF

now() { date +%s.%N; }
ref_times=()
mon_times=()
rss_max=0
for i in $(seq 1 "$RUNS"); do
  rm -rf "$work/ref" "$work/root"
  mkdir -p "$work/ref"
  t0=$(now)
  curl -s "$url" | tar xz -C "$work/ref"
  sha256sum "$dir/$top.tar.gz" > /dev/null
  t1=$(now)
  ref_times+=("$(echo "$t1 - $t0" | bc -l)")

  t0=$(now)
  /usr/bin/time -v -o "$work/time.txt" "$bin" -q --config "$work/monstack.yaml" --root "$work/root" install prometheus > /dev/null
  t1=$(now)
  mon_times+=("$(echo "$t1 - $t0" | bc -l)")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\).*/\1/p' "$work/time.txt")
  [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  cmp -s "$work/ref/$top/prometheus" "$work/root/opt/prometheus/current/prometheus" \
    || { echo "monstack's install differs from the reference" >&2; exit 1; }
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ref=$(median "${ref_times[@]}")
mon=$(median "${mon_times[@]}")
ratio=$(echo "$mon / $ref" | bc -l)
printf 'tarball:            %.1f MB (%s)\n' "$(echo "$size / 1000000" | bc -l)" "$top.tar.gz"
printf 'reference:          %.2f s  (curl -s | tar xz, then sha256sum; median of %d)\n' "$ref" "$RUNS"
printf 'monstack install:   %.2f s  (median of %d)\n' "$mon" "$RUNS"
printf 'ratio:              %.2f    (target <= 1.10)\n' "$ratio"
printf 'monstack peak RSS:  %.1f MB (target < 50 MB)\n' "$(echo "$rss_max / 1024" | bc -l)"
