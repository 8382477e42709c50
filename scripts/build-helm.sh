#!/usr/bin/env bash
# Builds helm v3 from its Go module (helm.sh/helm/v3/cmd/helm) into a cache outside the repo,
# next to the control plane, for the chart tests and the docs' install commands.
#
#   scripts/build-helm.sh                   # build when missing, print the bin dir on the last line
#   HELM_VERSION=v3.19.5 LIGHTRANK_CACHE=/somewhere scripts/build-helm.sh
#
# helm's go.mod has no replace directives, so a plain `go install mod@version` builds it; the
# ldflags are the ones helm's Makefile sets, so `helm version` reports the real version and
# lint/template assume the Kubernetes version of the client-go helm was built with.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.19.5}"
# shellcheck source=lib/go-tool-cache.sh
. "$(dirname "$0")/lib/go-tool-cache.sh"
go_tool_cache helm "$HELM_VERSION"

if [ -x "$BIN/helm" ] && "$BIN/helm" version --short 2>/dev/null | grep -Eq "^${HELM_VERSION}(\+|$)"; then
  log "helm $HELM_VERSION cached"
  echo "$BIN"
  exit 0
fi

start_ts=$(date +%s)
mkdir -p "$BIN"
log "downloading helm.sh/helm/v3@${HELM_VERSION} (step 1/2)"
gomod=$(cd "$OUT" && go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
[ -n "$gomod" ] || { log "could not download helm.sh/helm/v3@${HELM_VERSION}"; exit 1; }

# Kubernetes version helm assumes for lint and template: client-go v0.X.Y -> 1.X (as helm's Makefile).
client_go=$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$gomod")
k8s_minor=$(echo "$client_go" | cut -d. -f2)
ld="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ld+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=${k8s_minor}"
done

log "building helm $HELM_VERSION (client-go $client_go; step 2/2, a few minutes on 2 cores)"
go_install_tool helm "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" "$ld"
log "$("$BIN/helm" version --short) ready in $(($(date +%s) - start_ts))s: $BIN"
echo "$BIN"
