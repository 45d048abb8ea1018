"""What must not verify, and quorum. A hand-driven operator (the "rogue", an ed25519 account
with a registered ecdsa key) submits results of its choosing: signed with a key that is not its
registered one, with a full output its API tampers with, or disagreeing with the real operators;
an account registered for the blueprint but operating none of the services submits too."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Dict, List

import pytest

from faas_sdk.chain import ChainClient, EcdsaKeypair, JobUpdate, TangleFaaSClient, output_hash
from faas_sdk.exceptions import FaaSTimeoutError

from rogue import HandOperator, OutputServer


def report(env: Dict[str, str], **facts: object) -> None:
    path = env["FAAS_CHAIN_REPORT"]
    data = json.loads(open(path).read()) if os.path.exists(path) else {}
    data.update(facts)
    with open(path, "w") as f:
        f.write(json.dumps(data))


def client(env: Dict[str, str], service: str, **kw) -> TangleFaaSClient:  # type: ignore[no-untyped-def]
    return TangleFaaSClient(rpc_url=env["FAAS_CHAIN_RPC"], blueprint_id=int(env["FAAS_CHAIN_BLUEPRINT"]), account=env["FAAS_CHAIN_CALLER"], service_id=int(env[service]), **kw)


async def chain_of(env: Dict[str, str]) -> ChainClient:
    chain = ChainClient(env["FAAS_CHAIN_RPC"])
    await chain.connect()
    return chain


def test_a_result_signed_with_a_key_other_than_the_registered_one_fails(env: Dict[str, str]) -> None:
    updates: List[JobUpdate] = []

    async def main() -> None:
        chain = await chain_of(env)
        rogue = HandOperator(chain, env["FAAS_CHAIN_ROGUE"])
        try:
            async with client(env, "FAAS_CHAIN_ROGUE_SERVICE", job_update=updates.append) as faas:
                job = await faas.submit_job(code="print('signed')", language="python")
                await rogue.submit(int(env["FAAS_CHAIN_ROGUE_SERVICE"]), job, "signed\n", signer=EcdsaKeypair.from_uri("//Foreign"))
                # The service's only operator answered (wrongly): resolved at once, not at the timeout.
                t0 = time.monotonic()
                r0 = await faas.wait_for_result(job, timeout=60)
                assert time.monotonic() - t0 < 30
                assert (r0.verified, r0.operators) == (False, [])
                assert "no quorum: 0 of the 1" in (r0.verification_error or "") and f"{rogue.address}: the signature does not check" in (r0.verification_error or "")
                bad = [u.operator_result for u in updates if u.status == "result"]
                assert [(x.operator, x.trusted, x.verified) for x in bad if x] == [(rogue.address, True, False)]
                assert "signature does not check" in (bad[0].verification_error or "")
                assert [x.verification_error for x in r0.rejected] == [bad[0].verification_error]
                # The same operator's properly signed result for the call verifies (the control;
                # read from its own block on, as the wrong one before it already answered).
                good = await rogue.submit(int(env["FAAS_CHAIN_ROGUE_SERVICE"]), job, "signed\n")
                r = await faas.wait_for_result(job, timeout=30, from_block=good.block_number)
                assert (r.verified, r.stdout, r.operators) == (True, "signed\n", [rogue.address])
        finally:
            await chain.close()

    asyncio.run(main())


def test_a_tampered_full_output_from_the_operators_api_fails(env: Dict[str, str]) -> None:
    server = OutputServer(int(env["FAAS_CHAIN_ROGUE_API_PORT"]))

    async def main() -> None:
        chain = await chain_of(env)
        rogue = HandOperator(chain, env["FAAS_CHAIN_ROGUE"])
        try:
            async with client(env, "FAAS_CHAIN_ROGUE_SERVICE") as faas:
                job = await faas.submit_job(code="print('genuine ' * 100)", language="python")
                genuine = "genuine " * 100 + "\n"
                h = output_hash(0, genuine, "")
                # Honest on-chain (a cut copy, the right hash, a valid signature); its API lies.
                receipt = await rogue.submit(int(env["FAAS_CHAIN_ROGUE_SERVICE"]), job, genuine)
                submitted = receipt.find("Services", "JobResultSubmitted")
                assert submitted is not None and submitted["result"][3] == {"Bool": False}
                server.outputs[h] = {"exitCode": 0, "stdout": "tampered " * 100 + "\n", "stderr": ""}
                seen: List[JobUpdate] = []
                faas.on_job_update(seen.append)
                # Every operator of the service answered, none verified: resolved early, saying why.
                t0 = time.monotonic()
                early = await faas.wait_for_result(job, timeout=60)
                assert time.monotonic() - t0 < 30
                assert early.verified is False and f"{rogue.address}: output hash mismatch" in (early.verification_error or "")
                checked = [u.operator_result for u in seen if u.status == "result"][0]
                assert checked is not None and checked.verified is False
                assert "output hash mismatch" in (checked.verification_error or "")
                assert checked.stdout.startswith("tampered")
                # A wrong exit code in the full output is caught as well.
                server.outputs[h] = {"exitCode": 1, "stdout": genuine, "stderr": ""}
                wrong_exit = await faas.wait_for_result(job, timeout=60)
                assert wrong_exit.verified is False and "exit code 1 is not the result's 0" in (wrong_exit.verification_error or "")
                assert "exit code 1 is not the result's 0" in ([u.operator_result for u in seen if u.status == "result"][-1].verification_error or "")
                # Served honestly, the same on-chain result verifies.
                server.outputs[h] = {"exitCode": 0, "stdout": genuine, "stderr": ""}
                r = await faas.wait_for_result(job, timeout=30)
                assert (r.verified, r.complete, r.stdout) == (True, False, genuine)
        finally:
            await chain.close()

    try:
        asyncio.run(main())
    finally:
        server.close()


def test_a_result_from_an_account_that_does_not_operate_the_service_is_not_trusted(env: Dict[str, str]) -> None:
    async def main() -> None:
        chain = await chain_of(env)
        rogue = HandOperator(chain, env["FAAS_CHAIN_ROGUE"])
        outsider = HandOperator(chain, env["FAAS_CHAIN_OUTSIDER"])
        sid = int(env["FAAS_CHAIN_ROGUE_SERVICE"])
        try:
            async with client(env, "FAAS_CHAIN_ROGUE_SERVICE") as faas:
                job = await faas.submit_job(code="print('truth')", language="python")
                # Registered for the blueprint with a key of its own, and signing correctly with it:
                # the chain takes the result, the client does not.
                await outsider.submit(sid, job, "lies\n")
                with pytest.raises(FaaSTimeoutError, match="0 of 1"):
                    await faas.wait_for_result(job, timeout=3)
                await rogue.submit(sid, job, "truth\n")
                r = await faas.wait_for_result(job, timeout=30)
                assert (r.verified, r.stdout, r.operators) == (True, "truth\n", [rogue.address])
                assert [(x.operator, x.trusted, x.verified) for x in r.rejected] == [(outsider.address, False, False)]
                assert "is not an operator of service" in (r.rejected[0].verification_error or "")
        finally:
            await chain.close()

    asyncio.run(main())


def test_quorum_with_two_real_operators_and_a_third_that_dissents_or_agrees(env: Dict[str, str]) -> None:
    bob, dave = env["FAAS_CHAIN_BOB"], env["FAAS_CHAIN_DAVE"]
    sid = int(env["FAAS_CHAIN_QUORUM_SERVICE"])

    async def main() -> None:
        chain = await chain_of(env)
        rogue = HandOperator(chain, env["FAAS_CHAIN_ROGUE"])
        try:
            async with client(env, "FAAS_CHAIN_QUORUM_SERVICE") as faas:
                assert sorted((await faas.service()).operators) == sorted([bob, dave, rogue.address])
                # Default quorum of three operators: two. The real operators both answer.
                job = await faas.submit_job(code="print('honest')", language="python", mode="cached")
                r = await faas.wait_for_result(job, timeout=90)
                assert (r.verified, r.quorum, r.stdout) == (True, 2, "honest\n")
                assert set(r.operators) <= {bob, dave} and len(r.operators) == 2
                # The third signs a different output, genuinely: it is dissent, and a quorum of
                # all three cannot be reached.
                await rogue.submit(sid, job, "forged\n", image_hash=r.image_hash)
                three = await faas.wait_for_result(job, quorum=3, timeout=30)
                assert three.verified is False and "no quorum: 2 of the 3" in (three.verification_error or "")
                assert sorted(three.operators) == sorted([bob, dave])
                assert [(d.operator, d.stdout, d.verified) for d in three.dissent] == [(rogue.address, "forged\n", True)]

                # Another call: the third signs the same statement as the real operators.
                job2 = await faas.submit_job(code="print('agreed')", language="python", mode="cached")
                first = await faas.wait_for_result(job2, timeout=90)
                assert first.verified
                await rogue.submit(sid, job2, first.stdout, first.stderr, first.exit_code, image_hash=first.image_hash)
                all_three = await faas.wait_for_result(job2, quorum=3, timeout=30)
                assert all_three.verified, all_three.verification_error
                assert sorted(all_three.operators) == sorted([bob, dave, rogue.address])
                assert all_three.dissent == [] and all_three.rejected == []
                report(env, dissentJob=job, agreedJob=job2)
        finally:
            await chain.close()

    asyncio.run(main())
