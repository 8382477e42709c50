#!/usr/bin/env bash
# Installs the S3-compatible server the sidecar tests and benchmark run on loopback: moto's
# standalone server (`moto_server`, PyPI package `moto[s3,server]`), into a Python virtual
# environment in the cache outside the repo. Idempotent: a complete install is reused.
# Why moto: see docs/snapshots.md ("The S3 server in tests").
#
#   scripts/s3-server.sh        # install if missing; the last line printed is the moto_server path
#   LIGHTRANK_CACHE=/somewhere scripts/s3-server.sh
set -euo pipefail

MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
CACHE_ROOT="${LIGHTRANK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightrank}"
VENV="$CACHE_ROOT/moto-${MOTO_VERSION}"
BIN="$VENV/bin/moto_server"

log() { printf '[s3-server %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

complete() { [ -x "$BIN" ] && [ -f "$VENV/.complete" ]; }

mkdir -p "$CACHE_ROOT"
if complete; then
  log "moto $MOTO_VERSION cached"
else
  command -v python3 >/dev/null 2>&1 || { log "python3 is required to install moto"; exit 1; }
  # one installer at a time: test files starting together would remove each other's venv
  exec 9>"$VENV.lock"
  flock 9
  if ! complete; then
    log "installing moto[s3,server]==$MOTO_VERSION into $VENV"
    rm -rf "$VENV" # a half-built one, left by a caller that died
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[s3,server]==${MOTO_VERSION}" >&2
    touch "$VENV/.complete"
    log "moto $MOTO_VERSION installed"
  fi
fi
echo "$BIN"
