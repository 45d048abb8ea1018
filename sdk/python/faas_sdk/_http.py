"""The HTTP transport: one JSON request with retries, on the standard library's http.client.

http.client rather than urllib because the retry rule needs to know *where* a request failed:
an error while connecting means the server never saw the request (safe to send again, even a
POST that starts an execution), while an error after the request was sent means it may have
run (a POST is then never sent again, or one call could run the user's code twice).
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional
from urllib.parse import urlencode, urlsplit

from ._version import __version__
from .exceptions import (
    AuthError,
    FaaSConnectionError,
    FaaSError,
    FaaSTimeoutError,
    RateLimitError,
    error_from_body,
)

logger = logging.getLogger("faas_sdk")

# Back-off between attempts: BASE * 2**attempt, capped, times a random factor in [0.5, 1] so
# that many clients failing together do not come back in lock-step.
# The same numbers as the TypeScript SDK.
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 10.0

# Server answers that mean "nothing was started, the same request can succeed later". They are
# the only error answers on which a non-idempotent POST is sent again.
_NOT_STARTED_CODES = frozenset({"RATE_LIMIT_EXCEEDED", "QUEUE_FULL", "SHUTTING_DOWN"})
# Statuses on which a GET (harmless to repeat) is retried. 501 is left out: asking again for a
# feature that does not exist cannot help.
_RETRY_STATUSES_IDEMPOTENT = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


class _NotSent(Exception):
    """A network error raised before any byte of the request left: always safe to retry."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Transport:
    def __init__(self, api_key: Optional[str], endpoint: str, timeout: float, max_retries: int, debug: bool) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint must be an http(s) URL such as http://127.0.0.1:8080, got {endpoint!r}")
        if timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.api_key = api_key
        self.endpoint = endpoint.rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.debug = debug
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")
        if debug:
            _enable_debug_logging()

    # -- public --------------------------------------------------------------------------

    def auth_header(self) -> Dict[str, str]:
        if not self.api_key:
            # Raised at call time, not in the constructor, so a client can be built before the
            # key is known (e.g. in a module's globals) and fail only where it is used.
            raise AuthError(
                "No API key: pass FaaSClient(api_key=...) or set the FAAS_API_KEY environment variable."
            )
        return {"Authorization": f"Bearer {self.api_key}"}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        idempotency_key: Optional[str] = None,
    ) -> Response:
        """Send one JSON request, retrying as the rules allow; an error answer raises its FaaSError.

        ``timeout`` overrides the client's for this call (an execute waits for the program).
        ``idempotency_key`` is sent as ``Idempotency-Key``: the server answers a resent request
        with the same execution instead of running it again, so such a POST is retried like a GET."""
        method = method.upper()
        wait_s = timeout if timeout is not None else self.timeout
        headers = {
            **self.auth_header(),
            "Accept": "application/json",
            "User-Agent": f"faas-sdk-python/{__version__}",
        }
        payload: Optional[bytes] = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        target = self._base_path + path
        if query:
            target += "?" + urlencode(query)
        idempotent = method in ("GET", "HEAD", "OPTIONS") or idempotency_key is not None

        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self._send_once(method, target, payload, headers, wait_s)
            except _NotSent as e:
                self._log(method, path, "connection refused" if isinstance(e.cause, ConnectionRefusedError) else "not sent", started)
                # A certificate problem will not go away by asking again.
                if attempt < self.max_retries and not isinstance(e.cause, ssl.SSLError):
                    time.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise FaaSConnectionError(f"Could not connect to {self.endpoint}: {e.cause}") from e.cause
            except (socket.timeout, TimeoutError) as e:
                self._log(method, path, "timeout", started)
                if idempotent and attempt < self.max_retries:
                    time.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise FaaSTimeoutError(
                    f"{method} {path}: no answer from {self.endpoint} within {wait_s:g} s"
                    + ("" if idempotent else "; the request may still have run on the server (it is not retried)")
                ) from e
            except (OSError, http.client.HTTPException) as e:
                # Broken after the request went out: for a POST it may have run, so not retried.
                self._log(method, path, f"connection error ({type(e).__name__})", started)
                if idempotent and attempt < self.max_retries:
                    time.sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise FaaSConnectionError(
                    f"Connection to {self.endpoint} broke during {method} {path}: {e}"
                    + ("" if idempotent else "; the request may have run on the server (it is not retried)")
                ) from e

            self._log(method, path, str(response.status), started)
            if 200 <= response.status < 300:
                return response
            error = error_from_body(response.status, response.body, response.headers)
            body_code = response.body.get("code") if isinstance(response.body, dict) else None
            if attempt < self.max_retries and self._may_retry(error, idempotent, body_code == error.code):
                time.sleep(self._delay_for(error, attempt))
                attempt += 1
                continue
            raise error

    # -- internals -----------------------------------------------------------------------

    def _send_once(
        self, method: str, target: str, payload: Optional[bytes], headers: Mapping[str, str], timeout: float
    ) -> Response:
        conn: http.client.HTTPConnection
        if self._scheme == "https":
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        try:
            try:
                conn.connect()
            except OSError as e:
                # Refused, unreachable, DNS failure, or no TCP handshake in time: the server
                # has not received a byte of this request.
                raise _NotSent(e) from e
            conn.request(method, target, body=payload, headers=dict(headers))
            raw = conn.getresponse()
            data = raw.read()
            resp_headers = {k.lower(): v for k, v in raw.getheaders()}
            return Response(raw.status, _decode(data), resp_headers)
        finally:
            conn.close()

    @staticmethod
    def _may_retry(error: FaaSError, idempotent: bool, server_said_so: bool = True) -> bool:
        # "Not started" only on the server's own word: a code inferred from a bare status (a
        # proxy's 503 may come after it forwarded the request) does not make a POST safe to resend.
        if error.code in _NOT_STARTED_CODES and server_said_so:
            return True
        return idempotent and error.status in _RETRY_STATUSES_IDEMPOTENT and error.code != "NOT_IMPLEMENTED"

    def _delay_for(self, error: FaaSError, attempt: int) -> float:
        """Seconds to wait before the next attempt."""
        if isinstance(error, RateLimitError):
            wait = (error.reset_at - datetime.now(timezone.utc)).total_seconds()
            if error.retry_after is not None:
                wait = max(wait, error.retry_after)
            # Wait for the window to reopen (as the TypeScript SDK does), but never less than
            # the back-off, whose jitter keeps a crowd of clients from coming back together.
            return max(wait, self._backoff(attempt))
        return self._backoff(attempt)

    @staticmethod
    def _backoff(attempt: int) -> float:
        return float(min(BACKOFF_CAP_S, BACKOFF_BASE_S * (2**attempt)) * random.uniform(0.5, 1.0))

    def _log(self, method: str, path: str, status: str, started: float) -> None:
        if self.debug:
            # Never the body or headers: they carry the API key and the user's code.
            logger.debug("%s %s -> %s (%d ms)", method, path, status, (time.monotonic() - started) * 1000)


def _decode(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return data.decode("utf-8", errors="replace")


def _enable_debug_logging() -> None:
    # debug=True should show something without the caller configuring logging, but must not
    # override a configuration the application already made.
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.DEBUG)
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger.addHandler(handler)
