"""Where the Tangle runtime metadata for the offline chain tests lives: FAAS_CHAIN_METADATA, or
shared/chain/ beside the repository (as the local node finds it)."""

from __future__ import annotations

import os
from pathlib import Path

CANDIDATES = [Path(__file__).resolve().parents[4] / "shared/chain/tangle-testnet-v1.4.3-metadata.scale", Path.cwd() / "../shared/chain/tangle-testnet-v1.4.3-metadata.scale"]


def metadata_bytes() -> bytes:
    if os.environ.get("FAAS_CHAIN_METADATA"):
        return Path(os.environ["FAAS_CHAIN_METADATA"]).read_bytes()
    for p in CANDIDATES:
        if p.exists():
            return p.read_bytes()
    raise FileNotFoundError(f"Tangle metadata not found at {', '.join(map(str, CANDIDATES))}; set FAAS_CHAIN_METADATA")
