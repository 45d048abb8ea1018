#!/usr/bin/env bash
# Tools only the tests need, installed by `npm test` (after scripts/setup-host.sh), never by
# `npm start`. Idempotent: each step checks first and does nothing when already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup-test] %s\n' "$*" >&2; }
bash scripts/setup-python-chain.sh
bash scripts/setup-rust-sdk.sh
