"""Python client of the FaaS operator's HTTP/WebSocket API.

    from faas_sdk import FaaSClient

    client = FaaSClient(api_key="...", endpoint="http://127.0.0.1:8080")
    result = client.execute("print('hello')", "python")
    print(result.stdout)

Errors are typed (see :mod:`faas_sdk.exceptions`); streaming (:meth:`FaaSClient.stream`,
:meth:`FaaSClient.execute_stream`) is asyncio-based and needs the ``websockets`` package.

Jobs on Tangle: :class:`TangleFaaSClient` (``faas_sdk.chain``; ed25519 accounts; needs Debian's
python3-websockets, python3-nacl, python3-xxhash and python3-cryptography), imported on first use.
"""

from ._version import __version__
from .client import DEFAULT_ENDPOINT, FaaSClient, UsageAPI
from .exceptions import (
    AuthError,
    ExecutionError,
    FaaSConnectionError,
    FaaSError,
    FaaSNotImplementedError,
    FaaSTimeoutError,
    InsufficientCreditError,
    InternalError,
    MergeConflictError,
    ConflictError,
    NotFoundError,
    QueueFullError,
    QuotaExceededError,
    RateLimitError,
    ResourceUnavailableError,
    SandboxError,
    ShuttingDownError,
    ValidationError,
)
from .models import (
    CurrentUsage,
    DailyUsage,
    ExecutionInfo,
    ExecutionResult,
    RateLimitStatus,
    ResourceUsage,
    StreamEvent,
    UsageMetrics,
)
from .streaming import ExecutionStream
from .instances import Exposure, Instance, InstanceExecResult, InstancesAPI, PortForward, SshInfo, SyncSummary

_CHAIN_NAMES = ("TangleFaaSClient", "TangleJobResult", "OperatorResult", "JobUpdate", "Keypair")


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    # The chain client needs packages the HTTP client does not: load it only when asked for.
    if name in _CHAIN_NAMES:
        from . import chain

        return getattr(chain, name)
    raise AttributeError(f"module 'faas_sdk' has no attribute {name!r}")


__all__ = [
    "__version__",
    *_CHAIN_NAMES,
    "DEFAULT_ENDPOINT",
    "FaaSClient",
    "UsageAPI",
    "ExecutionStream",
    "InstancesAPI",
    "Instance",
    "SshInfo",
    "Exposure",
    "InstanceExecResult",
    "PortForward",
    "SyncSummary",
    "ConflictError",
    "ExecutionResult",
    "ExecutionInfo",
    "ResourceUsage",
    "StreamEvent",
    "CurrentUsage",
    "RateLimitStatus",
    "UsageMetrics",
    "DailyUsage",
    "FaaSError",
    "ValidationError",
    "ResourceUnavailableError",
    "QueueFullError",
    "FaaSNotImplementedError",
    "NotFoundError",
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
]
