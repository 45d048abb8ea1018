#!/usr/bin/env bash
# Host set-up for the FaaS operator, run by `npm start`, `npm test` and `npm run bench`: only
# what the main job needs, so a fresh machine reaches its first verified result quickly.
# Idempotent: every step checks first and does nothing when already done.
#   1. a Docker engine that answers (installs docker.io and starts dockerd when we may);
#   2. gVisor's runsc registered with Docker (the gvisor isolation tier);
#   3. the runtime images, built offline (scripts/build-images.ts; its arguments are passed on:
#      `npm start` gives --first-job, so only the first job's image is built before it starts
#      and the others follow in the background once its first result is verified).
# Not here (issue 14): the devbox image of persistent instances is built by the operator on
# first use or in the background once `npm start` serves (src/sandbox/instances/devbox-image.ts);
# test-only tools (Chromium, pytest, the Python chain packages, the Rust SDK's crates, the
# devbox image up front) are installed by scripts/setup-test-tools.sh, which only `npm test` runs.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }
DOCKERD_LOG=${FAAS_DOCKERD_LOG:-/var/log/faas-dockerd.log}

engine_answers() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

can_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -r /etc/os-release ] \
    && grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release
}

apt_install() {
  log "installing $* with apt (first run only)"
  if [ ! -f /var/lib/faas-apt-updated ] || [ -n "$(find /var/lib/faas-apt-updated -mmin +1440 2>/dev/null)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && touch /var/lib/faas-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_docker() {
  if engine_answers; then return 0; fi
  if ! can_install; then
    cat >&2 <<'MSG'
[setup] No Docker engine answers, and this host is not one the project can set up by itself
[setup] (that needs root on Debian/Ubuntu). Please:
[setup]   1. install Docker Engine (https://docs.docker.com/engine/install/),
[setup]   2. start it (e.g. `sudo systemctl start docker`) and make sure `docker version` works
[setup]      for this user (or set DOCKER_HOST),
[setup]   3. run the command again.
MSG
    exit 1
  fi
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  # Experimental mode is what Docker's checkpoint API needs (snapshots with memory state).
  mkdir -p /etc/docker
  if [ ! -f /etc/docker/daemon.json ]; then echo '{"experimental": true}' > /etc/docker/daemon.json; fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: $DOCKERD_LOG)"
    nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
    disown || true
  fi
  for _ in $(seq 1 120); do
    if engine_answers; then log "docker engine is up"; return 0; fi
    sleep 0.5
  done
  log "dockerd did not answer within 60 s; last lines of $DOCKERD_LOG:"
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  exit 1
}

ensure_mmdebstrap() {
  # What builds the base image's root filesystem (scripts/build-images.ts); only needed when
  # the base has to be built. (The devbox build checks for its own debootstrap.) Without its
  # recommends (fakechroot, uidmap, gpg, ...: 42 more packages): as root it needs none of them.
  if ! command -v mmdebstrap >/dev/null 2>&1 && can_install; then apt_install --no-install-recommends mmdebstrap; fi
}

# ---- gVisor (issue 13, isolation tiers) ---------------------------------------------------
# Debian's runsc, registered with Docker as the runtime `runsc` (FAAS_ISOLATION=gvisor, or a
# request's `isolation: "gvisor"` where the operator allows it). The runtime is merged into
# /etc/docker/daemon.json (what is there stays) and dockerd reloads it on SIGHUP: runtimes are
# one of its live-reloadable settings, so no running container is touched. Only when it changed.
# FAAS_SETUP_GVISOR=0 skips this step.
GVISOR_RUNTIME='{"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--platform=ptrace"]}'

runsc_registered() { timeout 5 docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; }

ensure_gvisor() {
  [ "${FAAS_SETUP_GVISOR:-1}" = 0 ] && return 0
  if [ ! -x /usr/bin/runsc ]; then
    if can_install && apt-cache show runsc >/dev/null 2>&1; then apt_install runsc; else
      log "no runsc (gVisor): the gvisor isolation tier is not available here"; return 0
    fi
  fi
  [ "$(id -u)" = 0 ] || { runsc_registered || log "runsc is installed but not registered with Docker (needs root)"; return 0; }
  mkdir -p /etc/docker
  local changed
  changed=$(GVISOR_RUNTIME="$GVISOR_RUNTIME" python3 - <<'PY'
import json, os
path = "/etc/docker/daemon.json"
try:
    with open(path) as f:
        conf = json.load(f)
except FileNotFoundError:
    conf = {}
want = json.loads(os.environ["GVISOR_RUNTIME"])
if conf.get("runtimes", {}).get("runsc") == want:
    print("no")
else:
    conf.setdefault("runtimes", {})["runsc"] = want
    with open(path + ".tmp", "w") as f:
        json.dump(conf, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("yes")
PY
)
  if [ "$changed" = yes ] || ! runsc_registered; then
    log "registering the gVisor runtime (runsc) with dockerd (reload, no restart)"
    if [ -r /var/run/docker.pid ]; then kill -HUP "$(cat /var/run/docker.pid)" || true; fi
    for _ in $(seq 1 40); do runsc_registered && return 0; sleep 0.25; done
    log "dockerd did not take up the runsc runtime; see $DOCKERD_LOG"
  fi
}

ensure_docker
ensure_gvisor
ensure_mmdebstrap
exec node --import tsx scripts/build-images.ts "$@"
