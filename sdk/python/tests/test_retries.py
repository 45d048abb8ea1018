"""Retries and debug logging, against a port where nothing listens (and the real gateway)."""

from __future__ import annotations

import logging
import socket
import time
from typing import Dict

import pytest

from faas_sdk import FaaSClient, FaaSConnectionError


def _closed_port() -> int:
    # Bind to get a free port, then close it: connecting there is refused at once.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _attempts(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.name == "faas_sdk" and "/v1/executions" in r.getMessage())


def test_refused_connection_is_retried_then_raised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="faas_sdk")
    client = FaaSClient(api_key="k", endpoint=f"http://127.0.0.1:{_closed_port()}", max_retries=2, debug=True, timeout=5)
    started = time.monotonic()
    with pytest.raises(FaaSConnectionError) as info:
        # A POST that never reached the server is safe to send again.
        client.execute("print(1)", "python")
    elapsed = time.monotonic() - started
    assert _attempts(caplog) == 3
    assert info.value.code == "INTERNAL_ERROR"
    assert elapsed < 10, elapsed


def test_no_retries_means_one_attempt(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="faas_sdk")
    client = FaaSClient(api_key="k", endpoint=f"http://127.0.0.1:{_closed_port()}", max_retries=0, debug=True)
    with pytest.raises(FaaSConnectionError):
        client.get_execution("x")
    assert sum(1 for r in caplog.records if r.name == "faas_sdk") == 1


def test_debug_logs_method_path_status_and_time(env: Dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="faas_sdk")
    client = FaaSClient(api_key=env["FAAS_API_KEY"], endpoint=env["FAAS_ENDPOINT"], debug=True)
    client.usage.get_current()
    messages = [r.getMessage() for r in caplog.records if r.name == "faas_sdk"]
    assert any(m.startswith("GET /v1/usage/current -> 200 (") and m.endswith(" ms)") for m in messages), messages
    assert not any(env["FAAS_API_KEY"] in m for m in messages)
