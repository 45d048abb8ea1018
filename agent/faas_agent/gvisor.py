"""The family agent under the gVisor tier (issue 13): stateful contexts in a runsc sandbox.
This module holds what the other modules' `gvisor hook` lines ask of it without importing
anything of the package but confine (so namespaces and peers can import it); the contexts'
roots and python snapshots are in gvisor_contexts.py.

Why a variant: Debian's runsc (release 20221219) refuses or lacks what the runc path rests on
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

from .confine import drop_capabilities, install_filter, libc

ACTIVE = os.environ.get("FAAS_FAMILY_ISOLATION") == "gvisor" and os.getuid() == 0
CAP_SYS_CHROOT, CAP_SYS_ADMIN = 18, 21
ROOTS = "/sandbox/.roots"
MS_DETACH = 2


def prepare():
    """At the family agent's start: the directory the contexts' roots are made in."""
    if ACTIVE:
        os.makedirs(ROOTS, mode=0o700, exist_ok=True)


def detach_root():
    """PID 1 of a context, when nothing is left in its namespace (a snapshot's holder counts):
    its root's mounts detached, which frees its files."""
    libc.umount2(b"/", MS_DETACH)


def confine_interpreter():
    """A python context's interpreter, before user code runs in it: every capability but
    CAP_SYS_ADMIN and CAP_SYS_CHROOT dropped (bounding set too), the gVisor filter installed."""
    drop_capabilities(keep=(1 << CAP_SYS_ADMIN) | (1 << CAP_SYS_CHROOT))
    install_filter(python_context=True, gvisor_interpreter=True)


# A context's CPU time is read from its /proc/<pid>/stat (peers.proc_cpu_seconds), and user
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


def stat_text(pid):
    """The text of a watched process's /proc/<pid>/stat, read through the fd held; None when
    it is not watched."""
    fd = STAT_FDS.get(pid)
    return None if fd is None else os.pread(fd, 4096, 0).decode()
