"""Contexts and python snapshots under the gVisor tier (gvisor.py says why they differ): a
context's root directory of its own, entered instead of namespaces; a python snapshot's holder
forked by the interpreter itself; a dropped snapshot's frozen files removed. The runc path
calls in here at its `gvisor hook` lines (contexts, snapshot_ops, family_agent)."""

import os
import secrets
import shutil
import socket
import traceback

from .common import log
from .confine import CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWUTS
from .gvisor import ROOTS
from .namespaces import (FROZEN, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, SNAPSHOT_ID_CHARS, WORK, mount, reap_until_empty,
                         unshare_or_explain)
from .peers import await_ready

MS_BIND = 0x1000
IMAGE_SKIP = ("sandbox", "proc", "dev", "sys")


def build_root(lower, disk_mb):
    """A context's root directory (see gvisor.py); returns its path."""
    root = os.path.join(ROOTS, secrets.token_hex(12))
    os.mkdir(root, 0o700)
    size = "size=%dm" % max(1, disk_mb)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, size + ",mode=0755")
    for name in sorted(os.listdir("/")):
        path, target = "/" + name, os.path.join(root, name)
        if name in IMAGE_SKIP or not os.path.lexists(path):
            continue
        if os.path.islink(path):
            os.symlink(os.readlink(path), target)
        elif os.path.isdir(path):
            os.mkdir(target)
            mount(path, target, None, MS_BIND, None)
    for d in ("dev", "sys"):
        os.mkdir(os.path.join(root, d))
        mount("/" + d, os.path.join(root, d), None, MS_BIND, None)
    mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    os.mkdir(root + "/proc", 0o555)
    for d, mode in (("sandbox", 0o755), ("sandbox/work", 0o755), ("sandbox/tmp", 0o1777), ("sandbox/home", 0o755),
                    (".ctx", 0o700), (".ctx/upper", 0o755), (".ctx/work", 0o700), (".ctx/empty", 0o755)):
        os.mkdir(os.path.join(root, d), mode)
        os.chmod(os.path.join(root, d), mode)
    mount("overlay", root + "/sandbox/work", "overlay", MS_NOSUID | MS_NODEV,
          "lowerdir=%s,upperdir=%s/.ctx/upper,workdir=%s/.ctx/work" % (lower or root + "/.ctx/empty", root, root))
    mount("tmpfs", root + "/.ctx", "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0500")  # hides the upper layer
    return root


def enter_context(lower, disk_mb):
    """Stands in for namespaces.enter_namespaces (in a fresh fork, before the context's PID 1
    is forked): a root of its own, then PID, network, IPC and UTS namespaces, chrooted there."""
    root = build_root(lower, disk_mb)
    unshare_or_explain(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    os.chroot(root)
    os.chdir("/")


def op_snapshot(ctx, sid, disk_mb):
    """The agent's side of a python snapshot (SnapshotOps.op_snapshot): the interpreter forks
    its holder, which gets the agent's root (an fd of /) to keep the frozen files where the
    agent keeps them."""
    ctx.ask({"op": "quiesce"}, timeout=60)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    top = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        ctx.ask({"op": "snapshot", "snapshot": sid, "diskMb": disk_mb}, fds=[theirs.fileno(), top], timeout=120)
        theirs.close()
        return await_ready(ours, ctx.language)
    except BaseException:
        theirs.close()
        ours.close()
        raise
    finally:
        os.close(top)


def context_snapshot(server, fds, msg, become_holder):
    """In the interpreter (contexts.ContextServer.snapshot under gVisor). This process becomes
    the holder: back in the agent's root, its frozen files copied from the work directory to
    /sandbox/.frozen/<id> (as a files holder's are). The live context goes on in a fork in a
    new PID namespace (its own /proc over the old), out of the holder's sight and reach.
    fds: the holder's socket, an fd of the agent's root. become_holder: holders.become_holder,
    passed by the caller (holders.py imports contexts.py, which imports this module)."""
    problem = server.single_threaded() or (None if len(fds) == 2 else "snapshot: fds missing")
    if problem:
        for fd in fds:
            os.close(fd)
        return {"ok": False, "message": problem}
    holder_fd, top = fds
    r, w = os.pipe()
    y = os.fork()
    if y == 0:
        try:
            for fd in (holder_fd, top, w):
                os.close(fd)
            unshare_or_explain(CLONE_NEWPID)
            if os.fork() != 0:
                os._exit(0)
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
            if os.fork() != 0:  # PID 1 of the new namespace; the live context goes on in its child
                server.sock.close()
                os.close(r)
                reap_until_empty()
            copied = os.read(r, 1)
            os.close(r)
            if copied != b"1":
                return {"ok": False, "moved": True, "$creds": True,
                        "message": "the snapshot's files could not be copied (is the context's disk full?)"}
            return {"ok": True, "moved": True, "$creds": True}
        except BaseException:
            log("snapshot: the context could not move on: %s" % traceback.format_exc())
            os._exit(70)

    def enter():  # back in the agent's root, the frozen files copied from the work directory
        os.close(r)
        os.waitpid(y, 0)
        server.sock.close()  # the live context answers on it from now on
        work = os.open(WORK, os.O_RDONLY | os.O_DIRECTORY)
        os.fchdir(top)
        os.chroot(".")
        os.close(top)
        os.fchdir(work)
        os.close(work)
        return "."

    become_holder(enter, holder_fd, server, msg, w)


def forget_snapshot(family, sid):
    """A dropped snapshot's frozen files (plain directories here, not a holder's tmpfs), unless
    a live context of this family was made from it (they are its overlay's lower layer)."""
    with family.lock:
        if sid in family.holders or sid in family.context_base.values():
            return
    if set(sid) <= SNAPSHOT_ID_CHARS and sid not in (".", ".."):
        shutil.rmtree(os.path.join(FROZEN, sid), ignore_errors=True)
