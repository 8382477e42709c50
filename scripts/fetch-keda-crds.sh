#!/usr/bin/env bash
# Fetches KEDA's CustomResourceDefinitions (config/crd/bases/keda.sh_*.yaml) from the KEDA Go
# module's zip, through the Go module proxy, into a cache outside the repo keyed by version. The
# operator's KEDA output (a ScaledObject per autoscaled segment, engine keda) is checked against
# KEDA's own schema on the API server with them (test/cluster/keda-scaledobject.test.ts).
#
#   scripts/fetch-keda-crds.sh              # fetch when missing, print the CRD dir on the last line
#   KEDA_VERSION=v2.21.1 LIGHTRANK_CACHE=/somewhere scripts/fetch-keda-crds.sh
#
# Only the module's files are read, nothing is built: `go mod download` fetches the zip even when
# the module asks for a newer Go than this machine's (it reports that in its JSON, and the zip is
# there all the same).
set -euo pipefail

KEDA_VERSION="${KEDA_VERSION:-v2.21.1}"
MODULE="github.com/kedacore/keda/v2"
CACHE_ROOT="${LIGHTRANK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightrank}"
OUT="$CACHE_ROOT/keda-crds-${KEDA_VERSION}"
log() { printf '[keda-crds %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -s "$OUT/keda.sh_scaledobjects.yaml" ]; then
  log "KEDA $KEDA_VERSION CRDs cached"
  echo "$OUT"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
log "fetching ${MODULE}@${KEDA_VERSION} from the Go module proxy (its zip: ~3 MB)"
json="$(GOTOOLCHAIN=local GOFLAGS=-mod=mod GOMODCACHE="$tmp/mod" go mod download -json "${MODULE}@${KEDA_VERSION}" || true)"
zip="$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Zip": "\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$zip" ] || [ ! -s "$zip" ]; then
  log "go mod download gave no zip:"
  printf '%s\n' "$json" >&2
  exit 1
fi
mkdir -p "$tmp/out"
for crd in keda.sh_scaledobjects.yaml keda.sh_triggerauthentications.yaml; do
  python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
    "$zip" "${MODULE}@${KEDA_VERSION}/config/crd/bases/${crd}" > "$tmp/out/$crd"
  [ -s "$tmp/out/$crd" ] || { log "$crd is not in the module zip"; exit 1; }
done
mkdir -p "$(dirname "$OUT")"
rm -rf "$OUT"
mv "$tmp/out" "$OUT"
log "KEDA $KEDA_VERSION CRDs in $OUT"
echo "$OUT"
