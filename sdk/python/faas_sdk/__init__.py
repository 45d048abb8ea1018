"""Python client of the FaaS operator's HTTP/WebSocket API.

    from faas_sdk import FaaSClient

    client = FaaSClient(api_key="...", endpoint="http://127.0.0.1:8080")
    result = client.execute("print('hello')", "python")
    print(result.stdout)

Errors are typed (see :mod:`faas_sdk.exceptions`); streaming (:meth:`FaaSClient.stream`,
:meth:`FaaSClient.execute_stream`) is asyncio-based and needs the ``websockets`` package.
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
    InternalError,
    MergeConflictError,
    ConflictError,
    NotFoundError,
    QueueFullError,
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

__all__ = [
    "__version__",
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
    "ExecutionError",
    "FaaSTimeoutError",
    "SandboxError",
    "ShuttingDownError",
    "InternalError",
    "FaaSConnectionError",
]
