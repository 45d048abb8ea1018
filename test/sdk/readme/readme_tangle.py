# README: Tangle/Polkadot Integration (Python), against the local Tangle services node with an
# operator serving the FaaS blueprint's service. The README's top-level awaits run in one
# coroutine (asyncio.run); changes are marked "README:".
import asyncio
import json
import os

from faas_sdk import TangleFaaSClient


async def main() -> None:  # README: the snippet's awaits need a coroutine
    account = os.environ["FAAS_TANGLE_PY_ACCOUNT"]  # README: a permitted caller's secret URI (an ed25519 account)

    tangle_client = TangleFaaSClient(
        rpc_url=os.environ["FAAS_TANGLE_RPC"],  # README: 'wss://tangle.network'; the local node here
        blueprint_id=int(os.environ["FAAS_TANGLE_BLUEPRINT"]),  # README: 123
        account=account
    )

    # Submit job
    job_id = await tangle_client.submit_job(
        code='print("Blockchain verified")',
        language='python'
    )

    # Wait for result
    result = await tangle_client.wait_for_result(job_id)
    print(f"Verified: {result.stdout}")

    print("SNIPPET tangle", json.dumps(result.stdout), result.verified)  # README
    await tangle_client.close()  # README: so the process ends


asyncio.run(main())  # README
