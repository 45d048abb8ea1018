"""The family agent under the gVisor tier (issue 13): stateful contexts in a runsc sandbox.

Why a variant: Debian's runsc (release 20221219) refuses or lacks what family.py rests on
(measured; README, "gVisor tier"). As any uid, mount() in a user namespace of one's own is
EPERM; /proc/<pid>/ns/ holds only net, pid and user, so no namespace is handed over and
joined; pidfd_open is ENOSYS. And unshare(CLONE_NEWNS) succeeds but does not separate
anything: a mount made after it shows in the parent's mount table too (so a /proc mounted at
/proc by a new PID namespace's first process covers every process's /proc).

What it does allow, to uid 0 of its own kernel with CAP_SYS_ADMIN and CAP_SYS_CHROOT: new
PID, network, IPC and UTS namespaces, tmpfs, its own overlay, bind mounts (not MS_REC),
chroot, and a proc mounted by a PID namespace's first process that lists that namespace
only. So here a context is a root directory of its own, made of mounts in the one shared
mount table under /sandbox/.roots (0700, the agent's): read-only binds of the image's
directories, /sandbox/work an overlay (lower: empty, or a snapshot's frozen files; upper: the
root's tmpfs), /sandbox/tmp and /sandbox/home on that tmpfs, its PID namespace's /proc. Its
processes are chrooted there, in PID, network, IPC and UTS namespaces of their own.

The family container runs as uid 0 of gVisor's kernel (the host sees runsc's unprivileged
sandbox process) with CAP_SYS_ADMIN, CAP_SYS_CHROOT and CAP_SETPCAP only. A python context's
interpreter makes its snapshot's holder and its branches itself, so it keeps CAP_SYS_ADMIN
and CAP_SYS_CHROOT (of gVisor's kernel, not the host's) while user code runs in it, under a
seccomp filter that still refuses user namespaces, setns, pivot_root, the new mount API,
raw/packet/netlink sockets and interface ioctls. What that leaves user code of a python
context: it can leave its chroot and see or change its own lineage's other contexts and
snapshots (one family container holds one owner's lineage; nothing of another owner is in
it, and the host kernel is behind gVisor's). Programs a context starts for bash, go,
typescript and javascript run with no capabilities under the full filter, as under runc.
"""

import os
import secrets
import socket
import traceback

ACTIVE = os.environ.get("FAAS_FAMILY_ISOLATION") == "gvisor" and os.getuid() == 0
F = None  # the family module (family.py runs as __main__: it hands itself over, no import cycle)
CAP_SYS_CHROOT, CAP_SYS_ADMIN = 18, 21
ROOTS = "/sandbox/.roots"
MS_BIND, MS_DETACH = 0x1000, 2
IMAGE_SKIP = ("sandbox", "proc", "dev", "sys")


def bind(family_module):
    global F
    F = family_module
    if ACTIVE:
        os.makedirs(ROOTS, mode=0o700, exist_ok=True)


def build_root(lower, disk_mb):
    """A context's root directory (see the module docstring); returns its path."""
    root = os.path.join(ROOTS, secrets.token_hex(12))
    os.mkdir(root, 0o700)
    size = "size=%dm" % max(1, disk_mb)
    F.mount("tmpfs", root, "tmpfs", F.MS_NOSUID | F.MS_NODEV, size + ",mode=0755")
    for name in sorted(os.listdir("/")):
        path, target = "/" + name, os.path.join(root, name)
        if name in IMAGE_SKIP or not os.path.lexists(path):
            continue
        if os.path.islink(path):
            os.symlink(os.readlink(path), target)
        elif os.path.isdir(path):
            os.mkdir(target)
            F.mount(path, target, None, MS_BIND, None)
    for d in ("dev", "sys"):
        os.mkdir(os.path.join(root, d))
        F.mount("/" + d, os.path.join(root, d), None, MS_BIND, None)
    F.mount("tmpfs", root + "/dev/shm", "tmpfs", F.MS_NOSUID | F.MS_NODEV, "size=16m,mode=1777")
    os.mkdir(root + "/proc", 0o555)
    for d, mode in (("sandbox", 0o755), ("sandbox/work", 0o755), ("sandbox/tmp", 0o1777), ("sandbox/home", 0o755),
                    (".ctx", 0o700), (".ctx/upper", 0o755), (".ctx/work", 0o700), (".ctx/empty", 0o755)):
        os.mkdir(os.path.join(root, d), mode)
        os.chmod(os.path.join(root, d), mode)
    F.mount("overlay", root + "/sandbox/work", "overlay", F.MS_NOSUID | F.MS_NODEV,
            "lowerdir=%s,upperdir=%s/.ctx/upper,workdir=%s/.ctx/work" % (lower or root + "/.ctx/empty", root, root))
    F.mount("tmpfs", root + "/.ctx", "tmpfs", F.MS_NOSUID | F.MS_NODEV | F.MS_RDONLY, "size=4k,mode=0500")  # hides the upper layer
    return root


def enter_context(lower, disk_mb):
    """Stands in for family.enter_namespaces (in a fresh fork, before the context's PID 1 is
    forked): a root of its own, then PID, network, IPC and UTS namespaces, chrooted there."""
    root = build_root(lower, disk_mb)
    F.unshare_or_explain(F.CLONE_NEWPID | F.CLONE_NEWNET | F.CLONE_NEWIPC | F.CLONE_NEWUTS)
    os.chroot(root)
    os.chdir("/")


def init_until_empty():
    """PID 1 of a context: reaps until nothing is left in its namespace (a snapshot's holder
    counts), then detaches its root's mounts, which frees its files."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            pass
    F.libc.umount2(b"/", MS_DETACH)
    os._exit(0)


def confine_interpreter():
    """A python context's interpreter, before user code runs in it: every capability but
    CAP_SYS_ADMIN and CAP_SYS_CHROOT dropped (bounding set too), the gVisor filter installed."""
    import ctypes
    import struct

    PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
    keep = (1 << CAP_SYS_ADMIN) | (1 << CAP_SYS_CHROOT)
    for cap in range(64):
        if not keep & (1 << cap):
            F.libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    F.libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("<Ii", 0x20080522, 0)
    data = ctypes.create_string_buffer(struct.pack("<6I", keep, keep, 0, 0, 0, 0), 24)
    F.check(F.libc.capset(ctypes.c_char_p(header), data), "capset")
    F.install_filter(python_context=True, gvisor_interpreter=True)


def op_snapshot(ctx, sid, disk_mb):
    """The agent's side of a python snapshot: the interpreter forks its holder, which gets the
    agent's root (an fd of /) to keep the frozen files where the agent keeps them."""
    ctx.ask({"op": "quiesce"}, timeout=60)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    top = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        ctx.ask({"op": "snapshot", "snapshot": sid, "diskMb": disk_mb}, fds=[theirs.fileno(), top], timeout=120)
        theirs.close()
        return F.await_ready(ours, ctx.language)
    except BaseException:
        theirs.close()
        ours.close()
        raise
    finally:
        os.close(top)


def context_snapshot(server, fds, msg):
    """In the interpreter (family.ContextServer.snapshot under gVisor). This process becomes
    the holder: back in the agent's root, its frozen files copied from the work directory to
    /sandbox/.frozen/<id> (as a files holder's are). The live context goes on in a fork in a
    new PID namespace (its own /proc over the old), out of the holder's sight and reach.
    fds: the holder's socket, an fd of the agent's root."""
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
            F.unshare_or_explain(F.CLONE_NEWPID)
            if os.fork() != 0:
                os._exit(0)
            F.mount("proc", "/proc", "proc", F.MS_NOSUID | F.MS_NODEV | F.MS_NOEXEC, None)
            if os.fork() != 0:  # PID 1 of the new namespace; the live context goes on in its child
                server.sock.close()
                os.close(r)
                F.reap_until_empty()
            copied = os.read(r, 1)
            os.close(r)
            if copied != b"1":
                return {"ok": False, "moved": True, "$creds": True,
                        "message": "the snapshot's files could not be copied (is the context's disk full?)"}
            return {"ok": True, "moved": True, "$creds": True}
        except BaseException:
            F.log("snapshot: the context could not move on: %s" % traceback.format_exc())
            os._exit(70)
    try:
        os.close(r)
        os.waitpid(y, 0)
        server.sock.close()  # the live context answers on it from now on
        work = os.open(F.WORK, os.O_RDONLY | os.O_DIRECTORY)
        os.fchdir(top)
        os.chroot(".")
        os.close(top)
        os.fchdir(work)
        os.close(work)
        holder = F.HolderServer(socket.socket(fileno=holder_fd), server.language, server.main)
        holder.start(msg["snapshot"], int(msg.get("diskMb", 256)), ".", mounted=True)
        os.chdir("/")
        os.write(w, b"1")
        os.close(w)
        holder.serve()
    except BaseException:
        F.log("holder failed: %s" % traceback.format_exc())
        try:
            os.write(w, b"0")
        except OSError:
            pass
    os._exit(0)


def forget_snapshot(family, sid):
    """A dropped snapshot's frozen files (plain directories here, not a holder's tmpfs), unless
    a live context of this family was made from it (they are its overlay's lower layer)."""
    import shutil

    with family.lock:
        if sid in family.holders or sid in family.context_base.values():
            return
    if set(sid) <= F.SNAPSHOT_ID_CHARS and sid not in (".", ".."):
        shutil.rmtree(os.path.join(F.FROZEN, sid), ignore_errors=True)


# A context's CPU time is read from its /proc/<pid>/stat (family.proc_cpu_seconds), and user
# code of a python context here may mount over /proc/<pid> paths in the one mount table. The
# file is opened when the agent learns the pid (before the context runs code), and read
# through that fd from then on: a later mount over the path does not change what it reads.
STAT_FDS = {}  # pid (the agent's view) -> fd of its /proc/<pid>/stat


def watch(pid, old=None):
    if old is not None:
        unwatch(old)
    try:
        STAT_FDS[pid] = os.open("/proc/%d/stat" % pid, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        pass


def unwatch(pid):
    fd = STAT_FDS.pop(pid, None)
    if fd is not None:
        os.close(fd)


def cpu_seconds(pid):
    fd = STAT_FDS.get(pid)
    if fd is None:
        return None
    try:
        fields = os.pread(fd, 4096, 0).decode().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None
