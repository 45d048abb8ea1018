#!/usr/bin/env bash
# What the Rust SDK (sdk/rust, crate faas-sdk) needs to build offline, for its tests
# (test/sdk/rust.test.ts) and for anyone building it here: Debian's crate sources, which apt
# puts in /usr/share/cargo/registry (sdk/rust/.cargo/config.toml points cargo there instead of
# crates.io), and a Rust toolchain (Debian's cargo and rustc only when there is no cargo at
# all). Idempotent: a fast no-op when everything is in place. Run by scripts/setup-test-tools.sh.
set -euo pipefail
log() { printf '[setup-rust] %s\n' "$*" >&2; }

# The crate's direct dependencies (ureq, serde with derive, serde_json); apt brings theirs.
CRATES=(librust-ureq-dev librust-serde-dev librust-serde-derive-dev librust-serde-json-dev)
REGISTRY=/usr/share/cargo/registry

installed() { [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]; }
has_cargo() { command -v cargo >/dev/null 2>&1 || [ -x "${HOME:-/root}/.cargo/bin/cargo" ]; }

need=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${CRATES[@]}"; do installed "$p" || need+=("$p"); done
else
  need=("${CRATES[@]}")
fi
has_cargo || need+=(cargo rustc)
[ ${#need[@]} -eq 0 ] && [ -d "$REGISTRY" ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "the Rust SDK needs Debian's packages ${need[*]} (as root: apt-get install ${need[*]}); its tests will fail without them"
  exit 0
fi
log "installing ${need[*]} with apt (first run only)"
if [ ! -f /var/lib/faas-apt-updated ] || [ -n "$(find /var/lib/faas-apt-updated -mmin +1440 2>/dev/null)" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && touch /var/lib/faas-apt-updated
fi
DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
log "Rust SDK build dependencies in place ($REGISTRY)"
