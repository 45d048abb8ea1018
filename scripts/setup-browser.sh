#!/usr/bin/env bash
# Headless Chromium on the host, for the tests that load the devbox's web UIs (Jupyter, VS Code,
# noVNC) in a real browser and take screenshots (test/devbox). Idempotent: does nothing when
# /usr/bin/chromium (or $FAAS_CHROMIUM) is there; installs Debian's `chromium` with apt when we
# may (root on Debian/Ubuntu), else says what to do and exits 1.
set -euo pipefail
log() { printf '[setup] %s\n' "$*" >&2; }

if [ -x "${FAAS_CHROMIUM:-/usr/bin/chromium}" ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "no Chromium for the devbox browser tests: install Debian's chromium (or set FAAS_CHROMIUM)"
  exit 1
fi
log "installing chromium with apt (first run only; for the devbox browser tests)"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
if ! apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
[ -x /usr/bin/chromium ] || { log "chromium was installed but /usr/bin/chromium is missing"; exit 1; }
