"""Fixtures for tests against a real gateway.

Tests that use the ``env``, ``client`` or ``client2`` fixtures need a real gateway; the
gateway's URL and keys come from the environment (FAAS_ENDPOINT, FAAS_API_KEY,
FAAS_API_KEY_2, FAAS_API_KEY_LIMITED): start one with
``cd /work/main && npx tsx scripts/dev-gateway.ts`` and export what it prints. There is no
fake server: without FAAS_ENDPOINT the session fails instead of passing vacuously.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict

import pytest

# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faas_sdk import FaaSClient  # noqa: E402

REQUIRED = ("FAAS_ENDPOINT", "FAAS_API_KEY", "FAAS_API_KEY_2", "FAAS_API_KEY_LIMITED")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    # Offline tests (tar safety, codecs) run anywhere; once one selected test needs the gateway,
    # the session needs all of it.
    needs_gateway = any("env" in getattr(item, "fixturenames", ()) for item in items)
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if needs_gateway and missing:
        pytest.exit(
            f"{', '.join(missing)} not set: these tests run against a real FaaS gateway. Start one with "
            "`cd /work/main && npx tsx scripts/dev-gateway.ts` and export FAAS_ENDPOINT, FAAS_API_KEY, "
            "FAAS_API_KEY_2 and FAAS_API_KEY_LIMITED from the JSON line it prints.",
            returncode=1,
        )


@pytest.fixture(scope="session")
def env() -> Dict[str, str]:
    return {name: os.environ[name] for name in REQUIRED}


@pytest.fixture(scope="session")
def client(env: Dict[str, str]) -> FaaSClient:
    # A timeout well above the sandbox's 30 s default, so a slow cold start is not a failure.
    return FaaSClient(api_key=env["FAAS_API_KEY"], endpoint=env["FAAS_ENDPOINT"], timeout=90)


@pytest.fixture(scope="session")
def client2(env: Dict[str, str]) -> FaaSClient:
    return FaaSClient(api_key=env["FAAS_API_KEY_2"], endpoint=env["FAAS_ENDPOINT"], timeout=90)
