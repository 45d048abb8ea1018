"""Fixtures for the Python TangleFaaSClient's tests against a local Tangle services node.

test/sdk/python-chain.test.ts (in ``npm test``) starts the node, the FaaS services and real
operators, and runs this suite with what it made in the environment:

* FAAS_CHAIN_RPC — the node's ws URL; FAAS_CHAIN_BLUEPRINT — the FaaS blueprint id;
* FAAS_CHAIN_SERVICE — a service operated by //Bob alone (a real operator);
* FAAS_CHAIN_QUORUM_SERVICE — operated by //Bob, //Dave (real operators) and the rogue;
* FAAS_CHAIN_ROGUE_SERVICE — operated by the rogue alone;
* FAAS_CHAIN_CALLER / _ROGUE / _OUTSIDER — secret URIs of funded ed25519 accounts: the caller
  (permitted on all three services), an operator these tests drive by hand (registered with the
  ecdsa key of the same URI, and an API address on FAAS_CHAIN_ROGUE_API_PORT that the tests
  serve), and an account registered for the blueprint that operates none of the services;
* FAAS_CHAIN_BOB, FAAS_CHAIN_DAVE — the real operators' addresses;
* FAAS_CHAIN_REPORT — a file the suite writes facts to for the TypeScript side to check.

Without them the session fails instead of passing vacuously.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REQUIRED = (
    "FAAS_CHAIN_RPC",
    "FAAS_CHAIN_BLUEPRINT",
    "FAAS_CHAIN_SERVICE",
    "FAAS_CHAIN_QUORUM_SERVICE",
    "FAAS_CHAIN_ROGUE_SERVICE",
    "FAAS_CHAIN_CALLER",
    "FAAS_CHAIN_ROGUE",
    "FAAS_CHAIN_OUTSIDER",
    "FAAS_CHAIN_ROGUE_API_PORT",
    "FAAS_CHAIN_BOB",
    "FAAS_CHAIN_DAVE",
    "FAAS_CHAIN_REPORT",
)


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.exit(
            f"{', '.join(missing)} not set: these tests run against a local Tangle node with FaaS services and "
            "operators, which test/sdk/python-chain.test.ts sets up (`npx vitest run test/sdk/python-chain.test.ts`).",
            returncode=1,
        )


@pytest.fixture(scope="session")
def env() -> Dict[str, str]:
    return {name: os.environ[name] for name in REQUIRED}
