"""FaaSClient: run code on a FaaS operator over its HTTP/WebSocket API."""

from __future__ import annotations

import base64
import os
import re
import uuid
from datetime import date, datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import quote

from ._http import Transport
from .exceptions import ExecutionError
from .instances import InstancesAPI
from .models import CurrentUsage, ExecutionInfo, ExecutionResult, Language, Mode, UsageMetrics
from .streaming import ExecutionStream

__all__ = ["FaaSClient", "UsageAPI", "DEFAULT_ENDPOINT"]

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
# The sandbox's time limit when a request gives none (the server's default).
DEFAULT_PROGRAM_TIMEOUT_MS = 30_000

Bytes = Union[str, bytes]
DateLike = Union[str, date, datetime]

_CAMEL_RE = re.compile(r"_([a-z])")


def _wire_bytes(value: Bytes) -> Union[str, Dict[str, str]]:
    """Text goes as a JSON string; bytes as ``{"base64": ...}`` so that any byte survives JSON."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, str):
        return value
    raise TypeError(f"expected str or bytes, got {type(value).__name__}")


def _camel(name: str) -> str:
    return _CAMEL_RE.sub(lambda m: m.group(1).upper(), name)


def _wire_date(value: DateLike) -> str:
    if isinstance(value, datetime):
        # The server wants an offset on date-times; a naive one is taken as UTC.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return aware.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _seg(value: str) -> str:
    # Ids are the server's, but quoting keeps a stray '/' or '?' from changing the route.
    return quote(value, safe="")


class UsageAPI:
    """``client.usage``: what this API key has used and may still use."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def get_current(self) -> CurrentUsage:
        """Totals of the current billing period, balance, active executions and rate-limit state."""
        return CurrentUsage.from_json(self._transport.request("GET", "/v1/usage/current").body)

    def get_metrics(self, start_date: Optional[DateLike] = None, end_date: Optional[DateLike] = None) -> UsageMetrics:
        """Totals over ``[start_date, end_date]`` with one entry per UTC day.

        Dates may be ``date``, ``datetime`` (naive = UTC) or ISO strings; the server picks the
        bounds left out.
        """
        query: Dict[str, str] = {}
        if start_date is not None:
            query["startDate"] = _wire_date(start_date)
        if end_date is not None:
            query["endDate"] = _wire_date(end_date)
        return UsageMetrics.from_json(self._transport.request("GET", "/v1/usage/metrics", query=query).body)


class FaaSClient:
    """A client of one FaaS operator's API.

    Args:
        api_key: the API key; defaults to the ``FAAS_API_KEY`` environment variable. A missing
            key raises :class:`~faas_sdk.exceptions.AuthError` when a call is made.
        endpoint: the API's base URL; defaults to the ``FAAS_ENDPOINT`` environment variable,
            then ``http://127.0.0.1:8080``.
        timeout: seconds to wait for the connection and for each read of an answer. An
            ``execute`` also gets the program's own time limit on top (``timeout_ms``, 30 s
            when not given), since its answer comes only when the program ends.
        max_retries: how many times a failed call is sent again (0: never). Network errors,
            5xx and 429 are retried with exponential back-off and jitter (429 waits for the
            rate-limit window to reopen). A call that may have started an execution is never
            sent again: a POST is retried only when the server surely did not run it (the
            connection was refused, or it answered 429 / QUEUE_FULL / SHUTTING_DOWN).
        debug: log each request (method, path, status, milliseconds) on the ``faas_sdk``
            logger at DEBUG level.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        endpoint: Optional[str] = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        debug: bool = False,
    ) -> None:
        self._transport = Transport(
            api_key if api_key is not None else os.environ.get("FAAS_API_KEY"),
            endpoint or os.environ.get("FAAS_ENDPOINT") or DEFAULT_ENDPOINT,
            timeout,
            max_retries,
            debug,
        )
        self.usage = UsageAPI(self._transport)
        self.instances = InstancesAPI(self._transport)

    @property
    def endpoint(self) -> str:
        return self._transport.endpoint

    @property
    def timeout(self) -> float:
        return self._transport.timeout

    @property
    def max_retries(self) -> int:
        return self._transport.max_retries

    @property
    def debug(self) -> bool:
        return self._transport.debug

    def __repr__(self) -> str:  # never shows the key
        return f"FaaSClient(endpoint={self.endpoint!r}, timeout={self.timeout!r}, max_retries={self.max_retries!r})"

    # -- executions ------------------------------------------------------------------------

    def execute(
        self,
        code: str,
        language: Language,
        mode: Optional[Mode] = None,
        execution_id: Optional[str] = None,
        resources: Optional[Mapping[str, Any]] = None,
        env_vars: Optional[Mapping[str, str]] = None,
        files: Optional[Mapping[str, Bytes]] = None,
        stdin: Optional[Bytes] = None,
        throw_on_error: bool = False,
    ) -> ExecutionResult:
        """Run ``code`` and wait for its result.

        Args:
            code: the program's source.
            language: ``"python"``, ``"javascript"``, ``"typescript"``, ``"bash"`` or ``"go"``.
            mode: execution mode (the server's default is ``"ephemeral"``).
            execution_id: run inside an existing stateful context (stateful modes).
            resources: ``cpu_cores``, ``memory_mb``, ``timeout_ms``, ``disk_mb``, ``gpu_count``
                (snake_case or the API's camelCase).
            env_vars: environment variables of the program.
            files: files put in the working directory, by relative path; ``str`` is written as
                UTF-8 text, ``bytes`` as is.
            stdin: the program's standard input.
            throw_on_error: raise :class:`~faas_sdk.exceptions.ExecutionError` when the
                program exits non-zero, instead of returning the result.

        Raises:
            ExecutionError: the program could not run (syntax/compile error, timeout, out of
                memory: ``failure`` says which), or exited non-zero with ``throw_on_error``.
            ValidationError, AuthError, RateLimitError, ...: the server refused the request.
        """
        body = self._execute_body(code, language, mode, execution_id, resources, env_vars, files, stdin)
        # The answer comes when the program ends: wait for its own limit on top of ours.
        program_limit_ms = body.get("resources", {}).get("timeoutMs", DEFAULT_PROGRAM_TIMEOUT_MS)
        wait_s = self.timeout + float(program_limit_ms) / 1000.0
        # A fresh key per call: a resend after a lost answer gets the same execution, not a second run.
        answer = self._transport.request("POST", "/v1/executions", body, timeout=wait_s, idempotency_key=uuid.uuid4().hex)
        result = ExecutionResult.from_json(answer.body)
        if result.failure is not None:
            raise _execution_error(result, f"The program could not run ({result.failure})")
        if throw_on_error and result.exit_code != 0:
            raise _execution_error(result, f"The program exited with {result.exit_code}", with_stderr=False)
        return result

    def start(
        self,
        code: str,
        language: Language,
        mode: Optional[Mode] = None,
        execution_id: Optional[str] = None,
        resources: Optional[Mapping[str, Any]] = None,
        env_vars: Optional[Mapping[str, str]] = None,
        files: Optional[Mapping[str, Bytes]] = None,
        stdin: Optional[Bytes] = None,
        interactive: bool = False,
        tty: Optional[Mapping[str, int]] = None,
    ) -> str:
        """Start ``code`` without waiting and return its execution id, to :meth:`stream` or
        :meth:`get_execution` later. ``interactive=True`` keeps stdin open for
        :meth:`ExecutionStream.send_input`; ``tty={"cols": 80, "rows": 24}`` gives it a terminal.
        Arguments as for :meth:`execute`.
        """
        body = self._execute_body(code, language, mode, execution_id, resources, env_vars, files, stdin)
        body["wait"] = False
        if interactive:
            body["interactive"] = True
        if tty is not None:
            body["tty"] = {"cols": int(tty["cols"]), "rows": int(tty["rows"])}
        info = ExecutionInfo.from_json(self._transport.request("POST", "/v1/executions", body, idempotency_key=uuid.uuid4().hex).body)
        return info.execution_id

    def get_execution(self, execution_id: str) -> ExecutionInfo:
        """An execution's status, with its result once completed.

        Raises:
            NotFoundError: no such execution for this API key.
        """
        return ExecutionInfo.from_json(self._transport.request("GET", f"/v1/executions/{_seg(execution_id)}").body)

    def stream(self, execution_id: str) -> ExecutionStream:
        """The events of a running (or finished) execution; output already printed is replayed
        first. Use with ``async with`` (to send input) or ``async for``."""
        return ExecutionStream(self._transport, execution_id=execution_id)

    def execute_stream(
        self,
        code: str,
        language: Language,
        mode: Optional[Mode] = None,
        execution_id: Optional[str] = None,
        resources: Optional[Mapping[str, Any]] = None,
        env_vars: Optional[Mapping[str, str]] = None,
        files: Optional[Mapping[str, Bytes]] = None,
        stdin: Optional[Bytes] = None,
        interactive: bool = True,
        tty: Optional[Mapping[str, int]] = None,
    ) -> ExecutionStream:
        """:meth:`start` then :meth:`stream`: the execution starts when the stream is opened
        (``async with`` or the first ``async for`` step). It starts ``interactive`` unless told
        otherwise, so that :meth:`ExecutionStream.send_input` reaches the program; nothing
        printed before the socket opens is lost (the server replays it)."""

        def starter() -> str:
            return self.start(code, language, mode, execution_id, resources, env_vars, files, stdin, interactive, tty)

        return ExecutionStream(self._transport, starter=starter)

    # -- snapshots and branches ---------------------------------------------------------------

    def create_snapshot(self, execution_id: str) -> Dict[str, Any]:
        """Snapshot a stateful context (the ``execution_id`` of an execution in mode
        ``checkpointed``, ``branched`` or ``persistent``, or of a later run in it): its files and,
        for python, its interpreter memory. Returns ``{id, executionId, createdAt, sizeBytes,
        hasMemory, contentHash, language}``.

        Raises:
            NotFoundError: no such context for this API key.
        """
        return self._post_json("/v1/snapshots", {"executionId": execution_id})

    def get_snapshot(self, snapshot_id: str) -> Dict[str, Any]:
        return self._transport.request("GET", f"/v1/snapshots/{_seg(snapshot_id)}").body  # type: ignore[no-any-return]

    def list_snapshots(self) -> List[Dict[str, Any]]:
        return list(self._transport.request("GET", "/v1/snapshots").body["snapshots"])

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete a snapshot; its stored files go when no other snapshot shares them."""
        self._transport.request("DELETE", f"/v1/snapshots/{_seg(snapshot_id)}")

    def restore_snapshot(self, snapshot_id: str) -> Dict[str, Any]:
        """A new context with the snapshot's files and memory: ``{executionId, snapshotId,
        hasMemory}``; run code in it with ``execute(..., execution_id=...)``."""
        return self._post_json(f"/v1/snapshots/{_seg(snapshot_id)}/restore", {})

    def create_branch(self, snapshot_id: str) -> Dict[str, Any]:
        """A new, independent context from a snapshot: ``{id, executionId, snapshotId, hasMemory}``."""
        return self._post_json("/v1/branches", {"snapshotId": snapshot_id})

    def merge_branches(self, branch_ids: Sequence[str], strategy: str = "fail") -> Dict[str, Any]:
        """Three-way merge of branches of one snapshot into a new snapshot (memory from the base
        snapshot: ``memoryFrom: 'base'``).

        Raises:
            MergeConflictError: with ``strategy="fail"``, paths two branches changed differently
                (``conflicts``); nothing was created. ``"ours"``: the earlier branch in the list
                wins; ``"theirs"``: the later one.
        """
        return self._post_json("/v1/branches/merge", {"branchIds": list(branch_ids), "strategy": strategy})

    # -- escape hatch ----------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, query: Optional[Mapping[str, str]] = None) -> Any:
        """Call any API route (e.g. ``"GET", "/v1/instances"``) with the client's auth, retries
        and error mapping; returns the parsed JSON answer. For routes the SDK does not wrap yet."""
        return self._transport.request(method, path, body, query).body

    # -- internals -------------------------------------------------------------------------

    def _post_json(self, path: str, body: Mapping[str, Any]) -> Dict[str, Any]:
        answer = self._transport.request("POST", path, dict(body)).body
        return answer if isinstance(answer, dict) else {"value": answer}

    @staticmethod
    def _execute_body(
        code: str,
        language: str,
        mode: Optional[str],
        execution_id: Optional[str],
        resources: Optional[Mapping[str, Any]],
        env_vars: Optional[Mapping[str, str]],
        files: Optional[Mapping[str, Bytes]],
        stdin: Optional[Bytes],
    ) -> Dict[str, Any]:
        # Only what the caller gave is sent: the server owns the defaults, so they live in one place.
        body: Dict[str, Any] = {"code": code, "language": language}
        if mode is not None:
            body["mode"] = mode
        if execution_id is not None:
            body["executionId"] = execution_id
        if resources is not None:
            body["resources"] = {_camel(k): v for k, v in resources.items()}
        if env_vars is not None:
            body["envVars"] = dict(env_vars)
        if files is not None:
            body["files"] = {name: _wire_bytes(content) for name, content in files.items()}
        if stdin is not None:
            body["stdin"] = _wire_bytes(stdin)
        return body


def _execution_error(result: ExecutionResult, headline: str, with_stderr: bool = True) -> ExecutionError:
    # The end of stderr, where Python and Node put the error itself after the trace (as the
    # TypeScript SDK does: last 3 lines, at most 500 characters).
    tail = " ".join(result.stderr.strip().split("\n")[-3:])[:500] if with_stderr else ""
    return ExecutionError(
        f"{headline}: {tail}" if tail else headline,
        stderr=result.stderr,
        exit_code=result.exit_code,
        failure=result.failure,
        result=result,
    )
