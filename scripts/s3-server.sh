#!/usr/bin/env bash
# Installs the S3-compatible server the sidecar tests and benchmark run on loopback: moto's
# standalone server (`moto_server`, PyPI package `moto[s3,server]`), into a Python virtual
# environment in the cache outside the repo (lib/venv-tool-cache.sh: reused when complete, one
# installer at a time). Why moto: see docs/snapshots.md ("The S3 server in tests").
#
#   scripts/s3-server.sh        # install if missing; the last line printed is the moto_server path
#   LIGHTRANK_CACHE=/somewhere scripts/s3-server.sh
set -euo pipefail

MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
# shellcheck source=lib/venv-tool-cache.sh
. "$(dirname "$0")/lib/venv-tool-cache.sh"
venv_tool s3-server "moto-${MOTO_VERSION}" "moto[s3,server]==${MOTO_VERSION}" bin/moto_server
