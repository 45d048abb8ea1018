"""TangleFaaSClient (Python): submit FaaS jobs on Tangle and get back results you can verify.

Results are collected from ``Services.JobResultSubmitted`` events (storage keeps only the last
one). Each counts only if its submitter operates the service (the service's on-chain record),
its Fields are the blueprint's result layout, the whole output hashes to the signed output hash
(fetched from the operator's registered API when the on-chain copy is cut), and its signature
over the job's statement checks against the key that operator registered for the blueprint.
``wait_for_result`` resolves when ``quorum`` operators signed the same statement.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ..exceptions import FaaSConnectionError, FaaSError, FaaSTimeoutError, ValidationError
from .keys import Keypair
from .rpc import ChainClient, RpcError, TransactionRejected
from .runtime import DispatchFailure, Event
from .statement import MalformedResult, Statement, decode_result, execute_args, output_hash, verify_statement
from .hashing import blake2_256

__all__ = ["TangleFaaSClient", "TangleJobResult", "OperatorResult", "JobUpdate", "UpdateStream", "ServiceRecord", "default_quorum", "JOB_EXECUTE"]

JOB_EXECUTE = 0
_LOOKBACK_BLOCKS = 1000


@dataclass(frozen=True)
class ServiceRecord:
    service_id: int
    blueprint_id: int
    owner: str
    operators: Tuple[str, ...]
    permitted_callers: Tuple[str, ...]


@dataclass
class OperatorResult:
    """One operator's submitted result, as checked."""

    operator: str
    exit_code: int = 0
    stdout: str = ""  # the whole output (fetched from the operator's API when the on-chain copy was cut)
    stderr: str = ""
    complete: bool = False
    output_hash: str = ""
    image_hash: str = ""
    signature: str = ""
    trusted: bool = False  # the submitter is an operator of the service
    verified: bool = False
    verification_error: Optional[str] = None


@dataclass
class TangleJobResult:
    job_id: int
    exit_code: int
    stdout: str
    stderr: str
    complete: bool
    output_hash: str
    image_hash: str
    signature: str  # the first agreeing operator's signature, and that operator
    operator: str
    verified: bool  # True only when `quorum` operators of the service signed this same statement
    operators: List[str]  # the operators whose verified results agree
    quorum: int
    dissent: List[OperatorResult] = field(default_factory=list)  # verified results that differ
    rejected: List[OperatorResult] = field(default_factory=list)  # unverified, or not from a service operator
    verification_error: Optional[str] = None


@dataclass
class JobUpdate:
    """``status``: submitted, executing, result (one operator's checked result), completed or failed."""

    job_id: int
    status: str
    operator_result: Optional[OperatorResult] = None
    result: Optional[TangleJobResult] = None


def default_quorum(operators: int) -> int:
    """The one operator of a one-operator service, a majority otherwise."""
    return 1 if operators <= 1 else operators // 2 + 1


def agreement(results: List[OperatorResult]) -> Tuple[List[OperatorResult], List[OperatorResult], List[OperatorResult]]:
    """(agreed, dissent, rejected): verified results of service operators grouped by the
    statement they signed (first result per operator), the largest group first."""
    seen = set()
    groups: Dict[Tuple[int, str, str], List[OperatorResult]] = {}
    rejected = []
    for r in results:
        if not r.verified or not r.trusted:
            rejected.append(r)
            continue
        if r.operator in seen:
            continue
        seen.add(r.operator)
        groups.setdefault((r.exit_code, r.output_hash, r.image_hash), []).append(r)
    ordered = sorted(groups.values(), key=len, reverse=True)
    agreed = ordered[0] if ordered else []
    return agreed, [r for g in ordered[1:] for r in g], rejected


#: The most of a full output a client reads from an operator (the operator caps each stream at
#: FAAS_MAX_OUTPUT_BYTES, 1 MiB by default; JSON escaping can grow text up to six times).
MAX_OUTPUT_ANSWER_BYTES = 16 * 1024 * 1024


def _read_bounded(res: Any, deadline: float) -> bytes:
    """The answer's body, refusing more than MAX_OUTPUT_ANSWER_BYTES or a total time past ``deadline``
    (urllib's timeout is per read: a server sending a byte at a time would never time out)."""
    chunks = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise OSError("the operator's API took too long to send the output")
        chunk = res.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_OUTPUT_ANSWER_BYTES:
            raise OSError(f"the operator's API sent more than {MAX_OUTPUT_ANSWER_BYTES} bytes")
        chunks.append(chunk)


def fetch_full_output(api_url: str, output_hash_: str, timeout: float = 10.0) -> Dict[str, Any]:
    """``GET {api_url}/v1/outputs/{hash}`` of an operator's API: {exitCode, stdout, stderr}."""
    url = f"{api_url.rstrip('/')}/v1/outputs/{output_hash_}"
    deadline = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(url, timeout=timeout) as res:  # noqa: S310 (the operator's registered address)
            body = json.loads(_read_bounded(res, deadline).decode("utf-8"))
    except urllib.error.HTTPError as err:
        try:
            message = json.loads(err.read().decode("utf-8")).get("message", "")
        except ValueError:
            message = ""
        raise OSError(f"{err.code} {message}".strip()) from None
    except (urllib.error.URLError, ValueError) as err:
        raise OSError(str(getattr(err, "reason", err))) from None
    if not isinstance(body, dict) or not isinstance(body.get("stdout"), str) or not isinstance(body.get("stderr"), str) or not isinstance(body.get("exitCode"), int):
        raise OSError("the answer is not {exitCode, stdout, stderr}")
    return body


@dataclass
class _JobContext:
    genesis_hash: bytes
    blueprint_id: int
    service_id: int
    call_id: int
    job: int
    args_hash: bytes


@dataclass
class _Watch:
    context: "asyncio.Future[_JobContext]"
    raw: List[Tuple[str, List[Any]]] = field(default_factory=list)
    seen: set = field(default_factory=set)  # (block, event index): each submission once
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    error: Optional[BaseException] = None  # the follower stopped (connection lost)


Callback = Callable[[JobUpdate], Union[None, Awaitable[None]]]


class TangleFaaSClient:
    """Submits FaaS jobs to a Tangle service and verifies the operators' results.

    Args:
        rpc_url: the node's WebSocket URL (``ws://127.0.0.1:9944``).
        blueprint_id: the FaaS blueprint; a service of another blueprint is refused.
        account: the caller — a :class:`Keypair`, or a mnemonic / secret URI (``//Alice``) made
            into an **ed25519** account (Debian has no sr25519 library for Python, so this is
            not the sr25519 account polkadot.js derives from the same URI).
        service_id: the service to call; by default the lowest-numbered service of the blueprint
            that the account owns or is a permitted caller of.
        job_update: called (or awaited) with each :class:`JobUpdate`.
        http_timeout: seconds for fetching a cut output from an operator's API.

    Use ``async with TangleFaaSClient(...) as faas:`` or ``await faas.connect()`` / ``close()``.
    """

    def __init__(
        self,
        rpc_url: str,
        blueprint_id: int,
        account: Union[str, Keypair],
        service_id: Optional[int] = None,
        *,
        job_update: Optional[Callback] = None,
        http_timeout: float = 10.0,
    ) -> None:
        self.rpc_url = rpc_url
        self.blueprint_id = int(blueprint_id)
        self.service_id = None if service_id is None else int(service_id)
        self.account = account if isinstance(account, Keypair) else Keypair.from_uri(account)
        self.http_timeout = http_timeout
        self._callbacks: List[Callback] = [job_update] if job_update else []
        self._listeners: List["asyncio.Queue[JobUpdate]"] = []
        self._chain: Optional[ChainClient] = None
        self._connecting: Optional["asyncio.Future[ChainClient]"] = None
        self._service: Optional["asyncio.Future[ServiceRecord]"] = None
        self._registrations: Dict[Tuple[int, str], Optional[Dict[str, str]]] = {}
        self._watches: Dict[Tuple[int, int], _Watch] = {}
        self._follower: Optional["asyncio.Task[None]"] = None
        self._follower_next = 0
        self._tasks: set = set()

    # -- connection -----------------------------------------------------------------------------

    async def __aenter__(self) -> "TangleFaaSClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connects (also done on first use) and reads the runtime from the node."""
        await self._chain_client()

    async def close(self) -> None:
        for task in [self._follower, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._follower, *self._tasks] if t is not None), return_exceptions=True)
        self._follower = None
        self._tasks.clear()
        if self._chain is not None:
            await self._chain.close()
        self._chain = None
        self._connecting = None
        self._service = None

    async def _chain_client(self) -> ChainClient:
        if self._chain is not None:
            return self._chain
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_future()
            try:
                chain = ChainClient(self.rpc_url)
                await chain.connect()
                self.account.ss58_format = chain.runtime.ss58_format
                self._chain = chain
                self._connecting.set_result(chain)
            except BaseException as err:
                fut, self._connecting = self._connecting, None
                _fail(fut, err)
                raise
            return chain
        return await asyncio.shield(self._connecting)

    @property
    def address(self) -> str:
        return self.account.address

    # -- updates --------------------------------------------------------------------------------

    def on_job_update(self, callback: Callback) -> None:
        """Adds a callback (plain or async) for every :class:`JobUpdate`."""
        self._callbacks.append(callback)

    def job_updates(self, job_id: Optional[int] = None) -> "UpdateStream":
        """``async for u in faas.job_updates(job_id)``: the updates from this call on (of one job,
        when given, ending after its completed/failed; else until ``stream.close()``)."""
        return UpdateStream(self._listeners, job_id)

    async def _emit(self, update: JobUpdate) -> None:
        for q in self._listeners:
            q.put_nowait(update)
        for cb in self._callbacks:
            out = cb(update)
            if inspect.isawaitable(out):
                await out

    # -- the service ----------------------------------------------------------------------------

    async def service(self) -> ServiceRecord:
        """The service's on-chain record; its blueprint must be the configured one."""
        if self._service is None:
            self._service = asyncio.get_running_loop().create_future()
            try:
                chain = await self._chain_client()
                sid = self.service_id if self.service_id is not None else await self._find_service(chain)
                record = await self._read_service(chain, sid)
                if record is None:
                    raise ValidationError(f"service {sid} does not exist on {self.rpc_url}", field="service_id")
                if record.blueprint_id != self.blueprint_id:
                    raise ValidationError(f"service {sid} is an instance of blueprint {record.blueprint_id}, not {self.blueprint_id}", field="blueprint_id")
                self._service.set_result(record)
            except BaseException as err:
                fut, self._service = self._service, None
                _fail(fut, err)
                raise
        return await asyncio.shield(self._service)

    async def _read_service(self, chain: ChainClient, service_id: int) -> Optional[ServiceRecord]:
        s = await chain.query("Services", "Instances", service_id)
        if s is None:
            return None
        return ServiceRecord(
            service_id=int(s["id"]),
            blueprint_id=int(s["blueprint"]),
            owner=str(s["owner"]),
            operators=tuple(str(op) for op, _ in s["operator_security_commitments"]),
            permitted_callers=tuple(str(a) for a in s["permitted_callers"]),
        )

    async def _find_service(self, chain: ChainClient) -> int:
        me = self.account.address
        ids = []
        for key in await chain.keys("Services", "Instances"):
            (sid,) = chain.runtime.decode_storage_key("Services", "Instances", key)
            rec = await self._read_service(chain, sid)
            if rec and rec.blueprint_id == self.blueprint_id and (rec.owner == me or me in rec.permitted_callers):
                ids.append(rec.service_id)
        if not ids:
            raise ValidationError(f"no service of blueprint {self.blueprint_id} lets {me} call it; pass service_id or request a service", field="service_id")
        return min(ids)

    async def _registration(self, chain: ChainClient, blueprint_id: int, operator: str) -> Optional[Dict[str, str]]:
        k = (blueprint_id, operator)
        if k not in self._registrations:
            prefs = await chain.query("Services", "Operators", blueprint_id, operator)
            self._registrations[k] = None if prefs is None else {"key": "0x" + bytes(prefs["key"]).hex(), "rpc_address": bytes(prefs["rpc_address"]).decode("utf-8", errors="replace")}
        return self._registrations[k]

    # -- submitting -----------------------------------------------------------------------------

    async def submit_job(
        self,
        code: str,
        language: str,
        mode: Optional[str] = None,
        resources: Optional[Mapping[str, Any]] = None,
        env_vars: Optional[Mapping[str, str]] = None,
        stdin: Optional[str] = None,
    ) -> int:
        """Calls job 0 ``execute``; returns the job id (the call id of ``JobCalled``) once the
        call is in a block. ``resources`` keys may be snake_case (``memory_mb``)."""
        if resources:
            resources = {_camel(k): v for k, v in resources.items()}
        try:
            args = execute_args(code, language, mode, resources, env_vars, stdin)
        except ValueError as err:
            raise ValidationError(str(err), field=str(err).split(":")[0]) from None
        chain = await self._chain_client()
        service = await self.service()
        try:
            receipt = await chain.sign_and_submit(self.account, "Services", "call", {"service_id": service.service_id, "job": JOB_EXECUTE, "args": args})
        except DispatchFailure as err:
            raise ValidationError(f"services.call failed: {err}", details={"pallet": err.pallet, "error": err.error}) from None
        except (TransactionRejected, RpcError) as err:
            raise ValidationError(f"services.call failed: {err.message}", details=err.details) from None
        called = receipt.find("Services", "JobCalled")
        if called is None:
            raise FaaSError("services.call was included but emitted no JobCalled event")
        job_id = int(called["call_id"])
        ctx = self._context(chain, service, job_id, int(called["job"]), called["args"])
        fut: "asyncio.Future[_JobContext]" = asyncio.get_running_loop().create_future()
        fut.set_result(ctx)
        # Results can only come after the call's block: watch from there.
        self._watch(service, job_id, fut, receipt.block_number)
        await self._emit(JobUpdate(job_id, "submitted"))
        return job_id

    def _context(self, chain: ChainClient, service: ServiceRecord, call_id: int, job: int, args: List[Any]) -> _JobContext:
        rt = chain.runtime
        _, v = rt.metadata.call_variant("Services", "call")
        args_type = next(f.type for f in v.fields if f.name == "args")
        return _JobContext(rt.genesis_hash, service.blueprint_id, service.service_id, call_id, job, blake2_256(rt.registry.encode(args_type, args)))

    # -- following results ----------------------------------------------------------------------

    def _watch(self, service: ServiceRecord, job_id: int, context: "asyncio.Future[_JobContext]", from_block: int) -> _Watch:
        key = (service.service_id, job_id)
        w = self._watches.get(key)
        if w is None:
            w = _Watch(context)
            self._watches[key] = w
        if self._follower is None or self._follower.done():
            self._follower_next = from_block
            self._follower = asyncio.get_running_loop().create_task(self._follow(from_block))
        elif from_block < self._follower_next:
            # The follower is past the job's first block: read those blocks for this job.
            self._spawn(self._scan(from_block, self._follower_next, key))
        return w

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _collect(self, number: int, events: List[Event], only: Optional[Tuple[int, int]] = None) -> None:
        for i, e in enumerate(events):
            if e.pallet != "Services" or e.name != "JobResultSubmitted":
                continue
            key = (int(e["service_id"]), int(e["call_id"]))
            if only is not None and key != only:
                continue
            w = self._watches.get(key)
            if w is None or (number, i) in w.seen:
                continue
            w.seen.add((number, i))
            w.raw.append((str(e["operator"]), list(e["result"])))
            w.changed.set()

    async def _follow(self, from_block: int) -> None:
        chain = await self._chain_client()
        blocks = chain.finalized_blocks(from_block)
        try:
            async for number, _hash, events in blocks:
                self._collect(number, events)
                self._follower_next = number + 1
        except (FaaSError, OSError) as err:
            for w in self._watches.values():
                w.error = err
                w.changed.set()
        finally:
            await blocks.aclose()  # unsubscribes

    async def _scan(self, start: int, stop: int, key: Tuple[int, int]) -> None:
        """Blocks [start, stop) read for one job (results from before it was watched)."""
        chain = await self._chain_client()
        try:
            for n in range(start, stop):
                h = await chain.block_hash(n)
                if h is None:
                    break
                self._collect(n, await chain.events(h), only=key)
        except (FaaSError, OSError) as err:
            w = self._watches.get(key)
            if w is not None:
                w.error = err
                w.changed.set()

    # -- waiting and verifying ------------------------------------------------------------------

    async def wait_for_result(self, job_id: int, timeout: float = 60.0, quorum: Optional[int] = None, from_block: Optional[int] = None) -> TangleJobResult:
        """Waits until ``quorum`` operators of the service (default: 1 for a one-operator service,
        a majority otherwise) submitted verified results signing the same statement. A job not
        submitted through this client is looked for from ``from_block`` (default: 1,000 blocks
        back). When every operator answered without a quorum, the result has ``verified=False``
        and says why; with no quorum in ``timeout`` seconds, :class:`FaaSTimeoutError`."""
        job_id = int(job_id)
        chain = await self._chain_client()
        service = await self.service()
        n_ops = len(service.operators)
        q = default_quorum(n_ops) if quorum is None else quorum
        if not isinstance(q, int) or isinstance(q, bool) or not 1 <= q <= max(n_ops, 1):
            raise ValidationError(f"quorum must be a whole number from 1 to the service's {n_ops} operators, got {quorum}", field="quorum")
        key = (service.service_id, job_id)
        w = self._watches.get(key)
        if w is None:
            head, _ = await chain.finalized_head()
            start = from_block if from_block is not None else max(0, head - _LOOKBACK_BLOCKS)
            fut = asyncio.ensure_future(self._past_context(chain, service, job_id))
            w = self._watch(service, job_id, fut, start)
        deadline = time.monotonic() + timeout
        checked: List[OperatorResult] = []
        state = {"executing": False}
        poll = asyncio.ensure_future(self._watch_executing(chain, service, job_id, lambda: bool(checked) or time.monotonic() > deadline, state))
        try:
            try:
                ctx = await asyncio.wait_for(asyncio.shield(w.context), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                raise FaaSTimeoutError(f"no verified result for job {job_id} within {timeout} s (the job call could not be read)") from None
            while True:
                w.changed.clear()
                while len(checked) < len(w.raw):
                    operator, fields = w.raw[len(checked)]
                    r = await self._verify(chain, ctx, service, operator, fields)
                    checked.append(r)
                    await self._emit(JobUpdate(job_id, "result", operator_result=r))
                agreed, dissent, rejected = agreement(checked)
                # An operator of the service whose result did not verify has answered too (wrongly).
                answered = {r.operator for r in checked if r.trusted}
                if len(agreed) >= q or len(answered) >= n_ops:
                    verified = len(agreed) >= q
                    first = agreed[0] if agreed else checked[0]
                    out = TangleJobResult(
                        job_id=job_id,
                        exit_code=first.exit_code,
                        stdout=first.stdout,
                        stderr=first.stderr,
                        complete=first.complete,
                        output_hash=first.output_hash,
                        image_hash=first.image_hash,
                        signature=first.signature,
                        operator=first.operator,
                        verified=verified,
                        operators=[r.operator for r in agreed],
                        quorum=q,
                        dissent=dissent,
                        rejected=rejected,
                        verification_error=None if verified else _no_quorum(agreed, dissent, rejected, q),
                    )
                    await self._emit(JobUpdate(job_id, "completed" if verified and out.exit_code == 0 else "failed", result=out))
                    return out
                left = deadline - time.monotonic()
                if left <= 0:
                    why = f"{len(agreed)} of {q} operators agree so far" if checked else "an operator is executing it" if state["executing"] else "no operator answered"
                    raise FaaSTimeoutError(f"no verified result for job {job_id} within {timeout} s ({why})")
                try:
                    await asyncio.wait_for(w.changed.wait(), left)
                except asyncio.TimeoutError:
                    pass
                if w.error is not None:
                    raise FaaSConnectionError(f"stopped following the chain: {w.error}")
        finally:
            self._watches.pop(key, None)
            poll.cancel()
            if not self._watches:
                self._stop_follower()
            await asyncio.gather(poll, return_exceptions=True)

    def _stop_follower(self) -> None:
        """Nothing is waited for: the follower stops (unsubscribing); the next watch starts one."""
        follower, self._follower = self._follower, None
        if follower is not None and not follower.done():
            follower.cancel()
            self._tasks.add(follower)
            follower.add_done_callback(self._tasks.discard)

    async def _past_context(self, chain: ChainClient, service: ServiceRecord, job_id: int) -> _JobContext:
        call = await chain.query("Services", "JobCalls", service.service_id, job_id)
        if call is None:
            raise ValidationError(f"service {service.service_id} has no job call {job_id}", field="job_id")
        return self._context(chain, service, job_id, int(call["job"]), list(call["args"]))

    async def _verify(self, chain: ChainClient, ctx: _JobContext, service: ServiceRecord, operator: str, fields: List[Any]) -> OperatorResult:
        trusted = operator in service.operators
        try:
            r = decode_result(fields)
        except MalformedResult as err:
            return OperatorResult(operator, trusted=trusted, verification_error=f"malformed result: {err}")
        out = OperatorResult(operator, r.exit_code, r.stdout, r.stderr, r.complete, r.output_hash, r.image_hash, r.signature, trusted)
        if not trusted:
            return replace(out, verification_error=f"{operator} is not an operator of service {ctx.service_id}; its result is not trusted")
        reg = await self._registration(chain, ctx.blueprint_id, operator)
        if reg is None:
            return replace(out, verification_error=f"{operator} is not registered for blueprint {ctx.blueprint_id}")
        if not r.complete:
            # The chain holds a cut copy: fetch the whole output and check it against the signed hash.
            try:
                full = await asyncio.get_running_loop().run_in_executor(None, fetch_full_output, reg["rpc_address"], r.output_hash, self.http_timeout)
            except OSError as err:
                return replace(out, verification_error=f"the on-chain output is cut and the full output could not be fetched from {reg['rpc_address']}: {err}")
            out = replace(out, stdout=full["stdout"], stderr=full["stderr"])
            if full["exitCode"] != r.exit_code:
                return replace(out, verification_error=f"the full output's exit code {full['exitCode']} is not the result's {r.exit_code}")
        expected = output_hash(out.exit_code, out.stdout, out.stderr)
        if expected != r.output_hash:
            return replace(out, verification_error=f"output hash mismatch: the output hashes to {expected}")
        statement = Statement(ctx.genesis_hash, ctx.blueprint_id, ctx.service_id, ctx.call_id, ctx.job, ctx.args_hash, r.image_hash, r.exit_code, r.output_hash)
        if not verify_statement(statement, r.signature, reg["key"]):
            return replace(out, verification_error="the signature does not check against the operator's registered key for this job's statement")
        return replace(out, verified=True)

    async def _watch_executing(self, chain: ChainClient, service: ServiceRecord, job_id: int, finished: Callable[[], bool], state: Dict[str, bool]) -> None:
        """Emits 'executing' once an operator's API reports the call received
        (``GET /v1/jobs/{service}/{call}``); nothing on-chain says when execution starts."""
        try:
            urls = []
            for op in service.operators:
                reg = await self._registration(chain, service.blueprint_id, op)
                if reg:
                    urls.append(f"{reg['rpc_address'].rstrip('/')}/v1/jobs/{service.service_id}/{job_id}")
            loop = asyncio.get_running_loop()
            while urls and not finished():
                for url in urls:
                    if await loop.run_in_executor(None, _answers, url):
                        if not finished():
                            state["executing"] = True
                            await self._emit(JobUpdate(job_id, "executing"))
                        return
                await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            raise
        except Exception:  # best effort: the result still arrives
            return


class UpdateStream:
    """An async iterator of :class:`JobUpdate`; it receives updates from its creation on."""

    def __init__(self, listeners: List["asyncio.Queue[JobUpdate]"], job_id: Optional[int]) -> None:
        self._listeners = listeners
        self._job_id = None if job_id is None else int(job_id)
        self._queue: "asyncio.Queue[JobUpdate]" = asyncio.Queue()
        self._done = False
        listeners.append(self._queue)

    def __aiter__(self) -> "UpdateStream":
        return self

    async def __anext__(self) -> JobUpdate:
        while not self._done:
            u = await self._queue.get()
            if self._job_id is not None and u.job_id != self._job_id:
                continue
            if self._job_id is not None and u.status in ("completed", "failed"):
                self.close()
            return u
        raise StopAsyncIteration

    def close(self) -> None:
        self._done = True
        if self._queue in self._listeners:
            self._listeners.remove(self._queue)


def _no_quorum(agreed: List[OperatorResult], dissent: List[OperatorResult], rejected: List[OperatorResult], quorum: int) -> str:
    why = [f"{r.operator}: {r.verification_error}" for r in rejected if r.trusted]
    return f"no quorum: {len(agreed)} of the {quorum} needed operators agree ({len(dissent)} dissent)" + (f"; {'; '.join(why)}" if why else "")


def _fail(fut: "asyncio.Future[Any]", err: BaseException) -> None:
    if isinstance(err, Exception):
        fut.set_exception(err)
        fut.exception()  # retrieved: no "never retrieved" warning
    else:
        fut.cancel()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as res:  # noqa: S310
            return 200 <= res.status < 300
    except (OSError, ValueError):
        return False


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


__all__ += ["fetch_full_output", "agreement"]
