#!/usr/bin/env bash
# Builds Prometheus (github.com/prometheus/prometheus, its `cmd/prometheus`) from its Go module into
# a cache outside the repo, for the canary-analysis tests and the demo. Nothing is installed on the
# machine and nothing built here is committed.
#
#   scripts/build-prometheus.sh              # build when missing, print the bin dir on the last line
#   PROMETHEUS_VERSION=v0.316.0 LIGHTRANK_CACHE=/somewhere scripts/build-prometheus.sh
#
# Prometheus 3.x publishes its Go module as v0.3MM.P for release 3.MM.P (v0.316.0 is 3.16.0). It is
# built without the `builtinassets` tag, so the web UI's assets are not embedded (they are built
# with npm in Prometheus' own release process): the HTTP API (/api/v1/query, /-/ready, ...) which
# lightrank's analysis uses is all there, and so is `kubernetes_sd_configs`. The ldflags are the
# ones Prometheus' release build sets, so `prometheus --version` reports the real version.
set -euo pipefail

PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
# shellcheck source=lib/go-tool-cache.sh
. "$(dirname "$0")/lib/go-tool-cache.sh"
go_tool_cache prometheus "$PROMETHEUS_VERSION"

# v0.316.0 -> 3.16.0
release="3.$(echo "$PROMETHEUS_VERSION" | sed -E 's/^v0\.3([0-9]{2})\.([0-9]+).*/\1.\2/' | sed -E 's/^0//')"

if [ -x "$BIN/prometheus" ] && "$BIN/prometheus" --version 2>/dev/null | grep -q "version ${release} "; then
  log "prometheus $release cached"
  echo "$BIN"
  exit 0
fi

start_ts=$(date +%s)
mkdir -p "$BIN"
log "building github.com/prometheus/prometheus/cmd/prometheus@${PROMETHEUS_VERSION} (Prometheus $release; several minutes on 2 cores)"
v=github.com/prometheus/common/version
ld="-s -w -X $v.Version=${release} -X $v.Branch=release -X $v.BuildUser=lightrank -X $v.Revision=${PROMETHEUS_VERSION}"
go_install_tool prometheus "github.com/prometheus/prometheus/cmd/prometheus@${PROMETHEUS_VERSION}" "$ld"
log "$("$BIN/prometheus" --version 2>&1 | head -1) ready in $(($(date +%s) - start_ts))s: $BIN"
echo "$BIN"
