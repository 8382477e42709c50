#!/usr/bin/env bash
# Builds vegeta (the open-loop HTTP load generator, github.com/tsenart/vegeta/v12) from its Go
# module into a cache outside the repo, for the scoring-server benchmark (bench/server.ts).
#
#   scripts/build-vegeta.sh                 # build when missing, print the bin dir on the last line
#   VEGETA_VERSION=v12.13.0 LIGHTRANK_CACHE=/somewhere scripts/build-vegeta.sh
#
# vegeta's go.mod has no replace directives, so a plain `go install mod@version` builds it; the
# ldflag is the one vegeta's Makefile sets, so `vegeta -version` reports the real version.
set -euo pipefail

VEGETA_VERSION="${VEGETA_VERSION:-v12.13.0}"
# shellcheck source=lib/go-tool-cache.sh
. "$(dirname "$0")/lib/go-tool-cache.sh"
go_tool_cache vegeta "$VEGETA_VERSION"

if [ -x "$BIN/vegeta" ] && "$BIN/vegeta" -version 2>/dev/null | grep -Eq "^Version: ${VEGETA_VERSION}$"; then
  log "vegeta $VEGETA_VERSION cached"
  echo "$BIN"
  exit 0
fi

start_ts=$(date +%s)
mkdir -p "$BIN"
log "building github.com/tsenart/vegeta/v12@${VEGETA_VERSION} (about a minute on 2 cores)"
go_install_tool vegeta "github.com/tsenart/vegeta/v12@${VEGETA_VERSION}" "-s -w -X main.Version=${VEGETA_VERSION}"
log "vegeta $VEGETA_VERSION ready in $(($(date +%s) - start_ts))s: $BIN"
echo "$BIN"
