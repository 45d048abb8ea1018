# README: the Python snippets of the users' README (Quick Start, Real-time Streaming, Error
# Handling, Configuration), as written; changes are marked "README:". Run by
# test/sdk/package.test.ts in a virtualenv where `pip install ./sdk/python` put faas_sdk.
import os

from faas_sdk import FaaSClient

client = FaaSClient(api_key=os.environ["FAAS_API_KEY"])  # README: api_key='your-api-key'; the endpoint is FAAS_ENDPOINT

# Simple execution
result = client.execute(
    code='print("Hello World")',
    language='python'
)

print(result.stdout)

# README: Real-time Streaming needs a running execution
execution_id = client.start(code='echo out; echo err >&2; sleep 0.3; exit 4', language='bash')

import asyncio

seen = {"output": False, "error": False}  # README: to check what was printed


async def stream_output():
    async for event in client.stream(execution_id):
        if event.type == 'output':
            print(event.data, end='')
            seen["output"] = seen["output"] or event.data == "out\n"  # README
        elif event.type == 'error':
            print(f"Error: {event.error}")
            seen["error"] = seen["error"] or event.error == "err\n"  # README
        elif event.type == 'complete':
            print(f"Exit code: {event.exit_code}")
            print(f"SNIPPET stream exit={event.exit_code} output={seen['output']} error={seen['error']}")  # README

asyncio.run(stream_output())

from faas_sdk.exceptions import ExecutionError, RateLimitError

try:
    result = client.execute(
        code='invalid syntax',
        language='python'
    )
except ExecutionError as e:
    print(f"Execution failed: {e.message}")
    print(f"Stderr: {e.stderr}")
    print(f"SNIPPET error {type(e).__name__} {'SyntaxError' in e.stderr}")  # README
except RateLimitError as e:
    print(f"Rate limit exceeded, retry after: {e.reset_at}")

client = FaaSClient(
    api_key=os.environ["FAAS_API_KEY"],  # README: 'your-api-key'
    endpoint=os.environ["FAAS_ENDPOINT"],  # README: 'https://api.faas.platform'
    timeout=30,
    max_retries=3,
    debug=True
)
configured = client.execute(code='print("configured")', language='python')  # README: a call with it
print(f"SNIPPET config {configured.stdout!r}")  # README
