#!/usr/bin/env bash
# Build the monstack.stack collection tarball.
# Usage: ansible/build.sh OUT_DIR VERSION ANSIBLE_GALAXY SYSTEM_ARCH=BINARY...
#   e.g. ansible/build.sh target/ansible 0.1.0 target/venv/bin/ansible-galaxy \
#          linux_x86_64=target/release/monstack
# Each binary lands as bin/monstack_<system>_<arch> (the action plugin picks one per target).
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR VERSION ANSIBLE_GALAXY SYSTEM_ARCH=BINARY...}
version=${2:?version}
galaxy=${3:?ansible-galaxy}
shift 3
[ $# -gt 0 ] || { echo "build.sh: no binary given" >&2; exit 64; }
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
galaxy=$(cd "$(dirname "$galaxy")" && pwd)/$(basename "$galaxy")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
coll="$stage/ansible_collections/monstack/stack"
mkdir -p "$coll/bin"
cp -r "$src/." "$coll/"
rm -f "$coll/build.sh"
sed -i "s/^version: .*/version: $version/" "$coll/galaxy.yml"
for b in "$@"; do
  platform=${b%%=*} bin=${b#*=}
  [[ "$platform" =~ ^[a-z0-9]+_[A-Za-z0-9_]+$ ]] || { echo "build.sh: bad platform '$platform' (want e.g. linux_x86_64)" >&2; exit 64; }
  [ -x "$bin" ] || { echo "build.sh: $bin is not an executable" >&2; exit 66; }
  install -m 0755 "$bin" "$coll/bin/monstack_$platform"
  # Symbols are not needed on the targets (Galaxy refuses collections over 20 MB); a
  # binary this machine's strip does not understand is shipped as it is.
  strip "$coll/bin/monstack_$platform" 2>/dev/null || true
done
rm -f "$out"/monstack-stack-*.tar.gz
(cd "$coll" && "$galaxy" collection build --force --output-path "$out" >/dev/null)
ls "$out"/monstack-stack-"$version".tar.gz
