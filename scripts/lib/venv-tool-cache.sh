# Sourced by the scripts that install a Python tool from PyPI into a virtual environment in the
# cache outside the repo (s3-server.sh, oip-client.sh).
#
#   venv_tool NAME VENV_DIR_NAME PIP_SPEC FILE
#     installs PIP_SPEC into $CACHE_ROOT/VENV_DIR_NAME unless it is complete, then prints
#     <venv>/FILE (e.g. bin/moto_server) as the last line.
#
# Idempotent: a complete install is reused. Concurrent callers (vitest runs files in parallel;
# several checkouts share the cache) wait on a lock; a venv counts as installed only once its
# `.complete` marker is written, so a half-built one is never used, and the next caller rebuilds it.
venv_tool() {
  local name="$1" dir="$2" spec="$3" file="$4"
  local root="${LIGHTRANK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lightrank}"
  local venv="$root/$dir"
  log() { printf '[%s %s] %s\n' "$name" "$(date +%H:%M:%S)" "$*" >&2; }
  complete() { [ -x "$venv/$file" ] && [ -f "$venv/.complete" ]; }
  mkdir -p "$root"
  if complete; then
    log "$spec cached"
  else
    command -v python3 >/dev/null 2>&1 || { log "python3 is required to install $spec"; return 1; }
    exec 9>"$venv.lock"
    flock 9
    if ! complete; then
      log "installing $spec into $venv"
      rm -rf "$venv" # a half-built one, left by a caller that died
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check "$spec" >&2
      touch "$venv/.complete"
      log "$spec installed"
    fi
    exec 9>&-
  fi
  echo "$venv/$file"
}
