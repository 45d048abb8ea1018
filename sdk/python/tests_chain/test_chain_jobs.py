"""Jobs submitted from Python with an ed25519 account, answered by a real operator (the
TypeScript operator with the Docker engine) and verified: the statement, its signature against
the operator's registered key, and the whole output — fetched from the operator's API when the
chain holds a cut copy."""

from __future__ import annotations

import asyncio
import json
import os
import re
from typing import Dict, List

import pytest

from faas_sdk.chain import JobUpdate, TangleFaaSClient, output_hash
from faas_sdk.exceptions import ValidationError

HASH = re.compile(r"^0x[0-9a-f]{64}$")


def client(env: Dict[str, str], **kw) -> TangleFaaSClient:  # type: ignore[no-untyped-def]
    return TangleFaaSClient(rpc_url=env["FAAS_CHAIN_RPC"], blueprint_id=int(env["FAAS_CHAIN_BLUEPRINT"]), account=env["FAAS_CHAIN_CALLER"], **kw)


def report(env: Dict[str, str], **facts: object) -> None:
    path = env["FAAS_CHAIN_REPORT"]
    data = json.loads(open(path).read()) if os.path.exists(path) else {}
    data.update(facts)
    with open(path, "w") as f:
        f.write(json.dumps(data))


def test_a_job_submitted_from_python_is_answered_and_verified(env: Dict[str, str]) -> None:
    updates: List[JobUpdate] = []

    async def main() -> None:
        # No service id: the client finds the lowest-numbered service of the blueprint it may call.
        async with client(env, job_update=updates.append) as faas:
            assert (await faas.service()).service_id == int(env["FAAS_CHAIN_SERVICE"])
            job_id = await faas.submit_job(code="import sys\nprint(6 * 7)\nprint(sys.stdin.read().upper(), end='')", language="python", mode="cached", stdin="from stdin\n")
            r = await faas.wait_for_result(job_id, timeout=90)
            assert (r.exit_code, r.stdout, r.stderr, r.complete) == (0, "42\nFROM STDIN\n", "", True)
            assert r.verified, r.verification_error
            assert r.output_hash == output_hash(0, "42\nFROM STDIN\n", "")
            assert HASH.match(r.image_hash)
            assert r.operators == [env["FAAS_CHAIN_BOB"]] and r.operator == env["FAAS_CHAIN_BOB"]
            assert (r.quorum, r.dissent, r.rejected) == (1, [], [])
            report(env, honestJob=job_id)

    asyncio.run(main())
    statuses = [u.status for u in updates]
    assert statuses[0] == "submitted" and statuses[-1] == "completed"
    results = [u.operator_result for u in updates if u.status == "result"]
    assert [(x.operator, x.verified, x.trusted) for x in results if x] == [(env["FAAS_CHAIN_BOB"], True, True)]
    assert updates[-1].result is not None and updates[-1].result.verified


def test_a_long_output_is_fetched_from_the_operators_api_and_checked(env: Dict[str, str]) -> None:
    async def main() -> None:
        async with client(env) as faas:
            job_id = await faas.submit_job(code="print('é' * 700)\nimport sys\nprint('warn ' * 100, file=sys.stderr)\nraise SystemExit(3)", language="python", env_vars={"X": "1"}, resources={"timeout_ms": 20_000})
            r = await faas.wait_for_result(job_id, timeout=90)
            assert r.complete is False  # the chain holds the first 256 bytes of each
            assert (r.exit_code, r.stdout, r.stderr) == (3, "é" * 700 + "\n", "warn " * 100 + "\n")
            assert r.verified, r.verification_error

    asyncio.run(main())


def test_updates_as_an_async_iterator_and_a_result_waited_for_by_another_client(env: Dict[str, str]) -> None:
    async def main() -> None:
        async with client(env) as faas:
            seen: List[str] = []
            stream = faas.job_updates()  # receives updates from here on

            async def follow() -> None:
                async for u in stream:
                    seen.append(u.status)
                    if u.status in ("completed", "failed"):
                        stream.close()

            watcher = asyncio.ensure_future(follow())
            job_id = await faas.submit_job(code="echo from bash", language="bash")
            of_this_job = faas.job_updates(job_id)  # one job's: ends after its completed/failed
            r = await faas.wait_for_result(job_id, timeout=90)
            await asyncio.wait_for(watcher, 10)
            assert r.verified and r.stdout == "from bash\n"
            assert seen[0] == "submitted" and "result" in seen and seen[-1] == "completed"
            statuses = [u.status async for u in of_this_job]
            assert statuses[-1] == "completed" and "result" in statuses and "submitted" not in statuses
        # A client that did not submit it finds the result in past blocks (explicit service id).
        async with client(env, service_id=int(env["FAAS_CHAIN_SERVICE"])) as other:
            again = await other.wait_for_result(job_id, timeout=30)
            assert (again.verified, again.stdout, again.signature) == (True, "from bash\n", r.signature)

    asyncio.run(main())


def test_bad_requests_are_refused_before_anything_is_sent(env: Dict[str, str]) -> None:
    async def main() -> None:
        async with client(env) as faas:
            with pytest.raises(ValidationError, match="code: is 2000 bytes"):
                await faas.submit_job(code="x" * 2000, language="python")
            with pytest.raises(ValidationError, match="quorum"):
                await faas.wait_for_result(0, quorum=2)
        async with TangleFaaSClient(env["FAAS_CHAIN_RPC"], 10_000, env["FAAS_CHAIN_CALLER"]) as nobody:
            with pytest.raises(ValidationError, match="no service of blueprint 10000"):
                await nobody.submit_job(code="print(1)", language="python")
        async with TangleFaaSClient(env["FAAS_CHAIN_RPC"], int(env["FAAS_CHAIN_BLUEPRINT"]), env["FAAS_CHAIN_OUTSIDER"], service_id=int(env["FAAS_CHAIN_SERVICE"])) as stranger:
            with pytest.raises(ValidationError, match="services.call failed: DispatchError.BadOrigin"):
                await stranger.submit_job(code="print(1)", language="python")

    asyncio.run(main())
