"""Substrate JSON-RPC over WebSocket (asyncio, Debian's python3-websockets): requests,
subscriptions, and a chain client on top — runtime from the node's metadata, storage queries,
events of a block, signed transactions watched into a block, and finalized blocks in order."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import websockets

from ..exceptions import FaaSConnectionError, FaaSError, FaaSTimeoutError
from .hashing import blake2_256
from .runtime import Era, Event, Runtime

__all__ = ["RpcError", "RpcClient", "Subscription", "ChainClient", "Receipt", "TransactionRejected"]


class RpcError(FaaSError):
    """The node answered a request with an error (``details``: its code and data)."""

    default_code = "INTERNAL_ERROR"


class TransactionRejected(FaaSError):
    """The node refused a transaction (bad signature, nonce, era, funds…) or dropped it."""

    default_code = "VALIDATION_ERROR"


class Subscription:
    """Notifications of one subscription; ``async for item in sub`` and ``await sub.unsubscribe()``."""

    def __init__(self, client: "RpcClient", sub_id: Any, unsubscribe_method: str) -> None:
        self._client = client
        self.id = sub_id
        self._unsubscribe = unsubscribe_method
        self.queue: "asyncio.Queue[Any]" = asyncio.Queue()
        self.closed = False

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> Any:
        if self.closed and self.queue.empty():
            raise StopAsyncIteration
        item = await self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    async def next(self, timeout: Optional[float] = None) -> Any:
        return await asyncio.wait_for(self.__anext__(), timeout)

    async def unsubscribe(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._client._subs.pop(self.id, None)
        try:
            await self._client.request(self._unsubscribe, [self.id])
        except (FaaSError, OSError):
            pass  # the connection is gone: nothing to stop


class RpcClient:
    """One WebSocket connection to a node."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        self.url = url
        self.timeout = timeout
        self._ws: Any = None
        self._ids = itertools.count(1)
        self._pending: Dict[int, "asyncio.Future[Any]"] = {}
        self._subs: Dict[Any, Subscription] = {}
        self._early: Dict[Any, List[Any]] = {}  # notifications that beat their subscribe answer
        self._reader: Optional["asyncio.Task[None]"] = None

    async def connect(self) -> None:
        try:
            self._ws = await websockets.connect(self.url, max_size=None, open_timeout=self.timeout)
        except (OSError, asyncio.TimeoutError, websockets.InvalidURI, websockets.InvalidHandshake) as err:
            raise FaaSConnectionError(f"cannot connect to {self.url}: {err}") from err
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self._ws = None

    async def _read(self) -> None:
        error: BaseException = FaaSConnectionError(f"the connection to {self.url} closed")
        try:
            async for message in self._ws:
                msg = json.loads(message)
                if "id" in msg and msg["id"] in self._pending:
                    fut = self._pending.pop(msg["id"])
                    if fut.done():
                        continue
                    if "error" in msg:
                        e = msg["error"]
                        fut.set_exception(RpcError(f"{e.get('message')}" + (f": {e.get('data')}" if e.get("data") is not None else ""), details=e))
                    else:
                        fut.set_result(msg.get("result"))
                elif "params" in msg and isinstance(msg["params"], dict) and "subscription" in msg["params"]:
                    sid = msg["params"]["subscription"]
                    sub = self._subs.get(sid)
                    if sub is not None:
                        sub.queue.put_nowait(msg["params"].get("result"))
                    else:
                        self._early.setdefault(sid, []).append(msg["params"].get("result"))
        except websockets.ConnectionClosed as err:
            error = FaaSConnectionError(f"the connection to {self.url} closed: {err}")
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(error)
            self._pending.clear()
            for sub in self._subs.values():
                sub.closed = True
                sub.queue.put_nowait(error)

    async def request(self, method: str, params: Optional[List[Any]] = None, *, timeout: Optional[float] = None) -> Any:
        if self._ws is None:
            raise FaaSConnectionError("not connected (call connect() first)")
        rid = next(self._ids)
        fut: "asyncio.Future[Any]" = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            await self._ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or []}))
        except websockets.ConnectionClosed as err:
            self._pending.pop(rid, None)
            raise FaaSConnectionError(f"the connection to {self.url} closed: {err}") from err
        try:
            return await asyncio.wait_for(fut, timeout or self.timeout)
        except asyncio.TimeoutError:
            self._pending.pop(rid, None)
            raise FaaSTimeoutError(f"{method}: no answer from {self.url} within {timeout or self.timeout} s") from None

    async def subscribe(self, method: str, params: List[Any], unsubscribe_method: str) -> Subscription:
        sid = await self.request(method, params)
        sub = Subscription(self, sid, unsubscribe_method)
        self._subs[sid] = sub
        for item in self._early.pop(sid, []):
            sub.queue.put_nowait(item)
        return sub


@dataclass
class Receipt:
    """A transaction in a block: where, and the events it caused (in that block)."""

    extrinsic_hash: bytes
    block_hash: str
    block_number: int
    extrinsic_index: int
    events: List[Event] = field(default_factory=list)

    def find(self, pallet: str, name: str) -> Optional[Event]:
        return next((e for e in self.events if e.pallet == pallet and e.name == name), None)


def _hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


class ChainClient:
    """A node and its runtime: queries, events, and transactions signed by ed25519 accounts."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        self.rpc = RpcClient(url, timeout=timeout)
        self.runtime: Runtime = None  # type: ignore[assignment]
        self._nonces: Dict[bytes, int] = {}
        self._send_lock = asyncio.Lock()

    async def connect(self) -> None:
        await self.rpc.connect()
        metadata, genesis, version = await asyncio.gather(
            self.rpc.request("state_getMetadata"),
            self.rpc.request("chain_getBlockHash", [0]),
            self.rpc.request("state_getRuntimeVersion"),
        )
        self.runtime = Runtime(metadata, genesis, version["specVersion"], version["transactionVersion"])

    async def close(self) -> None:
        await self.rpc.close()

    # -- reading ------------------------------------------------------------------------------

    async def query(self, pallet: str, item: str, *keys: Any, at: Optional[str] = None) -> Any:
        """The decoded value of ``pallet.item(*keys)`` (``None`` when an Optional item holds nothing)."""
        key = _hex(self.runtime.storage_key(pallet, item, *keys))
        raw = await self.rpc.request("state_getStorage", [key, at] if at else [key])
        return self.runtime.decode_storage(pallet, item, raw)

    async def keys(self, pallet: str, item: str, *prefix_keys: Any, page: int = 256) -> List[bytes]:
        """Every storage key of a map (or of the part of it under ``prefix_keys``)."""
        prefix = _hex(self.runtime.storage_key(pallet, item, *prefix_keys))
        out: List[bytes] = []
        start: Optional[str] = None
        while True:
            batch = await self.rpc.request("state_getKeysPaged", [prefix, page, start] if start else [prefix, page])
            out.extend(bytes.fromhex(k[2:]) for k in batch)
            if len(batch) < page:
                return out
            start = batch[-1]

    async def block_hash(self, number: int) -> Optional[str]:
        return await self.rpc.request("chain_getBlockHash", [number])

    async def finalized_head(self) -> Tuple[int, str]:
        h = await self.rpc.request("chain_getFinalizedHead")
        header = await self.rpc.request("chain_getHeader", [h])
        return int(header["number"], 16), h

    async def events(self, block_hash: str) -> List[Event]:
        key = _hex(self.runtime.storage_key("System", "Events"))
        return self.runtime.decode_events(await self.rpc.request("state_getStorage", [key, block_hash]))

    async def finalized_blocks(self, from_block: int) -> AsyncIterator[Tuple[int, str, List[Event]]]:
        """(number, hash, events) of each finalized block from ``from_block`` on, in order, forever."""
        sub = await self.rpc.subscribe("chain_subscribeFinalizedHeads", [], "chain_unsubscribeFinalizedHeads")
        try:
            nxt = from_block
            head, _ = await self.finalized_head()
            while True:
                while nxt <= head:
                    h = await self.block_hash(nxt)
                    if h is None:
                        break
                    yield nxt, h, await self.events(h)
                    nxt += 1
                header = await sub.next()
                head = max(head, int(header["number"], 16))
        finally:
            await sub.unsubscribe()

    # -- transactions -------------------------------------------------------------------------

    async def next_nonce(self, signer: Any) -> int:
        addr = self.runtime.account(signer.public_key).ss58
        return int(await self.rpc.request("system_accountNextIndex", [addr]))

    async def sign_and_submit(
        self,
        signer: Any,
        pallet: str,
        call: str,
        args: Any = None,
        *,
        tip: int = 0,
        mortal_period: Optional[int] = 64,
        wait: str = "inBlock",
        raise_on_failure: bool = True,
    ) -> Receipt:
        """Signs ``pallet.call(args)`` with ``signer`` (the next nonce of its own, so concurrent
        sends do not collide) and waits until it is in a block (``wait="finalized"``: final).
        Raises :class:`DispatchFailure` when the call itself failed, unless told not to."""
        encoded = self.runtime.encode_call(pallet, call, args)
        key = bytes(signer.public_key)
        for attempt in range(2):
            async with self._send_lock:
                if key not in self._nonces:
                    self._nonces[key] = await self.next_nonce(signer)
                nonce = self._nonces[key]
                if mortal_period:
                    number, block = await self.finalized_head()
                    era, block_hash = Era.mortal(number, mortal_period), bytes.fromhex(block[2:])
                else:
                    era, block_hash = Era.immortal(), self.runtime.genesis_hash
                xt = self.runtime.sign_extrinsic(signer, encoded, nonce, era, tip, block_hash)
                try:
                    sub = await self.rpc.subscribe("author_submitAndWatchExtrinsic", [_hex(xt)], "author_unwatchExtrinsic")
                except RpcError as err:
                    # A stale nonce (another sender used it): read it again once.
                    self._nonces.pop(key, None)
                    stale = "outdated" in str(err).lower() or "stale" in str(err).lower()
                    if attempt == 0 and stale:
                        continue
                    raise TransactionRejected(f"{pallet}.{call} was refused: {err.message}", details=err.details) from err
                self._nonces[key] = nonce + 1
            try:
                return await self._watch(sub, xt, f"{pallet}.{call}", wait, raise_on_failure)
            except TransactionRejected:
                # Dropped after the pool took it: its nonce may be free again; read it anew next time.
                self._nonces.pop(key, None)
                raise
        raise AssertionError("unreachable")

    async def _watch(self, sub: Subscription, xt: bytes, what: str, wait: str, raise_on_failure: bool) -> Receipt:
        block: Optional[str] = None
        try:
            async for status in sub:
                if isinstance(status, dict):
                    if "inBlock" in status and wait == "inBlock":
                        block = status["inBlock"]
                        break
                    if "finalized" in status:
                        block = status["finalized"]
                        break
                    bad = next((k for k in ("invalid", "dropped", "usurped", "finalityTimeout", "retracted") if k in status), None)
                    if bad and bad != "retracted":
                        raise TransactionRejected(f"{what} was {bad}: {status.get('error') or status[bad]}")
                elif status in ("invalid", "dropped", "usurped"):
                    raise TransactionRejected(f"{what} was {status}")
        finally:
            await sub.unsubscribe()
        if block is None:
            raise TransactionRejected(f"{what}: the node stopped reporting on it")
        return await self._receipt(xt, block, what, raise_on_failure)

    async def _receipt(self, xt: bytes, block_hash: str, what: str, raise_on_failure: bool) -> Receipt:
        signed = await self.rpc.request("chain_getBlock", [block_hash])
        extrinsics = [bytes.fromhex(x[2:]) for x in signed["block"]["extrinsics"]]
        try:
            index = extrinsics.index(xt)
        except ValueError:
            raise TransactionRejected(f"{what}: not found in block {block_hash}") from None
        number = int(signed["block"]["header"]["number"], 16)
        events = [e for e in await self.events(block_hash) if e.extrinsic_index == index]
        receipt = Receipt(blake2_256(xt), block_hash, number, index, events)
        failed = receipt.find("System", "ExtrinsicFailed")
        if failed is not None and raise_on_failure:
            raise self.runtime.dispatch_error(failed["dispatch_error"])
        return receipt

