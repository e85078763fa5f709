# Sourced by demo.sh and the benchmarks: the loopback release mirror they share.

# A port the OS just handed out on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ensure_mirror DIR: build the mirror from Debian's binaries once; later runs reuse it.
ensure_mirror() {
  [ -f "$1/.complete" ] && return 0
  rm -rf "$1"
  bash tests/scripts/make-mirror.sh "$1" prometheus=2.42.0 alertmanager=0.25.0 node_exporter=1.5.0 >/dev/null
  touch "$1/.complete"
}

# serve_mirror DIR: serve DIR on a free loopback port; sets `mport` and `http_pid` (the
# caller's EXIT trap ends it) and returns once it answers, or fails.
serve_mirror() {
  mport=$(free_port)
  python3 -m http.server --bind 127.0.0.1 --directory "$1" "$mport" >/dev/null 2>&1 &
  http_pid=$!
  local i
  for i in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$mport/" && return 0
    sleep 0.05
  done
  echo "the loopback mirror on port $mport did not come up" >&2
  return 1
}
