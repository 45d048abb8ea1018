"""The family agent (`family.py`): the in-sandbox side of the checkpointed, branched and
persistent modes (the protocol in protocol.json; host side: src/sandbox/protocol.ts,
src/sandbox/contexts.ts).

A "family" container holds one lineage of stateful contexts: a context made by an execute,
the snapshots taken of it, and the contexts restored or branched from those snapshots.

- A context is a live interpreter plus a work directory, in namespaces of its own: user,
  mount, PID, network, IPC and UTS (contexts.py, interpreters.py, namespaces.py). Its
  /sandbox/work is an overlay whose lower layer is the snapshot it came from (or an empty
  directory) and whose upper layer, where its writes land, is on a tmpfs of its own; it sees
  no other context's files or processes.
- A snapshot is a holder (holders.py): a fork() of the context server taken at that instant,
  which keeps the interpreter's memory (copy-on-write; python) and a frozen copy of the work
  directory in a mount namespace of its own, and does nothing but fork contexts from them.
- A branch (or restore) is a fork of the holder that enters new namespaces with an overlay
  over the frozen files: files and memory as they were, in milliseconds (snapshot_ops.py).

This agent runs as the sandbox user; it reads host frames on stdin and answers on stdout.
Each request runs in a thread; a context runs one program at a time.
"""

import base64
import json
import os
import signal
import socket
import threading
import traceback

from . import gvisor, gvisor_contexts
from .common import SANDBOX_ROOT, encode_frame, hello, log, set_log_name, take_frames
from .confine import NESTED_TOO_DEEP
from .contexts import fork_context
from .namespaces import FROZEN, PRIVATE, WORK, not_dumpable
from .branch_spares import BranchSpares
from .peers import await_ready, proc_cpu_seconds
from .snapshot_ops import SnapshotOps


class Family(SnapshotOps):
    def __init__(self):
        self.out_lock = threading.Lock()
        self.lock = threading.Lock()
        self.contexts = {}  # id -> Peer (context server)
        self.context_base = {}  # context id -> the snapshot it was made from
        self.holders = {}  # snapshot id -> Peer (holder; merged snapshots share their base's)
        self.spares = BranchSpares()  # javascript / typescript branches made ahead, per snapshot
        for d in (PRIVATE, FROZEN, SANDBOX_ROOT + "/tmp", SANDBOX_ROOT + "/home", WORK):
            os.makedirs(d, exist_ok=True)
        os.chmod(SANDBOX_ROOT + "/tmp", 0o1777)
        not_dumpable()

    def send(self, obj):
        frame = encode_frame(obj)
        with self.out_lock:
            view = memoryview(frame)
            while view:
                n = os.write(1, view)
                view = view[n:]

    def serve(self):
        self.send(hello("family"))
        buf = bytearray()
        while True:
            chunk = os.read(0, 65536)
            if not chunk:
                os._exit(0)
            buf += chunk
            for raw in take_frames(buf):
                try:
                    msg = json.loads(raw)
                except ValueError:
                    self.send({"type": "error", "id": None, "message": "bad frame"})
                    continue
                if msg.get("type") == "ping":
                    self.send({"type": "pong", "seq": msg.get("seq")})
                    continue
                threading.Thread(target=self.handle, args=(msg,), daemon=True).start()

    def handle(self, msg):
        t = msg.get("type")
        rid = msg.get("id")
        try:
            if t == "exec":
                self.exec(msg)
            elif t == "ctx":
                fn = getattr(self, "op_" + str(msg.get("op")), None)
                if fn is None:
                    raise ValueError("unknown op %r" % msg.get("op"))
                self.send({"type": "reply", "id": rid, "ok": True, "data": fn(msg) or {}})
            else:
                self.send({"type": "error", "id": rid, "message": "unknown message type %r" % t})
        except Exception as e:
            if not isinstance(e, KeyError):
                log(traceback.format_exc())
            text = "%s not found in this sandbox" % e if isinstance(e, KeyError) else "%s: %s" % (type(e).__name__, e)
            code = "NOT_FOUND" if isinstance(e, KeyError) else "SANDBOX_ERROR"
            if NESTED_TOO_DEEP in str(e):
                text, code = NESTED_TOO_DEEP, "QUOTA_EXCEEDED"
            if t == "exec":
                self.send({"type": "error", "id": rid, "message": text})
            else:
                self.send({"type": "reply", "id": rid, "ok": False, "code": code, "message": text})

    def context(self, cid):
        with self.lock:
            if cid not in self.contexts:
                raise KeyError("context " + str(cid))
            return self.contexts[cid]

    def holder(self, sid):
        with self.lock:
            if sid not in self.holders:
                raise KeyError("snapshot " + str(sid))
            return self.holders[sid]

    def exec(self, msg):
        spec = msg.get("context") or {}
        cid = spec.get("id")
        with self.lock:
            ctx = self.contexts.get(cid)
        if ctx is None:
            if not spec.get("create"):
                raise KeyError("context " + str(cid))
            ctx = await_ready(fork_context(msg.get("language"), None, int(spec.get("diskMb", 256))), msg.get("language"))
            with self.lock:
                self.contexts[cid] = ctx
        req = {
            "op": "run",
            "code": msg.get("code", ""),
            "stdin": msg.get("stdin", ""),
            "env": msg.get("env") or {},
            "files": msg.get("files") or {},
            "timeoutMs": msg.get("timeoutMs", 30000),
            "maxOutputBytes": msg.get("maxOutputBytes", 1 << 20),
        }
        cpu0 = proc_cpu_seconds(ctx.pid)
        try:
            rep = ctx.ask(req, timeout=int(req["timeoutMs"]) / 1000.0 + 3.0)
        except (socket.timeout, OSError, RuntimeError) as e:
            # Stuck past its time, or gone: the context is lost (its snapshots are not).
            log("context %s lost: %s" % (cid, e))
            self.drop_context(cid)
            rep = {"exitCode": 137, "timedOut": True, "stdout": "", "truncated": False, "durationMs": 0, "cpuSeconds": 0,
                   "memoryPeakMb": 0, "stderr": base64.b64encode(b"context stopped: it did not finish in time and was removed\n").decode()}
        cpu1 = proc_cpu_seconds(ctx.pid)
        if cpu0 is not None and cpu1 is not None:
            # Counted by the kernel from outside the context: code in it cannot change its bill.
            rep["cpuSeconds"] = max(0.0, cpu1 - cpu0)
        self.send({
            "type": "result", "id": msg.get("id"), "exitCode": rep["exitCode"], "signal": None,
            "timedOut": bool(rep.get("timedOut")), "oomKilled": False, "killed": False,
            "truncated": bool(rep.get("truncated")), "stdout": rep["stdout"], "stderr": rep["stderr"],
            "durationMs": rep["durationMs"], "cpuSeconds": rep["cpuSeconds"], "memoryPeakMb": rep["memoryPeakMb"],
            "compileError": bool(rep.get("compileError")),
        })

    def drop_context(self, cid):
        with self.lock:
            ctx = self.contexts.pop(cid, None)
            base = self.context_base.pop(cid, None)
        if ctx is not None:
            ctx.kill()
        if gvisor.ACTIVE and base is not None:  # gvisor hook: its snapshot's files, if dropped
            gvisor_contexts.forget_snapshot(self, base)

    # -- operations --

    def op_drop_context(self, msg):
        self.drop_context(msg["context"])
        return {}

    def op_drop_snapshot(self, msg):
        sid = msg["snapshot"]
        with self.lock:
            getattr(self, "tar_cache", {}).pop(sid, None)  # a slice transfer the host gave up
            holder = self.holders.pop(sid, None)
            shared = holder is not None and any(h is holder for h in self.holders.values())
        # After the holder is gone: a refill racing with this either sees it gone or made its
        # spare before this ends them (branch_spares.refill).
        self.spares.drop_snapshot(sid)
        if holder is not None:
            if shared:
                holder.ask({"op": "drop", "snapshot": sid}, timeout=60)
            else:
                holder.kill()  # its memory and frozen files go with it
        if gvisor.ACTIVE:  # gvisor hook
            gvisor_contexts.forget_snapshot(self, sid)
        return {}

    def op_list(self, msg):
        with self.lock:
            return {"contexts": sorted(self.contexts), "snapshots": sorted(self.holders)}

    def op_usage(self, msg):
        for path in ("/sys/fs/cgroup/memory/memory.usage_in_bytes", "/sys/fs/cgroup/memory.current"):
            try:
                with open(path) as f:
                    return {"memoryMb": int(f.read().strip()) / (1024 * 1024)}
            except (OSError, ValueError):
                pass
        return {"memoryMb": None}


def main():
    set_log_name("family", with_pid=True)
    gvisor.prepare()  # gvisor hook
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    Family().serve()
