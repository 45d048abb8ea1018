"""Snapshot holders: a snapshot's interpreter memory (a fork of a python context server) and
frozen files, in a mount namespace of their own; they fork contexts (branches) on request."""

import os
import signal
import socket
import traceback

from . import contexts, gvisor
from .common import log
from .filetree import content_hash, copy_tree, remove, tar_paths, tree_bytes, tree_manifest, untar
from .messages import recv_msg, send_msg
from .namespaces import CLONE_NEWNS, FROZEN, MS_NODEV, MS_NOSUID, enter_userns, mount, not_dumpable, own_namespaces


def become_holder(enter, holder_fd, server, msg, copied_w):
    """A python context's interpreter (`server`, a ContextServer) becoming its snapshot's holder,
    its memory as it is now: enter() takes this process to where the holder lives and returns
    the directory of the files to freeze; the live context (in a fork, waiting on copied_w) is
    told "1" once they are copied, "0" when they could not be. Never returns."""
    try:
        source = enter()
        holder = HolderServer(socket.socket(fileno=holder_fd), server.language, server.main)
        holder.start(msg["snapshot"], int(msg.get("diskMb", 256)), source, mounted=True)
        os.chdir("/")  # nothing of the context's (its work directory) kept as the holder's cwd
        os.write(copied_w, b"1")
        os.close(copied_w)
        holder.serve()
    except BaseException:
        log("holder failed: %s" % traceback.format_exc())
        try:
            os.write(copied_w, b"0")
        except OSError:
            pass
    os._exit(0)


class HolderServer:
    """A snapshot: the interpreter memory of the context it was forked from (python), and the
    frozen files of that snapshot and of the merges made from it, in a mount namespace of its
    own (a tmpfs at /sandbox/.frozen, hidden from every context). Forks contexts on request."""

    def __init__(self, sock, language, main):
        self.sock = sock
        self.language = language
        self.main = main
        self.frozen = set()

    def start(self, sid, disk_mb, source=None, mounted=False):
        """mounted: a python snapshot's holder, in namespaces the agent made with the tmpfs for
        frozen files in place; else a holder made by the agent for files from the host's store,
        which makes its own user and mount namespaces."""
        not_dumpable()
        if not mounted and not gvisor.ACTIVE:  # gvisor hook: frozen files stay in /sandbox/.frozen
            enter_userns(CLONE_NEWNS)
            mount("tmpfs", FROZEN, "tmpfs", MS_NOSUID | MS_NODEV, "size=%dm,mode=0700" % max(1, disk_mb))
        if source is not None:
            copy_tree(source, os.path.join(FROZEN, sid))
            self.frozen.add(sid)

    def serve(self):
        # What the context left running before the snapshot stays here: reaped automatically.
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        # A python snapshot's holder: its namespaces go to the agent, which makes its branches' under them.
        ns = own_namespaces() if self.main is not None else []
        try:
            send_msg(self.sock, {"type": "ready"}, fds=ns, creds=True)
        finally:
            for fd in ns:
                os.close(fd)
        while True:
            msg, fds, _ = recv_msg(self.sock)
            if msg is None:
                os._exit(0)
            try:
                reply = self.handle(msg, fds)
                fds = [] if msg.get("op") == "branch" else fds
            except Exception as e:
                reply = {"ok": False, "message": "%s: %s" % (type(e).__name__, e)}
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            send_msg(self.sock, reply)
            if not self.frozen:
                os._exit(0)  # every snapshot it held was dropped

    def dir(self, sid):
        if sid not in self.frozen:
            raise KeyError("snapshot " + str(sid))
        return os.path.join(FROZEN, sid)

    def handle(self, msg, fds):
        op = msg.get("op")
        if op == "branch":
            lower = self.dir(msg["snapshot"])
            child = socket.socket(fileno=fds[0])
            kinds, ns = list(msg.get("ns") or []), fds[1:]
            joins = self.main is not None and not gvisor.ACTIVE  # gvisor hook: a branch makes its own there
            if joins and (not kinds or len(kinds) != len(ns)):
                raise ValueError("branch: namespaces missing")
            pid = os.fork()
            if pid == 0:
                self.sock.close()
                if joins:  # this interpreter ran user code: it only joins namespaces
                    contexts.join_context(child, msg.get("language") or self.language, kinds, ns, self.main)
                contexts.become_context(child, msg.get("language") or self.language, lower, int(msg.get("diskMb", 256)), self.main)
            child.close()
            for fd in ns:
                os.close(fd)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass  # reaped already (SIGCHLD is ignored here)
            return {"ok": True, "hasMemory": self.main is not None}
        if op == "info":
            root = self.dir(msg["snapshot"])
            manifest = tree_manifest(root)
            return {"ok": True, "manifest": manifest, "contentHash": content_hash(manifest), "sizeBytes": tree_bytes(root)}
        if op == "files":
            root = self.dir(msg["snapshot"])
            return {"ok": True, "tar": tar_paths(root, sorted(os.listdir(root)), recursive=True)}
        if op == "load":
            dest = os.path.join(FROZEN, msg["snapshot"])
            os.mkdir(dest)
            untar(msg["tar"], dest)
            self.frozen.add(msg["snapshot"])
            return {"ok": True}
        if op == "compose":
            # A merge: the base's files, with the chosen changes laid over.
            dest = os.path.join(FROZEN, msg["snapshot"])
            copy_tree(self.dir(msg["base"]), dest)
            for path in sorted(msg.get("deleted") or [], key=lambda p: -p.count("/")):
                remove(os.path.join(dest, path))
            if msg.get("tar"):
                untar(msg["tar"], dest)
            self.frozen.add(msg["snapshot"])
            return {"ok": True}
        if op == "drop":
            # Forgotten, not removed: the files are the lower layer of the contexts made from it
            # (in their own mount namespaces); the tmpfs is freed when the last of them ends.
            self.frozen.discard(msg["snapshot"])
            return {"ok": True}
        return {"ok": False, "message": "unknown op %r" % op}
