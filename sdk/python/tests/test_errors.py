"""Typed errors from the real gateway."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Dict

import pytest

from faas_sdk import (
    AuthError,
    FaaSClient,
    InsufficientCreditError,
    MergeConflictError,
    NotFoundError,
    QuotaExceededError,
    RateLimitError,
    ValidationError,
)
from faas_sdk.exceptions import error_from_body


def test_another_keys_execution_is_not_found(client: FaaSClient, client2: FaaSClient) -> None:
    result = client.execute("print('mine')", "python")
    with pytest.raises(NotFoundError) as info:
        client2.get_execution(result.execution_id)
    assert info.value.code == "NOT_FOUND"
    assert info.value.status == 404


def test_unknown_execution_is_not_found(client: FaaSClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_execution("no-such-execution")


def test_unknown_field_is_a_validation_error_naming_it(client: FaaSClient) -> None:
    with pytest.raises(ValidationError) as info:
        client.request("POST", "/v1/executions", {"code": "print(1)", "language": "python", "colour": "blue"})
    assert info.value.code == "VALIDATION_ERROR"
    assert info.value.status == 400
    assert info.value.field == "colour"


def test_bad_language_is_a_validation_error(client: FaaSClient) -> None:
    with pytest.raises(ValidationError) as info:
        client.execute("PROGRAM-ID. HELLO.", "cobol")  # type: ignore[arg-type]
    assert info.value.field == "language"


def test_unknown_key_is_an_auth_error(env: Dict[str, str]) -> None:
    bad = FaaSClient(api_key="not-a-real-key", endpoint=env["FAAS_ENDPOINT"])
    with pytest.raises(AuthError) as info:
        bad.usage.get_current()
    assert info.value.status == 401


def test_missing_key_is_an_auth_error_at_call_time(env: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAAS_API_KEY", raising=False)
    keyless = FaaSClient(endpoint=env["FAAS_ENDPOINT"])  # building it is fine...
    with pytest.raises(AuthError, match="FAAS_API_KEY"):
        keyless.execute("print(1)", "python")  # ...calling it is not


def test_snapshots_branches_and_merges(client: FaaSClient, client2: FaaSClient) -> None:
    first = client.execute('x = 41\nopen("f.txt", "w").write("base")', "python", mode="checkpointed")
    snap = client.create_snapshot(first.execution_id)
    assert snap["hasMemory"] is True and snap["sizeBytes"] == 4 and len(snap["contentHash"]) == 64
    assert client.get_snapshot(snap["id"]) == snap
    assert snap["id"] in [s["id"] for s in client.list_snapshots()]
    restored = client.restore_snapshot(snap["id"])
    assert client.execute('print(x + 1, open("f.txt").read())', "python", execution_id=restored["executionId"]).stdout == "42 base\n"
    b1, b2 = client.create_branch(snap["id"]), client.create_branch(snap["id"])
    client.execute('open("f.txt", "w").write("one")', "python", execution_id=b1["executionId"])
    client.execute('open("f.txt", "w").write("two")', "python", execution_id=b2["executionId"])
    with pytest.raises(MergeConflictError) as info:
        client.merge_branches([b1["id"], b2["id"]])
    assert info.value.code == "MERGE_CONFLICT" and info.value.status == 409
    assert info.value.conflicts == ["f.txt"]
    merged = client.merge_branches([b1["id"], b2["id"]], strategy="ours")
    assert merged["memoryFrom"] == "base" and merged["conflicts"] == ["f.txt"]
    with pytest.raises(NotFoundError):
        client2.restore_snapshot(snap["id"])  # another key's snapshot
    client.delete_snapshot(merged["id"])
    with pytest.raises(NotFoundError):
        client.restore_snapshot(merged["id"])


def test_rate_limit_error_has_reset_at(env: Dict[str, str]) -> None:
    # The only test that uses the limited key (3 requests per short window). No retries: a retry would
    # wait for the window to reopen instead of showing the error.
    limited = FaaSClient(api_key=env["FAAS_API_KEY_LIMITED"], endpoint=env["FAAS_ENDPOINT"], max_retries=0)
    with pytest.raises(RateLimitError) as info:
        for _ in range(10):
            limited.usage.get_current()
    err = info.value
    assert err.code == "RATE_LIMIT_EXCEEDED"
    assert err.status == 429
    assert isinstance(err.reset_at, datetime)
    assert err.reset_at > datetime.now(timezone.utc)
    assert err.retry_after is not None and err.retry_after > 0

    # With retries, the same call waits for the window to reopen (resetAt) and then succeeds.
    patient = FaaSClient(api_key=env["FAAS_API_KEY_LIMITED"], endpoint=env["FAAS_ENDPOINT"], max_retries=2)
    remaining = (err.reset_at - datetime.now(timezone.utc)).total_seconds()
    started = time.monotonic()
    usage = patient.usage.get_current()
    waited = time.monotonic() - started
    assert usage.rate_limit.limit == 3
    assert waited >= remaining - 0.5, (waited, remaining)


def test_quota_and_credit_answers_are_typed_errors() -> None:
    # The gateway's bodies for a per-key quota (403) and an exhausted balance (402), as it sends them.
    quota = error_from_body(403, {"code": "QUOTA_EXCEEDED", "message": "instances: this key already has 4 instances", "details": {"quota": "instances"}})
    assert isinstance(quota, QuotaExceededError)
    assert (quota.code, quota.status, quota.quota) == ("QUOTA_EXCEEDED", 403, "instances")
    broke = error_from_body(402, {"code": "INSUFFICIENT_CREDIT", "message": "This key's balance is 0 credits"})
    assert isinstance(broke, InsufficientCreditError)
    assert (broke.code, broke.status) == ("INSUFFICIENT_CREDIT", 402)
    assert isinstance(error_from_body(402, None), InsufficientCreditError)  # a bare 402 too
