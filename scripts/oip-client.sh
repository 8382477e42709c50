#!/usr/bin/env bash
# Installs the Python OIP clients the server's interop test drives: NVIDIA's `tritonclient`
# (PyPI, extras `grpc` and `http`: the gRPC `inference.GRPCInferenceService` client and the REST
# client that sends JSON infer requests with no Content-Type), into a Python virtual environment
# in the cache outside the repo, keyed by version. Idempotent: a complete install is reused.
# Concurrent callers (vitest runs files in parallel; several checkouts share the cache) wait on
# a lock; the venv counts as installed only once its `.complete` marker is written, so a
# half-built one is never used, and the next caller rebuilds it.
#
#   scripts/oip-client.sh        # install if missing; the last line printed is the venv's python
#   LIGHTRANK_CACHE=/somewhere scripts/oip-client.sh
set -euo pipefail

TRITONCLIENT_VERSION="${TRITONCLIENT_VERSION:-2.73.0}"
CACHE_ROOT="${LIGHTRANK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightrank}"
VENV="$CACHE_ROOT/tritonclient-${TRITONCLIENT_VERSION}"
PY="$VENV/bin/python"

log() { printf '[oip-client %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

complete() { [ -x "$PY" ] && [ -f "$VENV/.complete" ]; }

mkdir -p "$CACHE_ROOT"
if ! complete; then
  command -v python3 >/dev/null 2>&1 || { log "python3 is required to install tritonclient"; exit 1; }
  exec 9>"$VENV.lock"
  flock 9
  if ! complete; then
    log "installing tritonclient[grpc,http]==$TRITONCLIENT_VERSION into $VENV"
    rm -rf "$VENV" # a half-built one, left by a caller that died
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
      "tritonclient[grpc,http]==${TRITONCLIENT_VERSION}" >&2
    touch "$VENV/.complete"
    log "tritonclient $TRITONCLIENT_VERSION installed"
  fi
fi
echo "$PY"
