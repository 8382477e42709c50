#!/usr/bin/env bash
# Builds the "control plane in a box" from the real Go modules into a cache outside the repo:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok (+ its stage configs).
# The cache is keyed by version and reused when complete. Nothing built here is committed.
#
#   scripts/build-control-plane.sh          # build what is missing, print the cache dir on the last line
#   LIGHTRANK_CACHE=/somewhere scripts/build-control-plane.sh
#   scripts/build-control-plane.sh --print-dir   # only print the cache dir, build nothing
#
# Why wrapper modules: k8s.io/kubernetes replaces every k8s.io/* staging module with ./staging/...,
# and etcd's server module has replace directives too, so `go install mod@ver` refuses both.
# A wrapper module requiring them (and, for Kubernetes, replacing each staging module with its
# published v0.x release, read from the downloaded go.mod) builds the same code.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.19.4}"
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.4.1}"

CACHE_ROOT="${LIGHTRANK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightrank}"
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
OUT="$CACHE_ROOT/$KEY"
BIN="$OUT/bin"
if [ "${1:-}" = "--print-dir" ]; then echo "$OUT"; exit 0; fi
mkdir -p "$BIN"

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0

log() { printf '[control-plane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
have() { [ -x "$BIN/$1" ]; }
start_ts=$(date +%s)

WORK="$OUT/.work"
mkdir -p "$WORK"

# ---- etcd ----------------------------------------------------------------------------------
if ! have etcd; then
  log "building etcd $ETCD_VERSION (step 1/4)"
  d="$WORK/etcd"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  go mod init lightrank.local/etcd-wrapper >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >&2
  go build -trimpath -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$BIN/etcd.tmp" "$BIN/etcd"
  log "etcd done"
else
  log "etcd $ETCD_VERSION cached"
fi

# ---- Kubernetes ------------------------------------------------------------------------------
k8s_bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
need_k8s=0
for b in "${k8s_bins[@]}"; do have "$b" || need_k8s=1; done
if [ "$need_k8s" = 1 ]; then
  d="$WORK/k8s"; mkdir -p "$d"; cd "$d"
  if [ ! -f go.mod ] || ! grep -q "k8s.io/kubernetes ${K8S_VERSION}" go.mod; then
    log "preparing Kubernetes $K8S_VERSION wrapper module (downloads the module; step 2/4)"
    rm -f go.mod go.sum
    go mod init lightrank.local/k8s-wrapper >/dev/null 2>&1
    gomod=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
    staging_version="v0${K8S_VERSION#v1}"   # v1.34.4 -> v0.34.4
    # every "k8s.io/x => ./staging/src/k8s.io/x" becomes "k8s.io/x => k8s.io/x v0.34.4"
    grep -E '^\s*k8s\.io/[^ ]+ => \./staging/' "$gomod" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}' >> go.mod
    echo "require k8s.io/kubernetes ${K8S_VERSION}" >> go.mod
    pkgs=()
    for b in "${k8s_bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b@${K8S_VERSION}"); done
    go get "${pkgs[@]}" >&2
  fi
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=${K8S_VERSION} -X $p.gitMajor=1 -X $p.gitMinor=${minor} -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  i=0
  for b in "${k8s_bins[@]}"; do
    i=$((i+1))
    if have "$b"; then log "$b cached"; continue; fi
    log "building $b $K8S_VERSION ($i/${#k8s_bins[@]}; the first one compiles most shared packages)"
    t0=$(date +%s)
    go build -trimpath -ldflags "-s -w $ld" -o "$BIN/$b.tmp" "k8s.io/kubernetes/cmd/$b"
    mv "$BIN/$b.tmp" "$BIN/$b"
    log "$b done in $(( $(date +%s) - t0 ))s"
  done
else
  log "Kubernetes $K8S_VERSION cached"
fi

# ---- kwok ------------------------------------------------------------------------------------
if ! have kwok || [ ! -d "$OUT/kwok-stages" ]; then
  log "building kwok $KWOK_VERSION (step 3/4)"
  GOBIN="$BIN" go install "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
  dir=$(go mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  rm -rf "$OUT/kwok-stages"; mkdir -p "$OUT/kwok-stages"
  cp -r "$dir/kustomize/stage/." "$OUT/kwok-stages/"
  chmod -R u+w "$OUT/kwok-stages"
  log "kwok done"
else
  log "kwok $KWOK_VERSION cached"
fi

# ---- Gateway API CRDs (files from the sigs.k8s.io/gateway-api module) -------------------------
if [ ! -d "$OUT/gateway-api-crds" ]; then
  log "fetching Gateway API $GATEWAY_API_VERSION CRDs from its Go module (step 4/4)"
  dir=$(cd "$WORK" && go mod download -json "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION}" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  mkdir -p "$OUT/gateway-api-crds.tmp"
  cp "$dir"/config/crd/standard/*.yaml "$OUT/gateway-api-crds.tmp/"
  chmod -R u+w "$OUT/gateway-api-crds.tmp"
  mv "$OUT/gateway-api-crds.tmp" "$OUT/gateway-api-crds"
fi

log "ready in $(( $(date +%s) - start_ts ))s: $OUT"
echo "$OUT"
