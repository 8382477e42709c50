#!/usr/bin/env bash
# Installs the Python OIP clients the server's interop test drives: NVIDIA's `tritonclient`
# (PyPI, extras `grpc` and `http`: the gRPC `inference.GRPCInferenceService` client and the REST
# client that sends JSON infer requests with no Content-Type), into a Python virtual environment
# in the cache outside the repo, keyed by version (lib/venv-tool-cache.sh: reused when complete,
# one installer at a time).
#
#   scripts/oip-client.sh        # install if missing; the last line printed is the venv's python
#   LIGHTRANK_CACHE=/somewhere scripts/oip-client.sh
set -euo pipefail

TRITONCLIENT_VERSION="${TRITONCLIENT_VERSION:-2.73.0}"
# shellcheck source=lib/venv-tool-cache.sh
. "$(dirname "$0")/lib/venv-tool-cache.sh"
venv_tool oip-client "tritonclient-${TRITONCLIENT_VERSION}" "tritonclient[grpc,http]==${TRITONCLIENT_VERSION}" bin/python
