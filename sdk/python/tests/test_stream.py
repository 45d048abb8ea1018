"""Streaming over the WebSocket against a real gateway."""

from __future__ import annotations

import asyncio
import time
from typing import List, Tuple

import pytest

from faas_sdk import AuthError, FaaSClient, NotFoundError, StreamEvent

PRINT_SLEEP_PRINT = "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second', flush=True)\n"


async def _collect(stream) -> List[Tuple[float, StreamEvent]]:  # type: ignore[no-untyped-def]
    events: List[Tuple[float, StreamEvent]] = []
    async for event in stream:
        events.append((time.monotonic(), event))
    return events


def test_output_arrives_as_it_is_printed(client: FaaSClient) -> None:
    execution_id = client.start(PRINT_SLEEP_PRINT, "python")
    events = asyncio.run(_collect(client.stream(execution_id)))

    kinds = [e.type for _, e in events]
    assert kinds[-1] == "complete", kinds
    outputs = [(t, e) for t, e in events if e.type == "output"]
    assert outputs, kinds
    first_output_at = outputs[0][0]
    complete_at, complete = events[-1]
    assert "first" in outputs[0][1].data  # type: ignore[operator]
    assert first_output_at < complete_at
    # The 1 s sleep sits between the two prints: the first chunk cannot have waited for the end.
    assert complete_at - first_output_at >= 0.8, complete_at - first_output_at
    assert "".join(e.data or "" for _, e in outputs) == "first\nsecond\n"
    assert complete.exit_code == 0
    assert complete.result is not None and complete.result.stdout == "first\nsecond\n"


def test_execute_stream_with_stdin(client: FaaSClient) -> None:
    code = "line = input()\nprint('got:' + line[::-1], flush=True)\n"

    async def run() -> List[StreamEvent]:
        events: List[StreamEvent] = []
        async with client.execute_stream(code, "python", interactive=True) as stream:
            assert stream.execution_id
            await stream.send_input("olleh\n")
            async for event in stream:
                events.append(event)
        return events

    events = asyncio.run(asyncio.wait_for(run(), timeout=60))
    assert events[-1].type == "complete" and events[-1].exit_code == 0
    assert "got:hello" in "".join(e.data or "" for e in events if e.type == "output")


def test_stream_stderr_and_exit_code(client: FaaSClient) -> None:
    execution_id = client.start("echo out; echo err >&2; exit 4", "bash")

    async def run() -> List[StreamEvent]:
        return [e async for e in client.stream(execution_id)]

    events = asyncio.run(run())
    assert "err" in "".join(e.data or "" for e in events if e.type == "error")
    assert events[-1].type == "complete" and events[-1].exit_code == 4


def test_late_stream_replays_output(client: FaaSClient) -> None:
    result = client.execute("print('already done')", "python")

    async def run() -> List[StreamEvent]:
        return [e async for e in client.stream(result.execution_id)]

    events = asyncio.run(run())
    assert "already done" in "".join(e.data or "" for e in events if e.type == "output")
    assert events[-1].type == "complete"


def test_kill_over_the_stream(client: FaaSClient) -> None:
    async def run() -> Tuple[List[StreamEvent], float]:
        started = time.monotonic()
        events: List[StreamEvent] = []
        async with client.execute_stream("echo started; sleep 60", "bash") as stream:
            async for event in stream:
                events.append(event)
                if event.type == "output":
                    await stream.kill()
        return events, time.monotonic() - started

    events, elapsed = asyncio.run(asyncio.wait_for(run(), timeout=60))
    assert elapsed < 30
    assert events[-1].type in ("complete", "error")
    if events[-1].type == "complete":
        assert events[-1].exit_code != 0


def test_stream_of_another_keys_execution_is_not_found(client: FaaSClient, client2: FaaSClient) -> None:
    execution_id = client.start("print(1)", "python")

    async def run() -> None:
        async for _ in client2.stream(execution_id):
            pass

    with pytest.raises(NotFoundError):
        asyncio.run(run())


def test_stream_with_an_unknown_key_is_an_auth_error(client: FaaSClient) -> None:
    execution_id = client.start("print(1)", "python")
    stranger = FaaSClient(api_key="not-a-real-key", endpoint=client.endpoint)

    async def run() -> None:
        async with stranger.stream(execution_id):
            pass

    with pytest.raises(AuthError):
        asyncio.run(run())
