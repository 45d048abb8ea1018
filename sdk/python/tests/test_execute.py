"""execute(): the synchronous round trip against a real gateway."""

from __future__ import annotations

import pytest

from faas_sdk import ExecutionError, ExecutionResult, FaaSClient


def test_python_hello_world(client: FaaSClient) -> None:
    result = client.execute("print('hello from python')", "python")
    assert isinstance(result, ExecutionResult)
    assert result.stdout == "hello from python\n"
    assert result.exit_code == 0
    assert result.ok
    assert result.execution_id
    assert result.duration_ms > 0
    assert not result.timed_out and not result.oom_killed and not result.truncated
    assert result.usage.cpu_seconds >= 0


def test_bash_hello_world(client: FaaSClient) -> None:
    result = client.execute('echo "hello from $0-ish bash"; echo oops >&2', "bash")
    assert "hello from" in result.stdout
    assert result.stderr == "oops\n"
    assert result.exit_code == 0


def test_non_zero_exit_returns_the_result(client: FaaSClient) -> None:
    result = client.execute("import sys; print('partial'); sys.exit(3)", "python")
    assert result.exit_code == 3
    assert result.stdout == "partial\n"
    assert not result.ok
    assert result.failure is None


def test_non_zero_exit_raises_with_throw_on_error(client: FaaSClient) -> None:
    with pytest.raises(ExecutionError) as info:
        client.execute("echo bad >&2; exit 7", "bash", throw_on_error=True)
    err = info.value
    assert err.code == "EXECUTION_ERROR"
    assert err.exit_code == 7
    assert "bad" in err.stderr
    assert err.failure is None
    assert err.result is not None and err.execution_id


def test_syntax_error_raises_execution_error_with_stderr(client: FaaSClient) -> None:
    with pytest.raises(ExecutionError) as info:
        client.execute("def broken(:\n    pass\n", "python")
    err = info.value
    assert err.code == "EXECUTION_ERROR"
    assert err.failure == "compile"
    assert "SyntaxError" in err.stderr
    assert "SyntaxError" in str(err)


def test_files_text_and_bytes(client: FaaSClient) -> None:
    binary = bytes(range(256))
    code = (
        "data = open('data/blob.bin', 'rb').read()\n"
        "print(open('notes.txt').read().strip())\n"
        "print(len(data), data == bytes(range(256)))\n"
    )
    result = client.execute(code, "python", files={"notes.txt": "héllo text\n", "data/blob.bin": binary}, throw_on_error=True)
    assert result.stdout == "héllo text\n256 True\n"


def test_stdin_text_and_bytes(client: FaaSClient) -> None:
    code = "import sys; print(sys.stdin.read().upper(), end='')"
    assert client.execute(code, "python", stdin="line one\nline two\n").stdout == "LINE ONE\nLINE TWO\n"
    raw = client.execute("import sys; print(sys.stdin.buffer.read().hex())", "python", stdin=b"\x00\xff\x10")
    assert raw.stdout == "00ff10\n"


def test_env_vars_and_resources(client: FaaSClient) -> None:
    result = client.execute(
        "echo \"$GREETING\"",
        "bash",
        env_vars={"GREETING": "hi there"},
        resources={"memory_mb": 128, "timeout_ms": 10_000},
    )
    assert result.stdout == "hi there\n"


def test_timeout_raises_execution_error(client: FaaSClient) -> None:
    with pytest.raises(ExecutionError) as info:
        client.execute("sleep 30", "bash", resources={"timeout_ms": 1000})
    assert info.value.failure == "timeout"
    assert info.value.result is not None and info.value.result.timed_out


def test_get_execution_after_execute(client: FaaSClient) -> None:
    result = client.execute("print(6 * 7)", "python")
    info = client.get_execution(result.execution_id)
    assert info.execution_id == result.execution_id
    assert info.status == "completed"
    assert info.language == "python"
    assert info.created_at is not None
    assert info.result is not None and info.result.stdout == "42\n"


def test_execute_sends_an_idempotency_key_so_a_lost_answer_is_resent_without_a_second_run(env: dict) -> None:
    c = FaaSClient(api_key=env["FAAS_API_KEY"], endpoint=env["FAAS_ENDPOINT"], timeout=90, max_retries=2)
    real_send = c._transport._send_once
    sent = []
    answers = []

    def lose_the_first_answer(method, target, payload, headers, timeout):  # type: ignore[no-untyped-def]
        sent.append(dict(headers))
        response = real_send(method, target, payload, headers, timeout)
        answers.append(response.body)
        if len(sent) == 1:
            raise ConnectionResetError("the answer was lost on the way back")
        return response

    before = c.usage.get_current().executions
    c._transport._send_once = lose_the_first_answer  # type: ignore[method-assign]
    result = c.execute("print('once')", "python")
    c._transport._send_once = real_send  # type: ignore[method-assign]
    assert len(sent) == 2
    key = sent[0].get("Idempotency-Key")
    assert key and sent[1].get("Idempotency-Key") == key
    # The resend got the very execution the lost answer was about, and it ran once.
    assert result.stdout == "once\n"
    assert result.execution_id == answers[0]["executionId"] == answers[1]["executionId"]
    assert c.usage.get_current().executions == before + 1
