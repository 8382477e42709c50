#!/usr/bin/env bash
# Podman for lightrank's image builds and container tests: Debian's podman run with runc and the
# project's containers.conf (scripts/podman/containers.conf), plus `podman system service`
# serving the Docker API on a unix socket for testcontainers.
#
#   scripts/podman.sh install   # apt-get install podman, runc, mmdebstrap (+ netavark) when missing
#   scripts/podman.sh service   # start the Docker-API service once (idempotent); prints DOCKER_HOST
#   scripts/podman.sh stop      # stop the service this script started
#   scripts/podman.sh env       # prints `export ...` lines: eval "$(scripts/podman.sh env)"
#   scripts/podman.sh check     # exit 0 when podman can run a container here, else say why
#   scripts/podman.sh podman ARGS...   # podman with the project's configuration
#
# Environment: LIGHTRANK_PODMAN_RUN_DIR (socket, pid and log; default /run/lightrank-podman,
# outside the repo). Installing needs root and apt-get (Debian or Ubuntu); elsewhere install
# podman and runc yourself and the rest works unchanged.
#
# Why a containers.conf of our own: on these machines crun refuses cgroups v1/hybrid, and
# podman's default nofile ulimit is above the hard limit, so every container fails to start
# with the distribution's defaults. CONTAINERS_CONF points podman at ours; /etc is not edited.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$HERE/podman/containers.conf}"
RUN_DIR="${LIGHTRANK_PODMAN_RUN_DIR:-/run/lightrank-podman}"
SOCK="$RUN_DIR/podman.sock"
PIDFILE="$RUN_DIR/service.pid"
SERVICE_LOG="$RUN_DIR/service.log"
# Debian package names; netavark + aardvark-dns give containers a bridge network with published
# ports (podman's own network stack), iptables is what netavark programs, catatonit is --init.
PACKAGES=(podman runc mmdebstrap netavark aardvark-dns iptables catatonit)

log() { printf '[podman %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "$*"
  exit 1
}

missing_packages() {
  local p out=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  echo "${out[@]:-}"
}

cmd_install() {
  if command -v podman >/dev/null && command -v runc >/dev/null && command -v mmdebstrap >/dev/null &&
    { ! command -v dpkg-query >/dev/null || [ -z "$(missing_packages)" ]; }; then
    log "podman $(podman --version | awk '{print $3}'), runc and mmdebstrap installed"
    return 0
  fi
  command -v apt-get >/dev/null || die "podman, runc or mmdebstrap missing and no apt-get here: install them (podman >= 4.3 with runc)"
  [ "$(id -u)" = 0 ] || die "podman, runc or mmdebstrap missing: installing them needs root (apt-get install ${PACKAGES[*]})"
  # one apt-get at a time (test files may call this together); the second finds it all installed
  mkdir -p "$RUN_DIR"
  exec 8>"$RUN_DIR/install.lock"
  flock -w 600 8 || die "could not lock $RUN_DIR/install.lock"
  local missing
  missing="$(missing_packages)"
  if [ -z "$missing" ]; then
    log "installed by another run meanwhile"
    return 0
  fi
  log "apt-get install $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # a list of package names
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  log "installed: podman $(podman --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1{print $3}'), mmdebstrap $(mmdebstrap --version | awk '{print $2}')"
}

need_podman() {
  command -v podman >/dev/null || die "podman is not installed (scripts/podman.sh install)"
  command -v runc >/dev/null || die "runc is not installed (scripts/podman.sh install)"
}

ping_socket() {
  [ -S "$SOCK" ] && curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null | grep -q OK
}

cmd_service() {
  need_podman
  mkdir -p "$RUN_DIR"
  # A service started from a folder since deleted (a test run's clone) answers pings but cannot
  # start containers (conmon: "Failed to get working directory"): replace it.
  if [ -f "$PIDFILE" ] && [[ "$(readlink "/proc/$(cat "$PIDFILE")/cwd" 2>/dev/null)" == *" (deleted)" ]]; then
    log "the running service's working directory is gone; restarting it"
    cmd_stop
  fi
  if ping_socket; then
    log "Docker API already served at unix://$SOCK"
    echo "unix://$SOCK"
    return 0
  fi
  # a lock so two test runs starting at once start one service
  exec 9>"$RUN_DIR/service.lock"
  flock -w 30 9 || die "could not lock $RUN_DIR/service.lock"
  if ping_socket; then
    echo "unix://$SOCK"
    return 0
  fi
  rm -f "$SOCK"
  # --time 0: serve until stopped (the default ends the service after 5 s idle)
  # from $RUN_DIR: the service (and each container's conmon) keeps the working directory it was
  # started in, which must outlive the caller's (a test run's clone may be deleted)
  setsid bash -c 'cd "$1" && exec podman system service --time 0 "unix://$2"' _ "$RUN_DIR" "$SOCK" \
    >"$SERVICE_LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local i
  for i in $(seq 1 100); do
    ping_socket && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || die "podman system service exited: $(tail -5 "$SERVICE_LOG")"
    sleep 0.1
  done
  ping_socket || die "podman system service did not answer on $SOCK within 10 s: $(tail -5 "$SERVICE_LOG")"
  log "Docker API served at unix://$SOCK (pid $(cat "$PIDFILE"), log $SERVICE_LOG)"
  echo "unix://$SOCK"
}

cmd_stop() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    log "stopped podman system service (pid $(cat "$PIDFILE"))"
  fi
  rm -f "$PIDFILE" "$SOCK"
}

cmd_env() {
  printf 'export CONTAINERS_CONF=%q\n' "$CONTAINERS_CONF"
  printf 'export DOCKER_HOST=%q\n' "unix://$SOCK"
}

cmd_check() {
  need_podman
  local out
  out="$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}' 2>&1)" ||
    die "podman info failed: $out"
  log "podman ready: runtime/storage $out"
}

case "${1:-}" in
  install) cmd_install ;;
  service) cmd_service ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  check) cmd_check ;;
  podman)
    shift
    need_podman
    exec podman "$@"
    ;;
  *) die "usage: scripts/podman.sh install|service|stop|env|check|podman ARGS..." ;;
esac
