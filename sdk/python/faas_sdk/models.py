"""The API's answers as typed, immutable dataclasses.

Parsers read with defaults instead of indexing, so that an operator that adds a field (or
leaves out an optional one) does not break older clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Literal, Mapping, Optional, Union

from .exceptions import FaaSError, error_from_body, parse_iso_datetime

Language = Literal["python", "javascript", "typescript", "bash", "go"]
Mode = Literal["ephemeral", "cached", "checkpointed", "branched", "persistent"]
ExecutionStatus = Literal["queued", "running", "completed", "failed"]
StreamEventType = Literal["output", "error", "progress", "complete"]

__all__ = [
    "Language",
    "Mode",
    "ExecutionStatus",
    "StreamEventType",
    "ResourceUsage",
    "ExecutionResult",
    "ExecutionInfo",
    "StreamEvent",
    "RateLimitStatus",
    "CurrentUsage",
    "UsageTotals",
    "DailyUsage",
    "UsageMetrics",
]


def _num(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _error(data: Any) -> Optional[FaaSError]:
    # `{code, message}` objects inside answers and stream events become the same typed errors
    # the HTTP calls raise, so `raise event.error` does the right thing.
    return error_from_body(None, data) if isinstance(data, Mapping) else None


@dataclass(frozen=True)
class ResourceUsage:
    """What one execution used."""

    cpu_seconds: float
    memory_peak_mb: float

    @classmethod
    def from_json(cls, data: Any) -> "ResourceUsage":
        d = data if isinstance(data, Mapping) else {}
        return cls(cpu_seconds=_num(d, "cpuSeconds"), memory_peak_mb=_num(d, "memoryPeakMb"))


@dataclass(frozen=True)
class ExecutionResult:
    """The outcome of a finished execution.

    ``failure`` is ``"compile"``, ``"timeout"`` or ``"oom"`` when the program could not run;
    :meth:`FaaSClient.execute` raises :class:`~faas_sdk.exceptions.ExecutionError` for those,
    so a result you hold from ``execute`` has ``failure is None``.
    """

    execution_id: str
    stdout: str
    stderr: str
    exit_code: int
    duration_ms: float
    truncated: bool
    timed_out: bool
    oom_killed: bool
    usage: ResourceUsage
    failure: Optional[str] = None

    @property
    def ok(self) -> bool:
        """True when the program ran and exited 0."""
        return self.exit_code == 0 and self.failure is None

    @classmethod
    def from_json(cls, data: Any) -> "ExecutionResult":
        d = data if isinstance(data, Mapping) else {}
        failure = d.get("failure")
        return cls(
            execution_id=_str(d, "executionId"),
            stdout=_str(d, "stdout"),
            stderr=_str(d, "stderr"),
            exit_code=_int(d, "exitCode"),
            duration_ms=_num(d, "durationMs"),
            truncated=bool(d.get("truncated", False)),
            timed_out=bool(d.get("timedOut", False)),
            oom_killed=bool(d.get("oomKilled", False)),
            usage=ResourceUsage.from_json(d.get("usage")),
            failure=failure if isinstance(failure, str) else None,
        )


@dataclass(frozen=True)
class ExecutionInfo:
    """An execution's state (``GET /v1/executions/{id}``, or the answer of ``start``)."""

    execution_id: str
    status: str
    language: str
    mode: str
    created_at: Optional[datetime]
    result: Optional[ExecutionResult] = None
    error: Optional[FaaSError] = None

    @property
    def done(self) -> bool:
        return self.status in ("completed", "failed")

    @classmethod
    def from_json(cls, data: Any) -> "ExecutionInfo":
        d = data if isinstance(data, Mapping) else {}
        created: Optional[datetime] = None
        if isinstance(d.get("createdAt"), str):
            try:
                created = parse_iso_datetime(d["createdAt"])
            except ValueError:
                created = None
        return cls(
            execution_id=_str(d, "executionId"),
            status=_str(d, "status"),
            language=_str(d, "language"),
            mode=_str(d, "mode"),
            created_at=created,
            result=ExecutionResult.from_json(d["result"]) if isinstance(d.get("result"), Mapping) else None,
            error=_error(d.get("error")) or (d["data"] if _str(d, "type") == "error" and isinstance(d.get("data"), str) else None),
        )


@dataclass(frozen=True)
class StreamEvent:
    """One event of an execution's stream.

    * ``output``: ``data`` is a chunk of stdout.
    * ``error``: a chunk of stderr (in ``data``, and in ``error`` as the same text, so that
      ``print(f"Error: {event.error}")`` shows it), or why the execution failed (``error`` is
      then a :class:`FaaSError` and ``data`` is ``None``).
    * ``progress``: ``percent`` and ``message``.
    * ``complete``: ``exit_code`` and ``result``; the stream ends after it.
    """

    type: str
    data: Optional[str] = None
    error: Union[FaaSError, str, None] = None
    exit_code: Optional[int] = None
    percent: Optional[float] = None
    message: Optional[str] = None
    result: Optional[ExecutionResult] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> "StreamEvent":
        d: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        exit_code = d.get("exitCode")
        percent = d.get("percent")
        return cls(
            type=_str(d, "type"),
            data=d["data"] if isinstance(d.get("data"), str) else None,
            error=_error(d.get("error")) or (d["data"] if _str(d, "type") == "error" and isinstance(d.get("data"), str) else None),
            exit_code=exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
            percent=float(percent) if isinstance(percent, (int, float)) and not isinstance(percent, bool) else None,
            message=d["message"] if isinstance(d.get("message"), str) else None,
            result=ExecutionResult.from_json(d["result"]) if isinstance(d.get("result"), Mapping) else None,
            raw=dict(d),
        )


@dataclass(frozen=True)
class RateLimitStatus:
    limit: int
    remaining: int
    reset_at: Optional[datetime]
    window_ms: int
    max_concurrent: int

    @classmethod
    def from_json(cls, data: Any) -> "RateLimitStatus":
        d = data if isinstance(data, Mapping) else {}
        reset: Optional[datetime] = None
        if isinstance(d.get("resetAt"), str):
            try:
                reset = parse_iso_datetime(d["resetAt"])
            except ValueError:
                reset = None
        return cls(
            limit=_int(d, "limit"),
            remaining=_int(d, "remaining"),
            reset_at=reset,
            window_ms=_int(d, "windowMs"),
            max_concurrent=_int(d, "maxConcurrent"),
        )


@dataclass(frozen=True)
class UsageTotals:
    executions: int
    cpu_seconds: float
    memory_gb_seconds: float
    cost: float


@dataclass(frozen=True)
class CurrentUsage(UsageTotals):
    """``GET /v1/usage/current``: this key's totals, balance and rate-limit state."""

    credit: float
    balance: float
    active_executions: int
    rate_limit: RateLimitStatus
    # Kept as the server's mapping (perExecution, perCpuSecond, perGbSecond...): prices are
    # informational and their set may grow.
    prices: Dict[str, float]

    @classmethod
    def from_json(cls, data: Any) -> "CurrentUsage":
        d = data if isinstance(data, Mapping) else {}
        prices_value = d.get("prices")
        prices_raw: Mapping[str, Any] = prices_value if isinstance(prices_value, Mapping) else {}
        return cls(
            executions=_int(d, "executions"),
            cpu_seconds=_num(d, "cpuSeconds"),
            memory_gb_seconds=_num(d, "memoryGbSeconds"),
            cost=_num(d, "cost"),
            credit=_num(d, "credit"),
            balance=_num(d, "balance"),
            active_executions=_int(d, "activeExecutions"),
            rate_limit=RateLimitStatus.from_json(d.get("rateLimit")),
            prices={k: float(v) for k, v in prices_raw.items() if isinstance(v, (int, float))},
        )


@dataclass(frozen=True)
class DailyUsage(UsageTotals):
    """One UTC day of :class:`UsageMetrics`; ``date`` as the server wrote it (YYYY-MM-DD)."""

    date: str


@dataclass(frozen=True)
class UsageMetrics(UsageTotals):
    """``GET /v1/usage/metrics``: totals over a period, and the same per UTC day."""

    start_date: str
    end_date: str
    daily: List[DailyUsage]

    @classmethod
    def from_json(cls, data: Any) -> "UsageMetrics":
        d = data if isinstance(data, Mapping) else {}
        daily_value = d.get("daily")
        days: List[Any] = daily_value if isinstance(daily_value, list) else []
        return cls(
            executions=_int(d, "executions"),
            cpu_seconds=_num(d, "cpuSeconds"),
            memory_gb_seconds=_num(d, "memoryGbSeconds"),
            cost=_num(d, "cost"),
            start_date=_str(d, "startDate"),
            end_date=_str(d, "endDate"),
            daily=[
                DailyUsage(
                    executions=_int(x, "executions"),
                    cpu_seconds=_num(x, "cpuSeconds"),
                    memory_gb_seconds=_num(x, "memoryGbSeconds"),
                    cost=_num(x, "cost"),
                    date=_str(x, "date"),
                )
                for x in days
                if isinstance(x, Mapping)
            ],
        )
