"""Namespaces of contexts and snapshots: made by the family agent (which never runs user
code), entered by a fresh context, joined by a python interpreter's fork; a context's files
(an overlay over its snapshot's) and the inits of the PID namespaces made here."""

import ctypes
import os
import signal
import socket
import traceback

from . import gvisor
from .common import log
from .confine import (CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_NEWUTS, ENOSPC, EUSERS,
                      NESTED_TOO_DEEP, check, drop_capabilities, libc)
from .messages import recv_msg, send_msg

SANDBOX = "/sandbox"
PRIVATE = SANDBOX + "/.ctx"  # in a context's namespace: its own tmpfs (overlay upper and work)
FROZEN = SANDBOX + "/.frozen"  # in a holder's namespace: its snapshots' files
WORK = SANDBOX + "/work"
MS_NOSUID, MS_NODEV, MS_RDONLY, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 1, 8, 0x4000, 1 << 18
PR_SET_DUMPABLE = 4


def mount(src, target, fstype, flags, data):
    check(
        libc.mount(src.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None),
        "mount " + target,
    )


def not_dumpable():
    # No process of another context (same uid) may read this one's memory or /proc/<pid>/root.
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


# ---- namespaces made by the agent, joined by user code's interpreter ----------------------
# A python context's interpreter has run user code: it may neither create namespaces nor
# mount. Its snapshot (the holder: its memory) and its branches (forks of the holder) still
# need namespaces of their own; the agent makes them in a fork of itself that joins the
# context's (or holder's) user, mount and PID namespaces first, and hands their fds over. The
# interpreter's fork joins them with setns, which works because the new user namespace is a
# child of its own and has its uid as owner, then drops the capabilities that joining gave it.
NS_ORDER = ("user", "mnt", "net", "ipc", "uts", "pid")  # the user namespace first: it allows the rest
NS_FLAGS = {"user": CLONE_NEWUSER, "mnt": CLONE_NEWNS, "net": CLONE_NEWNET, "ipc": CLONE_NEWIPC, "uts": CLONE_NEWUTS, "pid": CLONE_NEWPID}
NS_GET_USERNS = 0xB701  # ioctl on a namespace fd: its owning user namespace
SNAPSHOT_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def own_namespaces(proc=None):
    """fds of this process's user, mount and PID namespaces (what new ones are made under)."""
    if gvisor.ACTIVE:  # gvisor hook: no namespace files there; nothing is handed over
        return []
    return [os.open(("self/ns/" if proc is not None else "/proc/self/ns/") + k, os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc)
            for k in ("user", "mnt", "pid")]


def join_namespaces(kinds, fds):
    """Moves this process into namespaces the agent made (kinds[i] is fds[i]'s kind), then drops
    every capability: the code that runs here next is the user's."""
    by_kind = dict(zip(kinds, fds))
    for kind in NS_ORDER:
        if kind in by_kind:
            check(libc.setns(by_kind[kind], NS_FLAGS[kind]), "setns " + kind)
    for fd in fds:
        os.close(fd)
    drop_capabilities()


def init_until_released(release_fd):
    """PID 1 of namespaces the agent made: reaps what it adopts; ends once the agent has let go
    (its end of `release_fd` closed: the context was dropped) and no process is left in it."""
    import select

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # PID 1: a signal without a handler is ignored
    while not select.select([release_fd], [], [], 1.0)[0]:
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
    reap_until_empty()


def make_namespaces(parent, purpose, lower=None, disk_mb=256):
    """In a fork of the agent: join `parent` (fds of a context's or holder's user, mount and PID
    namespaces), make new ones under them, hand their fds back. `purpose`:
    - "holder": user + mount, with an empty tmpfs for the snapshot's frozen files;
    - "moved": user + mount + PID, where a live context goes on after a snapshot (its holder,
      left in the PID namespace above, is out of its sight and reach);
    - "branch": user, mount, PID, network, IPC and UTS, /sandbox/work an overlay over `lower`.
    New PID namespaces get an init of ours that mounts their /proc. Returns (kinds, fds,
    release): closing `release` lets that init end once its namespace is empty."""
    proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    release_r, release_w = os.pipe() if purpose != "holder" else (None, None)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            keep = {theirs.fileno(), proc, *parent} | ({release_r} if release_r is not None else set())
            close_fds_except(keep)
            user, mnt, pidns = parent
            if purpose != "holder":
                # The PID namespace may belong to an ancestor of the user namespace (a holder
                # joined one of its own): join through its owner, then down.
                import fcntl

                owner = fcntl.ioctl(pidns, NS_GET_USERNS)
                check(libc.setns(owner, CLONE_NEWUSER), "setns user (the PID namespace's)")
                check(libc.setns(pidns, CLONE_NEWPID), "setns pid")
                if os.fstat(owner).st_ino != os.fstat(user).st_ino:
                    check(libc.setns(user, CLONE_NEWUSER), "setns user")
                os.close(owner)
            else:
                check(libc.setns(user, CLONE_NEWUSER), "setns user")
            check(libc.setns(mnt, CLONE_NEWNS), "setns mnt")
            for fd in parent:
                os.close(fd)
            # A branch keeps the network namespace of the context it descends from: that one's
            # user namespace dropped its capabilities before any user code ran, so nothing in a
            # branch can hold CAP_NET_ADMIN / CAP_NET_RAW over it, even an interpreter whose
            # hostile code kept what joining its own namespaces gave it.
            enter_userns(CLONE_NEWNS | (CLONE_NEWIPC | CLONE_NEWUTS if purpose == "branch" else 0), proc)
            if purpose == "holder":
                mount("tmpfs", FROZEN, "tmpfs", MS_NOSUID | MS_NODEV, "size=%dm,mode=0700" % max(1, disk_mb))
                kinds = ["user", "mnt"]
                fds = [os.open("self/ns/" + k, os.O_RDONLY, dir_fd=proc) for k in kinds]
                send_msg(theirs, {"ok": True, "kinds": kinds}, fds=fds)
                os._exit(0)
            if purpose == "branch":
                mount_context_files(lower, disk_mb)
            kinds = ["user", "mnt", "pid"] + (["ipc", "uts"] if purpose == "branch" else [])
            child = os.fork()
            if child == 0:
                unshare_or_explain(CLONE_NEWPID)
                mounted_r, mounted_w = os.pipe()
                if os.fork() == 0:  # PID 1 of the new namespace
                    theirs.close()
                    os.close(mounted_r)
                    os.close(proc)
                    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
                    os.write(mounted_w, b"1")
                    os.close(mounted_w)
                    init_until_released(release_r)
                    os._exit(0)
                os.close(mounted_w)
                os.close(release_r)
                if os.read(mounted_r, 1) != b"1":
                    raise OSError("the new PID namespace's init did not start")
                fds = [os.open("self/ns/" + ("pid_for_children" if k == "pid" else k), os.O_RDONLY, dir_fd=proc) for k in kinds]
                send_msg(theirs, {"ok": True, "kinds": kinds}, fds=fds)
                os._exit(0)
            # Not waited for: it lives in the tenant's PID namespace, which could stop it; the
            # container's init reaps it, and the agent waits for its answer with a time limit.
            os._exit(0)
        except BaseException as e:
            log("namespaces for a %s could not be made: %s" % (purpose, traceback.format_exc()))
            try:
                send_msg(theirs, {"ok": False, "message": str(e)})
            except OSError:
                pass
            os._exit(70)
    os.close(proc)
    theirs.close()
    if release_r is not None:
        os.close(release_r)
    rep, fds = None, []
    try:
        ours.settimeout(30)
        rep, fds, _ = recv_msg(ours)
    except (OSError, ValueError) as e:
        log("namespaces for a %s: no answer: %s" % (purpose, e))
    finally:
        ours.close()
        try:
            os.kill(pid, signal.SIGKILL)  # gone already unless it hung
        except OSError:
            pass
        os.waitpid(pid, 0)
    if not rep or not rep.get("ok"):
        for fd in fds + ([release_w] if release_w is not None else []):
            os.close(fd)
        raise RuntimeError((rep or {}).get("message") or "namespaces could not be made")
    return rep["kinds"], fds, release_w


def enter_namespaces(lower, disk_mb):
    """Called in a fresh child: new user, mount, PID (for its children), network, IPC and UTS
    namespaces, and the context's files (mount_context_files)."""
    enter_userns(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    mount_context_files(lower, disk_mb)


def mount_context_files(lower, disk_mb):
    """/sandbox/work becomes an overlay: `lower` (a snapshot's frozen files, or an empty
    directory) under a private tmpfs that takes the context's writes; /tmp and home are
    private tmpfs too; the snapshots' frozen files are hidden under an empty mount."""
    size = "size=%dm" % max(1, disk_mb)
    mount("tmpfs", PRIVATE, "tmpfs", MS_NOSUID | MS_NODEV, size + ",mode=0700")
    for d in ("upper", "work", "empty"):
        os.mkdir(os.path.join(PRIVATE, d))
    mount("overlay", WORK, "overlay", MS_NOSUID | MS_NODEV,
          "lowerdir=%s,upperdir=%s/upper,workdir=%s/work,userxattr" % (lower or PRIVATE + "/empty", PRIVATE, PRIVATE))
    mount("tmpfs", SANDBOX + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, size + ",mode=1777")
    mount("tmpfs", SANDBOX + "/home", "tmpfs", MS_NOSUID | MS_NODEV, size + ",mode=0755")
    for hidden in (FROZEN, PRIVATE):
        mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0500")


def reap_until_empty(before_exit=None):
    """PID 1 of a context's namespace: reap until no child is left, then end (the namespace with
    it), calling before_exit() first if given."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # python's handler would let a context end its init
    while True:
        try:
            os.wait()
        except ChildProcessError:
            if before_exit is not None:
                before_exit()
            os._exit(0)
        except InterruptedError:
            pass


def unshare_or_explain(flags):
    if libc.unshare(flags) != 0:
        e = ctypes.get_errno()
        if e in (EUSERS, ENOSPC):
            raise OSError(e, NESTED_TOO_DEEP)
        raise OSError(e, "unshare: " + os.strerror(e))


def enter_userns(flags, proc=None):
    """unshare() a new user namespace (with `flags`' other namespaces), mapping our uid and gid
    to themselves. /proc/self/*_map belong to root while we are not dumpable: dumpable only
    to write them (a window no context sees: each has a /proc of its own PID namespace, and
    this runs in the container's). `proc`: an fd of a /proc that shows this process, for a
    caller that joined another mount namespace first."""
    uid, gid = os.getuid(), os.getgid()
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    try:
        unshare_or_explain(CLONE_NEWUSER | flags)
        for name, text in (("setgroups", "deny"), ("uid_map", "%d %d 1" % (uid, uid)), ("gid_map", "%d %d 1" % (gid, gid))):
            fd = os.open("self/" + name if proc is not None else "/proc/self/" + name, os.O_WRONLY, dir_fd=proc)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
    finally:
        not_dumpable()
    mount("none", "/", None, MS_REC | MS_PRIVATE, None)


def close_fds_except(keep):
    """A context keeps nothing of its parent's: not the host channel, not other contexts' sockets.
    (stderr stays: it is the agent's log, which the host reads at debug level only.)"""
    devnull = os.open("/dev/null", os.O_RDWR)
    for i in range(2):
        os.dup2(devnull, i)
    os.close(devnull)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
