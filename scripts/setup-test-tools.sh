#!/usr/bin/env bash
# Tools only the tests need, installed by `npm test` (after scripts/setup-host.sh), never by
# `npm start` (issue 14: the main job's first result must not wait for them). Idempotent: each
# step checks first and does nothing when already in place.
#   - Debian's python3 packages of the Python SDK and its tests (websockets, nacl, xxhash,
#     cryptography, mnemonic, pytest): scripts/setup-python-chain.sh;
#   - the Rust SDK's crates (offline cargo registry): scripts/setup-rust-sdk.sh;
#   - headless Chromium for the devbox browser tests (test/devbox): scripts/setup-browser.sh;
#   - the devbox image up front (test/instances, test/devbox and the SDK package test start
#     instances; the operator would otherwise build it on the first start, minutes into a test).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup-test] %s\n' "$*" >&2; }
bash scripts/setup-python-chain.sh
bash scripts/setup-rust-sdk.sh
bash scripts/setup-browser.sh || log "no headless Chromium: the devbox browser tests (test/devbox) will fail"
node --import tsx scripts/build-devbox.ts || log "the devbox image (faas-devbox) was not built: persistent instances and test/devbox need it"
