"""Snapshots, branches, loads and merges, as the family agent does them. (A mixin of the Family.)"""

import base64
import io
import json
import os
import socket
import tarfile
import traceback

from . import branch_spares, gvisor, gvisor_contexts, node_holder
from .common import log
from .filetree import diff_manifests, untar
from .holders import HolderServer
from .namespaces import FROZEN, SNAPSHOT_ID_CHARS, close_fds_except, make_namespaces
from .peers import await_ready


def keeps_memory(language):
    """Whether a snapshot of a context in this language holds its memory: python's interpreter
    always; the node of javascript / typescript where its fork can join the namespaces the agent
    makes (not under gVisor, which has no namespace files to hand over)."""
    return language == "python" or (language in node_holder.NODE_LANGUAGES and not gvisor.ACTIVE)


class SnapshotOps:
    def op_snapshot(self, msg):
        ctx = self.context(msg["context"])
        sid, disk_mb = msg["snapshot"], int(msg.get("diskMb", 256))
        if ctx.language == "python" and gvisor.ACTIVE:  # gvisor hook
            holder = gvisor_contexts.op_snapshot(ctx, sid, disk_mb)
        elif keeps_memory(ctx.language):  # python's interpreter, or the node of javascript / typescript
            if not ctx.ns:
                raise RuntimeError("the context's namespaces are unknown")
            ctx.ask({"op": "quiesce"}, timeout=60)
            hold_kinds, hold_fds, _ = make_namespaces(ctx.ns, "holder", disk_mb=disk_mb)
            try:
                moved_kinds, moved_fds, release = make_namespaces(ctx.ns, "moved")
            except BaseException:
                for fd in hold_fds:
                    os.close(fd)
                raise
            ctx.releases.append(release)
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                ctx.ask({"op": "snapshot", "snapshot": sid, "diskMb": disk_mb, "holderNs": hold_kinds, "movedNs": moved_kinds},
                        fds=[theirs.fileno()] + hold_fds + moved_fds, timeout=120)
                theirs.close()
                holder = await_ready(ours, ctx.language)
            except BaseException:
                theirs.close()
                ours.close()
                raise
            finally:
                for fd in hold_fds + moved_fds:
                    os.close(fd)
        else:
            # No memory to keep (bash, go; node under gVisor): a holder of the files, made by this agent.
            holder = self.files_holder(sid, ctx.ask({"op": "tar"}, timeout=300)["tar"], ctx.language, disk_mb)
        with self.lock:
            self.holders[sid] = holder
        info = holder.ask({"op": "info", "snapshot": sid}, timeout=120)
        return {"hasMemory": keeps_memory(ctx.language), "sizeBytes": info["sizeBytes"], "contentHash": info["contentHash"], "files": len(info["manifest"])}

    def op_branch(self, msg):
        """A new context from a snapshot: a fork of its holder, with the holder's memory (python)
        and the snapshot's files. A javascript / typescript snapshot's is taken from its spare
        when one is ready (branch_spares), and the next spare is started."""
        sid, cid = msg["snapshot"], msg["context"]
        holder = self.holder(sid)
        with self.lock:
            if cid in self.contexts:
                raise ValueError("context %s exists" % cid)
        disk_mb = int(msg.get("diskMb", 256))
        language = msg.get("language") or holder.language
        key = (sid, language, disk_mb)
        made = self.spares.take(key) if self.spares.wanted(language) else None
        if made is None:
            made = self.make_branch(holder, sid, language, disk_mb)
        ctx, has_memory = made
        with self.lock:
            self.contexts[cid] = ctx
            self.context_base[cid] = sid
        if self.spares.wanted(language):
            self.spares.refill(key, lambda: self.make_branch(holder, sid, language, disk_mb, stop=True), lambda: self.holds(sid, holder))
        return {"hasMemory": has_memory}

    def holds(self, sid, holder):
        with self.lock:
            return self.holders.get(sid) is holder

    def make_branch(self, holder, sid, language, disk_mb, stop=False):
        """A context forked from `holder` with snapshot `sid`'s files: (its Peer, hasMemory).
        stop: a branch made ahead, stopped until it is taken (branch_spares.stop)."""
        kinds, ns, release = [], [], None
        if holder.ns:
            # A python snapshot's holder ran user code: the branch's namespaces are made here.
            if not set(sid) <= SNAPSHOT_ID_CHARS or sid in (".", ".."):
                raise ValueError("bad snapshot id")
            kinds, ns, release = make_namespaces(holder.ns, "branch", lower=os.path.join(FROZEN, sid), disk_mb=disk_mb)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            rep = holder.ask({"op": "branch", "snapshot": sid, "diskMb": disk_mb, "language": language, "ns": kinds},
                             fds=[theirs.fileno()] + ns, timeout=60)
            ctx = await_ready(ours, language)
            if stop and kinds:
                ctx.stopped = branch_spares.stop(kinds, ns)
        except BaseException:
            ours.close()
            if release is not None:
                os.close(release)
            raise
        finally:
            theirs.close()
            for fd in ns:
                os.close(fd)
        if release is not None:
            ctx.releases.append(release)
        return ctx, bool(rep.get("hasMemory"))

    def op_files(self, msg):
        """The snapshot's files as a tar (for the host's durable store). With `offset` and
        `limit`: that slice of it and the whole size, so no frame to the host holds more than
        `limit` bytes of tar (the tar is made once and kept until its last slice is sent)."""
        sid = msg["snapshot"]
        if "offset" not in msg:
            return {"tar": self.holder(sid).ask({"op": "files", "snapshot": sid}, timeout=300)["tar"]}
        offset, limit = int(msg["offset"]), max(1, int(msg.get("limit") or 4 << 20))
        with self.lock:
            cache = getattr(self, "tar_cache", None)
            if cache is None:
                cache = self.tar_cache = {}
            data = cache.get(sid) if offset else None
        if data is None:
            data = base64.b64decode(self.holder(sid).ask({"op": "files", "snapshot": sid}, timeout=300)["tar"])
            with self.lock:
                cache[sid] = data
        part = data[offset : offset + limit]
        if offset + limit >= len(data):
            with self.lock:
                cache.pop(sid, None)
        return {"tar": base64.b64encode(part).decode(), "size": len(data)}

    def op_load_part(self, msg):
        """A slice of a snapshot's tar from the host, before `load` with `parts` (bounded frames)."""
        with self.lock:
            uploads = getattr(self, "uploads", None)
            if uploads is None:
                uploads = self.uploads = {}
            buf = uploads.setdefault(msg["snapshot"], bytearray())
            if int(msg.get("offset", 0)) != len(buf):
                uploads.pop(msg["snapshot"], None)
                raise ValueError("load_part out of order")
            buf += base64.b64decode(msg.get("data") or "")
            return {"received": len(buf)}

    def files_holder(self, sid, tar, language, disk_mb):
        """A holder without memory (a fresh interpreter for each context made from it), with
        these files, in user and mount namespaces of its own."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                close_fds_except({theirs.fileno()})
                h = HolderServer(theirs, language, None)
                h.start(sid, disk_mb, None)
                h.frozen.add(sid)
                os.mkdir(os.path.join(FROZEN, sid))
                untar(tar, os.path.join(FROZEN, sid))
                if os.fork() == 0:  # detach: the holder is not the agent's child to wait for
                    h.serve()
            except BaseException:
                log("files holder failed: %s" % traceback.format_exc())
            finally:
                os._exit(0)
        theirs.close()
        os.waitpid(pid, 0)
        return await_ready(ours, language)

    def op_load(self, msg):
        """A snapshot's files from the host's store (its family container was lost): a holder
        without memory; contexts made from it start a fresh interpreter over the files."""
        sid, language = msg["snapshot"], msg.get("language") or "python"
        tar = msg.get("tar")
        if msg.get("parts"):
            with self.lock:
                tar = base64.b64encode(bytes(getattr(self, "uploads", {}).pop(sid, b""))).decode()
        holder = self.files_holder(sid, tar, language, int(msg.get("diskMb", 256)))
        with self.lock:
            self.holders[sid] = holder
        info = holder.ask({"op": "info", "snapshot": sid}, timeout=120)
        return {"hasMemory": False, "contentHash": info["contentHash"], "sizeBytes": info["sizeBytes"]}

    def op_merge(self, msg):
        """Three-way merge of contexts branched from one snapshot into a new snapshot (files
        from the merge, memory from the base: the base's holder serves both)."""
        base_id, sid, strategy = msg["base"], msg["snapshot"], msg.get("strategy", "fail")
        holder = self.holder(base_id)
        with self.lock:
            for cid in msg["contexts"]:
                if cid not in self.contexts:
                    raise KeyError("context " + cid)
                if self.context_base.get(cid) != base_id:
                    raise ValueError("context %s was not branched from snapshot %s" % (cid, base_id))
        base = holder.ask({"op": "info", "snapshot": base_id}, timeout=120)["manifest"]
        changes = [diff_manifests(base, self.context(cid).ask({"op": "manifest"}, timeout=120)["manifest"]) for cid in msg["contexts"]]
        decided, conflicts = {}, []
        for path in sorted({p for c in changes for p in c}):
            offers = [(i, c[path]) for i, c in enumerate(changes) if path in c]
            if len({json.dumps(o) for _, o in offers}) > 1:
                conflicts.append(path)
                if strategy == "fail":
                    continue
                offers = offers[:1] if strategy == "ours" else offers[-1:]
            decided[path] = offers[0]
        # A path one branch deleted or turned into a file, under which another branch changed
        # something, is a conflict too (at that path); the winner's side of it is kept whole.
        for i, ci in enumerate(changes):
            for p, c in ci.items():
                if c is not None and c[0] == "dir":
                    continue
                others = [j for j, cj in enumerate(changes) if j != i and any(q.startswith(p + "/") for q in cj)]
                if not others:
                    continue
                if p not in conflicts:
                    conflicts.append(p)
                if strategy == "fail":
                    continue
                involved = [i] + others
                winner = min(involved) if strategy == "ours" else max(involved)
                if winner == i:
                    for q in [q for q, (k, _c) in decided.items() if q.startswith(p + "/") and k != i]:
                        del decided[q]
                    decided[p] = (i, c)
                else:
                    for q in [q for q, (k, _c) in decided.items() if (q == p or q.startswith(p + "/")) and k == i]:
                        del decided[q]
        conflicts.sort()
        if conflicts and strategy == "fail":
            return {"created": False, "conflicts": conflicts}
        deleted = [p for p, (_i, c) in decided.items() if c is None]
        wanted = {}
        for p, (i, c) in decided.items():
            if c is not None:
                wanted.setdefault(i, []).append(p)
        # One tar of the chosen new and changed paths, taken from the branch that won each.
        combined = io.BytesIO()
        with tarfile.open(fileobj=combined, mode="w", format=tarfile.PAX_FORMAT) as out:
            for i, paths in sorted(wanted.items()):
                part = self.context(msg["contexts"][i]).ask({"op": "read", "paths": sorted(paths, key=lambda p: p.count("/"))}, timeout=300)["tar"]
                with tarfile.open(fileobj=io.BytesIO(base64.b64decode(part)), mode="r") as src:
                    for m in src.getmembers():
                        out.addfile(m, src.extractfile(m) if m.isfile() else None)
        holder.ask({"op": "compose", "base": base_id, "snapshot": sid, "deleted": deleted,
                    "tar": base64.b64encode(combined.getvalue()).decode()}, timeout=300)
        with self.lock:
            self.holders[sid] = holder
        info = holder.ask({"op": "info", "snapshot": sid}, timeout=120)
        summary = {"added": 0, "changed": 0, "deleted": 0}
        for p, (_i, c) in decided.items():
            if c is None:
                summary["deleted"] += base[p][0] != "dir"
            elif c[0] != "dir":
                summary["changed" if p in base else "added"] += 1
        return {"created": True, "conflicts": conflicts, "hasMemory": keeps_memory(holder.language),
                "summary": summary,
                "sizeBytes": info["sizeBytes"], "contentHash": info["contentHash"], "files": len(info["manifest"])}
