"""Typed errors of the FaaS SDK.

Every error the SDK raises on purpose is a :class:`FaaSError` with a stable ``code``. Server
errors keep the server's code (the body's ``code`` picks the class, so a new HTTP status for
an old code does not change what callers catch); errors that happen on the client side
(no connection, no answer in time, no API key) use the same classes with ``status=None``.

Two names would shadow Python builtins, so they carry a ``FaaS`` prefix:

* :class:`FaaSTimeoutError`, also named ``TimeoutError`` in this module as the issue asks
  (use it qualified, ``exceptions.TimeoutError``, to keep the builtin usable),
* :class:`FaaSNotImplementedError` for ``NOT_IMPLEMENTED`` (a feature the operator does not
  offer yet), with no unprefixed alias: shadowing ``NotImplementedError`` would be a trap.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Type

if TYPE_CHECKING:  # only for hints: models imports nothing from here at run time
    from .models import ExecutionResult

__all__ = [
    "FaaSError",
    "ValidationError",
    "ResourceUnavailableError",
    "QueueFullError",
    "FaaSNotImplementedError",
    "NotFoundError",
    "MergeConflictError",
    "ConflictError",
    "AuthError",
    "RateLimitError",
    "QuotaExceededError",
    "InsufficientCreditError",
    "ExecutionError",
    "FaaSTimeoutError",
    "SandboxError",
    "ShuttingDownError",
    "InternalError",
    "FaaSConnectionError",
    "error_from_body",
    "parse_iso_datetime",
]



class FaaSError(Exception):
    """Base class of every error the SDK raises on purpose.

    Attributes:
        code: the server's error code (``VALIDATION_ERROR``, ``NOT_FOUND``...); client-side
            errors use the same codes (a network failure is ``INTERNAL_ERROR``).
        message: the human-readable message.
        status: the HTTP status of the answer, ``None`` when the error arose on the client.
        field: the request field at fault, when the server named one.
        details: anything else the server said about the error.
    """

    default_code = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        field: Optional[str] = None,
        details: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: str = code or self.default_code
        self.status = status
        self.field = field
        self.details: Dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, message={self.message!r})"


class ValidationError(FaaSError):
    """The request was malformed (unknown field, bad language...); ``field`` names the culprit."""

    default_code = "VALIDATION_ERROR"


class ResourceUnavailableError(FaaSError):
    """The request asked for more than this operator offers (GPUs, memory over its cap...)."""

    default_code = "RESOURCE_UNAVAILABLE"


class QueueFullError(FaaSError):
    """The execution queue was full; nothing was started."""

    default_code = "QUEUE_FULL"


class FaaSNotImplementedError(FaaSError):
    """A feature this operator does not offer yet (``NOT_IMPLEMENTED``); nothing was started."""

    default_code = "NOT_IMPLEMENTED"


class NotFoundError(FaaSError):
    """The execution/snapshot/instance does not exist, or belongs to another API key."""

    default_code = "NOT_FOUND"


class ConflictError(FaaSError):
    """The resource is not in a state that allows the call (a paused or stopped instance);
    ``field`` names what is at odds (e.g. ``status``)."""

    default_code = "CONFLICT"


class MergeConflictError(FaaSError):
    """A branch merge (strategy ``fail``) found paths two branches changed differently;
    ``conflicts`` lists them and nothing was created. Merge with ``"ours"`` or ``"theirs"``."""

    default_code = "MERGE_CONFLICT"

    @property
    def conflicts(self) -> list:  # type: ignore[type-arg]
        return [str(p) for p in self.details.get("conflicts") or []]


class AuthError(FaaSError):
    """The API key is missing, unknown or revoked."""

    default_code = "AUTH_ERROR"


class RateLimitError(FaaSError):
    """The key went over its rate limit; ``reset_at`` (aware UTC datetime) says when to try again.

    ``retry_after`` is the answer's ``Retry-After`` header in seconds, when it had one.
    """

    default_code = "RATE_LIMIT_EXCEEDED"

    def __init__(
        self,
        message: str,
        *,
        reset_at: Optional[datetime] = None,
        retry_after: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        # Always a datetime, so callers can compare without a None check; one second from now
        # when the server gave no hint at all (as the TypeScript SDK does).
        self.reset_at: datetime = reset_at or datetime.now(timezone.utc) + timedelta(seconds=1)


class QuotaExceededError(FaaSError):
    """The key already holds as much of something as the operator allows it (``quota`` names
    it: ``instances``, ``contexts``, ``familyContainers``, ``snapshotBytes``, ``stdinBytes``...).
    Nothing was started; free some (stop an instance, delete snapshots) before trying again."""

    default_code = "QUOTA_EXCEEDED"

    @property
    def quota(self) -> str:
        return str(self.details.get("quota") or "")


class InsufficientCreditError(FaaSError):
    """The key's credit balance is at or below zero: nothing was started. Reads still work;
    the operator adds credit (``npm run operator -- keys credit ID AMOUNT``)."""

    default_code = "INSUFFICIENT_CREDIT"


class ExecutionError(FaaSError):
    """The program could not run (syntax/compile error, timeout, out of memory), or exited
    non-zero when ``throw_on_error=True`` was asked for.

    Attributes:
        stderr: what the program wrote to stderr (the compiler's message for a syntax error).
        exit_code: the program's exit code, when it has one.
        failure: ``"compile"``, ``"timeout"`` or ``"oom"`` when the program could not run;
            ``None`` for a plain non-zero exit.
        result: the whole result, when the server sent one.
    """

    default_code = "EXECUTION_ERROR"

    def __init__(
        self,
        message: str,
        *,
        stderr: str = "",
        exit_code: Optional[int] = None,
        failure: Optional[str] = None,
        result: Optional["ExecutionResult"] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.stderr = stderr
        self.exit_code = exit_code
        self.failure = failure
        self.result = result

    @property
    def execution_id(self) -> Optional[str]:
        return self.result.execution_id if self.result is not None else None


class FaaSTimeoutError(FaaSError):
    """No answer in time: the server's ``TIMEOUT``, or the client's own ``timeout`` ran out
    (then ``status`` is ``None`` and the execution may still be running)."""

    default_code = "TIMEOUT"


# The name the issue asks for, for `exceptions.TimeoutError` or an explicit import. It is left
# out of __all__ (and out of the package's top level) so that a star import cannot shadow the
# builtin TimeoutError, which socket timeouts raise.
TimeoutError = FaaSTimeoutError  # noqa: A001


class SandboxError(FaaSError):
    """The sandbox itself failed (container died...), not the user's code."""

    default_code = "SANDBOX_ERROR"


class ShuttingDownError(FaaSError):
    """The operator is shutting down; nothing was started."""

    default_code = "SHUTTING_DOWN"


class InternalError(FaaSError):
    """Anything unexpected on the server."""

    default_code = "INTERNAL_ERROR"


class FaaSConnectionError(FaaSError):
    """The server could not be reached, or the connection broke before a whole answer came.

    Its code is ``INTERNAL_ERROR``, as in the TypeScript SDK, so that both SDKs only ever show
    the server's codes; catch this class to tell a network failure apart.
    """

    default_code = "INTERNAL_ERROR"


_CLASS_OF_CODE: Dict[str, Type[FaaSError]] = {
    "VALIDATION_ERROR": ValidationError,
    "RESOURCE_UNAVAILABLE": ResourceUnavailableError,
    "QUEUE_FULL": QueueFullError,
    "NOT_IMPLEMENTED": FaaSNotImplementedError,
    "NOT_FOUND": NotFoundError,
    "MERGE_CONFLICT": MergeConflictError,
    "CONFLICT": ConflictError,
    "AUTH_ERROR": AuthError,
    "RATE_LIMIT_EXCEEDED": RateLimitError,
    "QUOTA_EXCEEDED": QuotaExceededError,
    "INSUFFICIENT_CREDIT": InsufficientCreditError,
    "EXECUTION_ERROR": ExecutionError,
    "TIMEOUT": FaaSTimeoutError,
    "SANDBOX_ERROR": SandboxError,
    "SHUTTING_DOWN": ShuttingDownError,
    "INTERNAL_ERROR": InternalError,
}

# Used only when a body has no usable code (a proxy's HTML page, an empty 502...). The same
# table and rule as the TypeScript SDK's (sdk/typescript/src/errors.ts; a test compares them):
# another 5xx is INTERNAL_ERROR, another 4xx VALIDATION_ERROR (the request was refused).
_CODE_OF_STATUS: Dict[int, str] = {
    400: "VALIDATION_ERROR",
    401: "AUTH_ERROR",
    402: "INSUFFICIENT_CREDIT",
    403: "AUTH_ERROR",
    404: "NOT_FOUND",
    409: "CONFLICT",
    422: "EXECUTION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
    501: "NOT_IMPLEMENTED",
    503: "SHUTTING_DOWN",
    504: "TIMEOUT",
}


def code_of_status(status: Optional[int]) -> str:
    """The error code an answer without a usable code stands for, by its HTTP status alone."""
    if status in _CODE_OF_STATUS:
        return _CODE_OF_STATUS[status]
    return "VALIDATION_ERROR" if status is not None and 400 <= status < 500 else "INTERNAL_ERROR"


def parse_iso_datetime(value: str) -> datetime:
    """An ISO 8601 time as an aware datetime (UTC when it has no offset).

    Why not plain ``fromisoformat``: before Python 3.11 it refuses the ``Z`` suffix that
    JavaScript's ``toISOString()`` writes.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _retry_after_seconds(headers: Optional[Mapping[str, str]]) -> Optional[float]:
    if not headers:
        return None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None  # the HTTP-date form: resetAt in the body says the same, better
    return None


def error_from_body(
    status: Optional[int],
    body: Any,
    headers: Optional[Mapping[str, str]] = None,
) -> FaaSError:
    """The typed error for an error answer: ``body`` is the parsed JSON (or anything else)."""
    data: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
    code = data.get("code") if isinstance(data.get("code"), str) else None
    if code is None:
        code = code_of_status(status)
    message = data.get("message") if isinstance(data.get("message"), str) else None
    if not message:
        message = f"HTTP {status}" if status else "unknown error"
    details: Dict[str, Any] = dict(data.get("details") or {}) if isinstance(data.get("details"), Mapping) else {}
    # The server puts `field` at the top level; older shapes kept it in details.
    field = data.get("field") if isinstance(data.get("field"), str) else details.get("field")
    cls = _CLASS_OF_CODE.get(code, FaaSError)
    common: Dict[str, Any] = {"code": code, "status": status, "field": field, "details": details}

    if cls is RateLimitError:
        reset_at: Optional[datetime] = None
        raw_reset = data.get("resetAt") or details.get("resetAt")
        if isinstance(raw_reset, str):
            try:
                reset_at = parse_iso_datetime(raw_reset)
            except ValueError:
                reset_at = None
        retry_after = _retry_after_seconds(headers)
        if reset_at is None and retry_after is not None:
            reset_at = datetime.now(timezone.utc) + timedelta(seconds=retry_after)
        return RateLimitError(message, reset_at=reset_at, retry_after=retry_after, **common)
    if cls is ExecutionError:
        exit_code = details.get("exitCode")
        return ExecutionError(
            message,
            stderr=str(details.get("stderr") or ""),
            exit_code=exit_code if isinstance(exit_code, int) else None,
            failure=details.get("failure") if isinstance(details.get("failure"), str) else None,
            **common,
        )
    return cls(message, **common)
