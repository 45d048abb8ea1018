"""Streaming an execution's output over the WebSocket ``/v1/executions/{id}/stream``.

Needs the ``websockets`` package (Debian: python3-websockets); it is imported only when a
stream is opened, so the synchronous client works without it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from types import TracebackType
from typing import Any, Callable, Dict, Optional, Tuple, Type
from urllib.parse import quote

from ._http import BACKOFF_BASE_S, BACKOFF_CAP_S, Transport, logger
from .exceptions import FaaSConnectionError, FaaSError, FaaSTimeoutError, error_from_body
from .models import StreamEvent

__all__ = ["ExecutionStream"]

# Handshake answers worth another try: nothing about them is specific to this request.
_RETRY_HANDSHAKE_STATUSES = frozenset({429, 502, 503, 504})
# Frames can carry the whole result in the `complete` event; websockets' 1 MiB default would
# refuse a large (but legal) output.
_MAX_FRAME_BYTES = 64 << 20


def _websockets_connect() -> Tuple[Callable[..., Any], str]:
    """The `connect` function and the name of its extra-headers argument.

    websockets renamed the argument when it moved to its new asyncio implementation (13+);
    Debian 12 ships 10.4, with the legacy one. Both are supported.
    """
    try:
        from websockets.asyncio.client import connect as new_connect  # type: ignore[import]

        return new_connect, "additional_headers"
    except ImportError:
        pass
    try:
        from websockets.client import connect as legacy_connect
    except ImportError as e:  # pragma: no cover - depends on the host
        raise ImportError(
            "Streaming needs the 'websockets' package (Debian: apt-get install python3-websockets)."
        ) from e
    return legacy_connect, "extra_headers"


def _handshake_error(exc: BaseException) -> Optional[FaaSError]:
    """The typed error for a refused WebSocket handshake (an HTTP error answer), else None."""
    response = getattr(exc, "response", None)  # websockets >= 13: InvalidStatus
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    if not isinstance(status, int):
        return None
    headers_obj: Any = getattr(exc, "headers", None) or getattr(response, "headers", None) or {}
    headers = {str(k).lower(): str(v) for k, v in headers_obj.items()} if hasattr(headers_obj, "items") else {}
    body: Any = None
    raw_body = getattr(response, "body", None)
    if raw_body:
        try:
            body = json.loads(raw_body)
        except (ValueError, TypeError):
            body = None
    if not isinstance(body, dict) or "message" not in body:
        # websockets 10 does not keep the body: fall back to the status's code with a message
        # that at least says where it came from.
        err = error_from_body(status, body, headers)
        err.message = f"stream handshake refused with HTTP {status}"
        return err
    return error_from_body(status, body, headers)


class ExecutionStream:
    """An open (or about to be opened) stream of one execution's events.

    Use it as an async context manager to send input while reading::

        async with client.stream(execution_id) as s:
            await s.send_input("hello\\n")
            async for event in s:
                print(event.type, event.data)

    or just iterate it (``async for event in client.stream(id)``); the connection closes
    after the ``complete`` event. Leaving early does not stop the execution: call
    :meth:`kill` for that.
    """

    def __init__(
        self,
        transport: Transport,
        execution_id: Optional[str] = None,
        starter: Optional[Callable[[], str]] = None,
    ) -> None:
        if execution_id is None and starter is None:
            raise ValueError("an execution id or a starter is needed")
        self._transport = transport
        self._execution_id = execution_id
        self._starter = starter
        self._ws: Any = None
        self._done = False
        self._closed_by_us = False
        self._failure_reported = False

    @property
    def execution_id(self) -> Optional[str]:
        """The execution's id; ``None`` until a stream made by ``execute_stream`` has started it."""
        return self._execution_id

    # -- connection ------------------------------------------------------------------------

    async def open(self) -> "ExecutionStream":
        """Start the execution (for ``execute_stream``) and connect. Called for you by
        ``async with`` and by the first ``async for`` step."""
        if self._ws is not None:
            return self
        headers = self._transport.auth_header()  # fails early, before any start, if no key
        if self._execution_id is None:
            assert self._starter is not None
            # The HTTP client is synchronous; a thread keeps the event loop free meanwhile.
            self._execution_id = await asyncio.to_thread(self._starter)
        connect, headers_kw = _websockets_connect()
        base = self._transport.endpoint
        ws_base = "wss://" + base[len("https://") :] if base.startswith("https://") else "ws://" + base[len("http://") :]
        url = f"{ws_base}/v1/executions/{quote(self._execution_id, safe='')}/stream"
        path = f"/v1/executions/{self._execution_id}/stream"

        attempt = 0
        while True:
            started = time.monotonic()
            try:
                self._ws = await connect(
                    url,
                    **{headers_kw: headers},
                    open_timeout=self._transport.timeout,
                    max_size=_MAX_FRAME_BYTES,
                )
                self._log(path, "101", started)
                return self
            except Exception as e:  # websockets raises several unrelated classes here
                error = _handshake_error(e)
                if error is not None:
                    self._log(path, str(error.status), started)
                    retry = error.status in _RETRY_HANDSHAKE_STATUSES
                elif isinstance(e, (OSError, asyncio.TimeoutError)):
                    # Connecting to a stream never starts anything, so every network failure
                    # is safe to retry.
                    self._log(path, f"connection error ({type(e).__name__})", started)
                    if isinstance(e, asyncio.TimeoutError):
                        error = FaaSTimeoutError(f"No WebSocket handshake with {base} within {self._transport.timeout:g} s")
                    else:
                        error = FaaSConnectionError(f"Could not open the stream at {url}: {e}")
                    retry = True
                else:
                    raise
                if not retry or attempt >= self._transport.max_retries:
                    raise error from e
                await asyncio.sleep(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt) * random.uniform(0.5, 1.0))
                attempt += 1

    async def close(self) -> None:
        """Disconnect. The execution keeps running (use :meth:`kill` to stop it)."""
        if self._ws is not None:
            self._closed_by_us = True
            await self._ws.close()

    async def __aenter__(self) -> "ExecutionStream":
        return await self.open()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    # -- events ----------------------------------------------------------------------------

    def __aiter__(self) -> "ExecutionStream":
        return self

    async def __anext__(self) -> StreamEvent:
        if self._done:
            raise StopAsyncIteration
        await self.open()
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                frame = await self._ws.recv()
            except ConnectionClosed as e:
                self._done = True
                # After an `error` event that carried the failure, the close is the expected end
                # of a failed execution, not a broken connection.
                if self._closed_by_us or self._failure_reported:
                    raise StopAsyncIteration from None
                raise self._closed_error(e) from e
            if isinstance(frame, bytes):
                continue  # the protocol is JSON text frames; anything else is not for us
            try:
                payload = json.loads(frame)
            except ValueError:
                continue
            event = StreamEvent.from_json(payload)
            if event.type == "error" and isinstance(event.error, FaaSError):
                self._failure_reported = True
            if event.type == "complete":
                # The server closes after `complete`; closing here too frees the socket at once
                # even when the caller stops iterating right after this event.
                self._done = True
                await self.close()
            return event

    def _closed_error(self, e: Any) -> FaaSError:
        """Why the stream ended before `complete`: the server's typed error when its close
        reason carries one (`{code, message}`), else a connection error."""
        rcvd = getattr(e, "rcvd", None)
        code = getattr(rcvd, "code", None) if rcvd is not None else getattr(e, "code", None)
        reason = getattr(rcvd, "reason", None) if rcvd is not None else getattr(e, "reason", None)
        if reason:
            try:
                body = json.loads(reason)
            except ValueError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("code"), str):
                return error_from_body(None, body)
        return FaaSConnectionError(
            f"The stream of execution {self._execution_id} closed before it completed"
            f" (close code {code}{', ' + reason if reason else ''}); the execution may still be running."
        )

    # -- input -----------------------------------------------------------------------------

    async def send_input(self, data: str) -> None:
        """Write ``data`` to the program's stdin (start it with ``interactive=True``)."""
        await self._send({"type": "stdin", "data": data})

    async def close_input(self) -> None:
        """Close the program's stdin (it then reads end-of-file)."""
        await self._send({"type": "stdin_close"})

    async def resize(self, cols: int, rows: int) -> None:
        """Resize the program's terminal (for executions started with ``tty``)."""
        await self._send({"type": "resize", "cols": cols, "rows": rows})

    async def kill(self) -> None:
        """Stop the execution; the stream then ends with its ``complete`` event."""
        await self._send({"type": "kill"})

    async def _send(self, message: Dict[str, Any]) -> None:
        await self.open()
        await self._ws.send(json.dumps(message))

    def _log(self, path: str, status: str, started: float) -> None:
        if self._transport.debug:
            logger.debug("WS %s -> %s (%d ms)", path, status, (time.monotonic() - started) * 1000)
