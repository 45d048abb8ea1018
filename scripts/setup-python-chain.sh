#!/usr/bin/env bash
# Debian's Python packages the Python TangleFaaSClient (sdk/python/faas_sdk/chain) and its tests
# use — no PyPI: websockets (JSON-RPC over WebSocket), nacl (ed25519 accounts), xxhash (twox
# storage hashers), cryptography (secp256k1 ECDSA of the operators' signatures), pytest.
# Idempotent: a fast no-op when all of them import; otherwise `apt-get update` once, then install.
set -euo pipefail
log() { printf '[setup-python-chain] %s\n' "$*" >&2; }

PY=/usr/bin/python3
# module to import -> Debian package that provides it
declare -A PKG=([websockets]=python3-websockets [nacl]=python3-nacl [xxhash]=python3-xxhash [cryptography]=python3-cryptography [pytest]=python3-pytest [mnemonic]=python3-mnemonic)

# Fast path: everything imports at once.
if [ -x "$PY" ] && "$PY" -c "import $(IFS=,; echo "${!PKG[*]}")" >/dev/null 2>&1; then exit 0; fi

missing=()
if [ ! -x "$PY" ]; then
  missing=(python3 "${PKG[@]}")
else
  for mod in "${!PKG[@]}"; do
    "$PY" -c "import $mod" >/dev/null 2>&1 || missing+=("${PKG[$mod]}")
  done
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "missing ${missing[*]}: install them with apt-get (needs root on Debian/Ubuntu)"
  exit 1
fi
log "installing ${missing[*]} with apt"
export DEBIAN_FRONTEND=noninteractive
# One `apt-get update` first when the package lists are old or do not know the packages yet.
# DPkg::Lock::Timeout: another apt run (setup-host.sh, another setup script) may hold the lock.
stamp=/var/lib/faas-apt-updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ] || ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 && touch "$stamp"
fi
apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >&2
