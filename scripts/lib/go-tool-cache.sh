# Sourced by the scripts that build a Go tool from its module into the cache outside the repo
# (build-helm.sh, build-vegeta.sh): `go_tool_cache NAME VERSION` sets OUT (the tool's cache
# folder, keyed by version) and BIN, fixes the Go build environment and defines `log`.
go_tool_cache() {
  local name="$1" version="$2"
  CACHE_ROOT="${LIGHTRANK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightrank}"
  OUT="$CACHE_ROOT/${name}-${version}"
  BIN="$OUT/bin"
  export GOFLAGS="${GOFLAGS:--buildvcs=false}"
  export CGO_ENABLED=0
  TOOL_NAME="$name"
  log() { printf '[%s %s] %s\n' "$TOOL_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
}

# `go_install_tool BINARY MODULE_PACKAGE@VERSION LDFLAGS`: `go install` into a scratch GOBIN, then
# $BIN/BINARY (BINARY is the name go install gives it: the package's last path element, less a
# /vN major-version suffix), so an interrupted build never leaves a half-written tool in $BIN.
go_install_tool() {
  local binary="$1" target="$2" ldflags="$3" tmp="$OUT/.gobin"
  rm -rf "$tmp"
  GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "$target"
  mv "$tmp/$binary" "$BIN/$binary"
  rm -rf "$tmp"
}
