"""Transactions signed in Python with ed25519 accounts, accepted by the node."""

from __future__ import annotations

import asyncio
from typing import Dict

import pytest

from faas_sdk.chain import ChainClient, DispatchFailure, Era, Keypair, RpcError
from faas_sdk.chain.hashing import blake2_256

TNT = 10**18


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def connected(env: Dict[str, str]) -> ChainClient:
    chain = ChainClient(env["FAAS_CHAIN_RPC"])
    await chain.connect()
    return chain


def test_transfer_signed_with_an_ed25519_account_is_accepted(env: Dict[str, str]) -> None:
    async def main() -> None:
        chain = await connected(env)
        try:
            caller = Keypair.from_uri(env["FAAS_CHAIN_CALLER"])
            payee = Keypair.from_uri("//PyPayee")
            before = (await chain.query("System", "Account", caller.address))["data"]["free"]
            receipt = await chain.sign_and_submit(caller, "Balances", "transfer_keep_alive", {"dest": payee.address, "value": 3 * TNT})
            transfer = receipt.find("Balances", "Transfer")
            assert transfer is not None
            assert (str(transfer["from"]), str(transfer["to"]), transfer["amount"]) == (caller.address, payee.address, 3 * TNT)
            fee = receipt.find("TransactionPayment", "TransactionFeePaid")["actual_fee"]
            assert fee > 0
            after = (await chain.query("System", "Account", caller.address, at=receipt.block_hash))["data"]["free"]
            assert before - after == 3 * TNT + fee
            assert (await chain.query("System", "Account", payee.address))["data"]["free"] == 3 * TNT
            assert receipt.find("System", "ExtrinsicSuccess") is not None
        finally:
            await chain.close()

    run(main())


def test_concurrent_sends_each_take_the_next_nonce(env: Dict[str, str]) -> None:
    async def main() -> None:
        chain = await connected(env)
        try:
            caller = Keypair.from_uri(env["FAAS_CHAIN_CALLER"])
            start = await chain.next_nonce(caller)
            receipts = await asyncio.gather(*(chain.sign_and_submit(caller, "System", "remark_with_event", {"remark": f"python {i}"}) for i in range(5)))
            assert len({r.extrinsic_hash for r in receipts}) == 5
            assert all(r.find("System", "Remarked") is not None for r in receipts)
            assert await chain.next_nonce(caller) == start + 5
            # Immortal transactions are accepted too.
            r = await chain.sign_and_submit(caller, "System", "remark", {"remark": b"\x00\xff immortal"}, mortal_period=None)
            assert r.find("System", "ExtrinsicSuccess") is not None
        finally:
            await chain.close()

    run(main())


def test_the_node_refuses_a_tampered_signature_and_another_chains_signature(env: Dict[str, str]) -> None:
    async def main() -> None:
        chain = await connected(env)
        try:
            rt = chain.runtime
            caller = Keypair.from_uri(env["FAAS_CHAIN_CALLER"])
            call = rt.encode_call("System", "remark", {"remark": "tampered"})
            nonce = await chain.next_nonce(caller)
            good = rt.sign_extrinsic(caller, call, nonce, Era.immortal())
            # The 64 signature bytes follow the length prefix, the version byte, MultiAddress::Id
            # (1 + 32 bytes) and the MultiSignature variant byte.
            head = 1 if good[0] & 3 == 0 else 2
            sig_at = head + 1 + 33 + 1
            bad = bytearray(good)
            bad[sig_at + 10] ^= 1
            with pytest.raises(RpcError, match="bad signature"):
                await chain.rpc.request("author_submitExtrinsic", ["0x" + bytes(bad).hex()])
            # Signed for another genesis: the payload differs, so the signature does not verify.
            saved = rt.genesis_hash
            rt.genesis_hash = blake2_256(b"another chain")
            try:
                foreign = rt.sign_extrinsic(caller, call, nonce, Era.immortal())
            finally:
                rt.genesis_hash = saved
            with pytest.raises(RpcError, match="bad signature"):
                await chain.rpc.request("author_submitExtrinsic", ["0x" + foreign.hex()])
            # The untampered one goes through.
            h = await chain.rpc.request("author_submitExtrinsic", ["0x" + good.hex()])
            assert h == "0x" + blake2_256(good).hex()
            for _ in range(100):  # sealed: the account's nonce moves on
                if await chain.next_nonce(caller) == nonce + 1:
                    break
                await asyncio.sleep(0.05)
            assert await chain.next_nonce(caller) == nonce + 1
        finally:
            await chain.close()

    run(main())


def test_a_failed_call_raises_with_the_pallet_error(env: Dict[str, str]) -> None:
    async def main() -> None:
        chain = await connected(env)
        try:
            caller = Keypair.from_uri(env["FAAS_CHAIN_CALLER"])
            with pytest.raises(DispatchFailure) as err:
                await chain.sign_and_submit(caller, "Services", "call", {"service_id": 2**63, "job": 0, "args": []})
            assert (err.value.pallet, err.value.error) == ("Services", "ServiceNotFound")
            # A nonce consumed by a failed call is still consumed: the next send works.
            r = await chain.sign_and_submit(caller, "System", "remark", {"remark": "after a failure"})
            assert r.find("System", "ExtrinsicSuccess") is not None
        finally:
            await chain.close()

    run(main())
