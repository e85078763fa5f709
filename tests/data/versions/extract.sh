#!/usr/bin/env bash
# Regenerates the per-version flag / feature / config-key sets in this directory from
# the upstream git repositories (read with `git show <tag>:<path>`; no binary is run).
#   extract.sh PROMETHEUS_GIT ALERTMANAGER_GIT NODE_EXPORTER_GIT COMMON_GIT
# Each output file starts with its provenance: repository, tag, commit and the files read.
# Lines: `flag NAME` (a command-line flag, without `--`), `server-only NAME` (refused in
# agent mode), `agent-only NAME`, `feature NAME` (an --enable-feature value the release
# knows), `key NAME` (a YAML key of prometheus.yml, by name), `file NAME` (a file or
# directory .promu.yml puts at the top of the release tarball, binaries aside).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prom=$1 am=$2 ne=$3 common=$4

flags() { # kingpin flags declared in a Go file: .Flag("x" / serverOnlyFlag(a, "x" / collector flags
  perl -0ne 'while (/(?:\.Flag\(|OnlyFlag\(a,)\s*"([^"]+)"/g) { print "flag $1\n" }'
}
features() { # the names a featureList switch accepts
  perl -0ne 'if (/func \(c \*flagConfig\) setFeatureListOptions.*?\n}\n/s) { $b=$&; while ($b =~ /case ((?:"[^"]*"(?:,\s*)?)+):/g) { my $l=$1; while ($l =~ /"([^"]+)"/g) { print "feature $1\n" } } }'
}

mkdir -p "$here/prometheus" "$here/alertmanager" "$here/node_exporter"
for tag in v2.42.0 v2.45.0 v2.53.0 v2.55.0 v3.0.0 v3.5.0 v3.8.0 v3.12.0 v3.13.0 v3.14.0; do
  out="$here/prometheus/$tag.txt"
  commit=$(git -C "$prom" rev-parse "$tag^{commit}")
  cv=$(git -C "$prom" show "$tag:go.mod" | awk '$1=="github.com/prometheus/common" {print $2}')
  {
    echo "# source: prometheus/prometheus $tag ($commit): cmd/prometheus/main.go, config/config.go, discovery/targetgroup/targetgroup.go, .promu.yml; prometheus/common config/http_config.go@$cv (go.mod)"
    echo "# plus: log.level, log.format (promlogflag.AddFlags, prometheus/common, called in main.go) and static_configs (discovery.StaticConfig, name \"static\" + \"_configs\")"
    git -C "$prom" show "$tag:cmd/prometheus/main.go" | flags
    printf 'flag log.level\nflag log.format\n'
    git -C "$prom" show "$tag:cmd/prometheus/main.go" | perl -0ne 'while (/serverOnlyFlag\(a,\s*"([^"]+)"/g) { print "server-only $1\n" } while (/agentOnlyFlag\(a,\s*"([^"]+)"/g) { print "agent-only $1\n" }'
    git -C "$prom" show "$tag:cmd/prometheus/main.go" | features
    git -C "$prom" show "$tag:config/config.go" "$tag:discovery/targetgroup/targetgroup.go" \
      | grep -oE 'yaml:"[a-z_0-9]+' | sed 's/yaml:"/key /'
    echo "key static_configs"
    # Tarball contents: .promu.yml tarball.files, each landing under its basename.
    git -C "$prom" show "$tag:.promu.yml" | awk '/^tarball:/{t=1;next} /^[a-z]/{t=0} t && /^ *- /{print $2}' \
      | sed 's|.*/||; s/^/file /'
    # HTTP client keys (basic_auth, ...) live in prometheus/common at the version go.mod pins.
    cv=$(git -C "$prom" show "$tag:go.mod" | awk '$1=="github.com/prometheus/common" {print $2}')
    git -C "$common" show "$cv:config/http_config.go" | grep -oE 'yaml:"[a-z_0-9]+' | sed 's/yaml:"/key /'
  } | awk '!seen[$0]++' | { IFS= read -r a; IFS= read -r b; echo "$a"; echo "$b"; sort; } > "$out"
done

for tag in v0.25.0 v0.26.0 v0.28.0 v0.32.0 v0.33.0 v0.34.0; do
  out="$here/alertmanager/$tag.txt"
  commit=$(git -C "$am" rev-parse "$tag^{commit}")
  {
    echo "# source: prometheus/alertmanager $tag ($commit): cmd/alertmanager/main.go, featurecontrol/featurecontrol.go"
    echo "# plus: web.listen-address, web.config.file (exporter-toolkit kingpinflag.AddFlags, called in main.go), log.level, log.format"
    git -C "$am" show "$tag:cmd/alertmanager/main.go" | flags
    printf 'flag web.listen-address\nflag web.config.file\nflag log.level\nflag log.format\n'
    if git -C "$am" cat-file -e "$tag:featurecontrol/featurecontrol.go" 2>/dev/null; then
      git -C "$am" show "$tag:featurecontrol/featurecontrol.go" \
        | perl -ne 'print "feature $1\n" if /^\s*Feature\w+\s*=\s*"([^"]+)"/'
    fi
  } | awk '!seen[$0]++' | { IFS= read -r a; IFS= read -r b; echo "$a"; echo "$b"; sort; } > "$out"
done

for tag in v1.5.0 v1.6.1 v1.9.0 v1.12.1; do
  out="$here/node_exporter/$tag.txt"
  commit=$(git -C "$ne" rev-parse "$tag^{commit}")
  {
    echo "# source: prometheus/node_exporter $tag ($commit): node_exporter.go, collector/*.go (kingpin flags, hidden aliases included)"
    echo "# plus: web.listen-address, web.config.file, web.systemd-socket (exporter-toolkit kingpinflag.AddFlags), log.level, log.format"
    for f in $(git -C "$ne" ls-tree --name-only "$tag" node_exporter.go collector/ | grep '\.go$' | grep -v _test.go); do
      git -C "$ne" show "$tag:$f" | perl -0ne 'while (/(?:kingpin|CommandLine)\.Flag\(\s*"([^"]+)"/g) { print "flag $1\n" }'
    done
    git -C "$ne" ls-tree --name-only "$tag" collector/ | grep '\.go$' | grep -v _test.go \
      | while read -r f; do git -C "$ne" show "$tag:$f"; done \
      | perl -ne 'print "flag collector.$1\nflag no-collector.$1\n" if /registerCollector\("([^"]+)"/'
    printf 'flag web.listen-address\nflag web.config.file\nflag web.systemd-socket\nflag log.level\nflag log.format\n'
  } | awk '!seen[$0]++' | { IFS= read -r a; IFS= read -r b; echo "$a"; echo "$b"; sort; } > "$out"
done
