#!/usr/bin/env bash
# Builds prometheus-adapter (sigs.k8s.io/prometheus-adapter, its `cmd/adapter`) from its Go module
# into a cache outside the repo: the custom metrics API (custom.metrics.k8s.io) that a
# HorizontalPodAutoscaler reads, answered from Prometheus. Nothing built here is committed.
#
#   scripts/build-prometheus-adapter.sh      # build when missing, print the bin dir on the last line
#   PROMETHEUS_ADAPTER_VERSION=v0.12.0 LIGHTRANK_CACHE=/somewhere scripts/build-prometheus-adapter.sh
#
# The module proxy serves v0.12.0 (later tags are refused here) but refuses the module's version
# list, which `go install mod@version` reads for deprecations: a wrapper module requiring that one
# version builds the same code (its go.mod has no replace directives).
set -euo pipefail

PROMETHEUS_ADAPTER_VERSION="${PROMETHEUS_ADAPTER_VERSION:-v0.12.0}"
# shellcheck source=lib/go-tool-cache.sh
. "$(dirname "$0")/lib/go-tool-cache.sh"
go_tool_cache prometheus-adapter "$PROMETHEUS_ADAPTER_VERSION"

if [ -x "$BIN/prometheus-adapter" ] && [ "$(cat "$OUT/VERSION" 2>/dev/null)" = "$PROMETHEUS_ADAPTER_VERSION" ]; then
  log "prometheus-adapter $PROMETHEUS_ADAPTER_VERSION cached"
  echo "$BIN"
  exit 0
fi

start_ts=$(date +%s)
mkdir -p "$BIN"
log "building sigs.k8s.io/prometheus-adapter/cmd/adapter@${PROMETHEUS_ADAPTER_VERSION} (several minutes on 2 cores)"
work="$OUT/.work"
rm -rf "$work"
mkdir -p "$work"
(
  cd "$work"
  go mod init lightrank.local/prometheus-adapter-wrapper >/dev/null 2>&1
  go get "sigs.k8s.io/prometheus-adapter/cmd/adapter@${PROMETHEUS_ADAPTER_VERSION}" >&2
  go build -trimpath -ldflags "-s -w" -o "$BIN/prometheus-adapter.tmp" sigs.k8s.io/prometheus-adapter/cmd/adapter
)
mv "$BIN/prometheus-adapter.tmp" "$BIN/prometheus-adapter"
rm -rf "$work"
echo "$PROMETHEUS_ADAPTER_VERSION" > "$OUT/VERSION"
log "prometheus-adapter $PROMETHEUS_ADAPTER_VERSION ready in $(($(date +%s) - start_ts))s: $BIN"
echo "$BIN"
