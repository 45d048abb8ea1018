"""FaaS stateful-context agent: the in-sandbox side of the checkpointed, branched and
persistent modes (protocol version in PROTOCOL_VERSION; host side: src/sandbox/protocol.ts).

A "family" container holds one lineage of stateful contexts: a context made by an execute,
the snapshots taken of it, and the contexts restored or branched from those snapshots.

- A context is a live interpreter (python: this file's context server, which runs each
  program in one persistent `__main__`; javascript: ctx-runner.cjs in one persistent global
  scope; other languages: a fresh process per run) plus a work directory, in namespaces of
  its own: user, mount, PID, network, IPC and UTS. Its /sandbox/work is an overlay whose lower
  layer is the snapshot it came from (or an empty directory) and whose upper layer, where
  its writes land, is on a tmpfs of its own; it sees no other context's files or processes.
- A snapshot is a holder: a fork() of the context server taken at that instant, which keeps
  the interpreter's memory (copy-on-write; python) and a frozen copy of the work directory
  in a mount namespace of its own, and does nothing but fork contexts from them.
- A branch (or restore) is a fork of the holder that enters new namespaces with an overlay
  over the frozen files: files and memory as they were, in milliseconds.

This agent runs as the sandbox user; it reads host frames (4-byte length + JSON) on stdin
and answers on stdout. Each request runs in a thread; a context runs one program at a time.
"""

import base64
import ctypes
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import traceback
import types

import node_holder  # jsmem: javascript / typescript heaps in snapshots

PROTOCOL_VERSION = 3
AGENT_DIR = os.path.dirname(os.path.abspath(__file__))
SANDBOX = "/sandbox"
PRIVATE = SANDBOX + "/.ctx"  # in a context's namespace: its own tmpfs (overlay upper and work)
FROZEN = SANDBOX + "/.frozen"  # in a holder's namespace: its snapshots' files
WORK = SANDBOX + "/work"

BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/home/sandbox",
    "LANG": "C.UTF-8",
    "TERM": "xterm",
    "TMPDIR": "/tmp",
    "GOCACHE": "/tmp/.go-cache",
    "GOPATH": "/tmp/.go",
    "GOFLAGS": "-buildvcs=false",
    "CGO_ENABLED": "0",
    "NODE_PATH": os.path.join(AGENT_DIR, "node"),
}
SOURCE = {"python": "main.py", "javascript": "main.js", "typescript": "main.ts", "bash": "main.sh", "go": "main.go"}

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_RDONLY, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 1, 8, 0x4000, 1 << 18
PR_SET_DUMPABLE, PR_SET_PDEATHSIG = 4, 1


def log(msg):
    try:
        os.write(2, ("[family %d] %s\n" % (os.getpid(), msg)).encode())
    except OSError:
        pass


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def mount(src, target, fstype, flags, data):
    check(
        libc.mount(src.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None),
        "mount " + target,
    )


def not_dumpable():
    # No process of another context (same uid) may read this one's memory or /proc/<pid>/root.
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


# ---- confinement of user code (issue 13, isolation) ----------------------------------------
# After a context is set up, the code it runs must not reach the kernel surfaces a user
# namespace of its own would open (tc/route/xfrm netlink, packet and raw sockets, iptables,
# new mounts, more namespaces). Programs a context starts (bash, go, typescript, a javascript
# context's node) run with no capabilities (permitted, effective, inheritable, bounding and
# ambient sets empty), no_new_privs and the seccomp filter below. A python context's
# interpreter runs its code in-process and is also what later becomes a snapshot's holder and
# forks branches: it too has no capabilities and may not unshare, clone namespaces or mount.
# The namespaces a snapshot or a branch needs are made by this agent (which never runs user
# code) and only joined by the interpreter's fork (setns: the one call its filter keeps, of no
# use without the namespace fds the agent hands it, since it holds no capability).
CLONE_NEWCGROUP, CLONE_NEWTIME = 0x02000000, 0x00000080
CLONE_NEW_ANY = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME
CONTEXT_NS = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
EPERM, ENOSPC, ENOSYS, EUSERS = 1, 28, 38, 87
# Each branch of a branch nests its namespaces one level deeper (the kernel allows 32 levels).
NESTED_TOO_DEEP = ("branches of branches nest too deeply (about 15 levels): branch from an earlier snapshot, "
                   "or save the files and start a new context")
SECCOMP_ALLOW, SECCOMP_ERRNO = 0x7FFF0000, 0x00050000
AF_KEY, AF_NETLINK, AF_PACKET, SOCK_RAW = 15, 16, 17, 3
# (audit arch, syscall numbers) per machine
SYSCALLS = {
    "x86_64": (0xC000003E, {"ioctl": 16, "socket": 41, "getsockopt": 55, "setsockopt": 54, "clone": 56, "unshare": 272, "mount": 165, "umount2": 166,
                            "pivot_root": 155, "setns": 308, "clone3": 435, "open_tree": 428, "move_mount": 429,
                            "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442}),
    "aarch64": (0xC00000B7, {"ioctl": 29, "socket": 198, "getsockopt": 209, "setsockopt": 208, "clone": 220, "unshare": 97, "mount": 40, "umount2": 39,
                             "pivot_root": 41, "setns": 268, "clone3": 435, "open_tree": 428, "move_mount": 429,
                             "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442}),
}
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCKET_TYPES = (1, 2, 5)  # SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET (not raw, not SOCK_PACKET)
SOL_IP = 0
# set/getsockopt (level, optnames) refused: IPsec / xfrm on an ordinary socket
# (IP_(IPSEC|XFRM)_POLICY, IPV6_..., UDP_ENCAP), ip6tables (IP6T_SO_*), TCP repair, SO_MARK;
# and at SOL_IP every optname from 64 up (iptables, arptables, ebtables, IPVS).
REFUSED_SOCKOPTS = {SOL_IP: (16, 17), 41: (34, 35, 64, 65, 68, 69, 80), 17: (100,), 6: (19, 20, 21, 22, 29), 1: (36,)}
# Socket ioctls (0x89xx) that change interfaces, routes, ARP, bridges, bonds, ethtool or device
# settings are refused: they are what CAP_NET_ADMIN in a network namespace of one's own would
# reach if an interpreter that ran hostile code kept the capabilities joining a branch gave it.
# These reads stay allowed: FIOSETOWN..SIOCGSTAMPNS, SIOCGIFNAME, SIOCGIFCONF, SIOCGIFFLAGS,
# SIOCGIFADDR..SIOCGIFMEM (the odd ones), SIOCGIFMTU, SIOCGIFHWADDR, SIOCGIFINDEX, SIOCGIFCOUNT,
# SIOCGIFTXQLEN.
SOCKET_IOCTL_READS = set(range(0x8901, 0x8908)) | {0x8910, 0x8912, 0x8913, 0x8915, 0x8917, 0x8919, 0x891B, 0x891D,
                                                   0x891F, 0x8921, 0x8927, 0x8933, 0x8938, 0x8942}
confined = False  # this process (and what it forks) already runs under a filter of ours


def seccomp_program(python_context):
    """A classic BPF program for seccomp (struct sock_filter[]), built here: default allow,
    the calls above refused with EPERM (clone3 with ENOSYS: its flags are behind a pointer,
    and libc falls back to clone(), whose flags are checked)."""
    arch, nr = SYSCALLS[os.uname().machine]
    prog, fixups = [], []
    ld = lambda off: prog.append([0x20, 0, 0, off])  # BPF_LD|BPF_W|BPF_ABS
    ret = lambda k: prog.append([0x06, 0, 0, k])

    def jump(code, k, jt, jf):  # jt / jf: labels (str) or 0 (next)
        fixups.append((len(prog), jt, jf))
        prog.append([code, 0, 0, k])

    labels = {}
    label = lambda name: labels.__setitem__(name, len(prog))
    deny, allow = SECCOMP_ERRNO | EPERM, SECCOMP_ALLOW
    ld(4)  # arch
    jump(0x15, arch, 0, "deny")
    ld(0)  # nr
    if arch == 0xC000003E:
        jump(0x35, 0x40000000, "deny", 0)  # x32 calls
    denied = ["mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"]
    if not python_context:
        denied.append("setns")
    for name in denied:
        jump(0x15, nr[name], "deny", 0)
    jump(0x15, nr["clone3"], "enosys", 0)
    jump(0x15, nr["clone"], "clone", 0)
    jump(0x15, nr["unshare"], "clone", 0)  # the same flags test as clone's
    jump(0x15, nr["socket"], "socket", 0)
    jump(0x15, nr["setsockopt"], "setsockopt", 0)
    jump(0x15, nr["getsockopt"], "setsockopt", 0)
    jump(0x15, nr["ioctl"], "ioctl", 0)
    ret(allow)
    label("ioctl")
    ld(24)  # request: 2nd argument, low word
    jump(0x35, 0x8900, 0, "allow")  # BPF_JGE
    jump(0x25, 0x89FF, "allow", 0)  # BPF_JGT
    for ok in sorted(SOCKET_IOCTL_READS):
        jump(0x15, ok, "allow", 0)
    ret(deny)
    label("clone")  # flags: 1st argument (low word holds every CLONE_NEW* bit)
    ld(16)
    jump(0x45, CLONE_NEW_ANY, "deny", "allow")  # BPF_JSET
    label("socket")  # only unix, IPv4 and IPv6 sockets of the ordinary types
    ld(16)  # domain
    jump(0x15, AF_UNIX, "socktype", 0)
    jump(0x15, AF_INET, "socktype", 0)
    jump(0x15, AF_INET6, "socktype", "deny")
    label("socktype")
    ld(24)  # type
    prog.append([0x54, 0, 0, 0xF])  # BPF_ALU|BPF_AND: SOCK_TYPE_MASK
    for ok in SOCKET_TYPES:
        jump(0x15, ok, "allow", 0)
    ret(deny)
    label("setsockopt")  # and getsockopt (same checks)
    for level, names in REFUSED_SOCKOPTS.items():
        ld(24)  # level
        jump(0x15, level, 0, "sso%d" % level)
        ld(32)  # optname
        if level == SOL_IP:
            jump(0x35, 64, "deny", 0)  # BPF_JGE: the netfilter range (ip/arp/eb tables, IPVS)
        for name in names:
            jump(0x15, name, "deny", 0)
        ret(allow)
        label("sso%d" % level)
    label("allow")  # the shared ends, last: BPF jumps only forward
    ret(allow)
    label("deny")
    ret(deny)
    label("enosys")
    ret(SECCOMP_ERRNO | ENOSYS)
    for i, jt, jf in fixups:
        for slot, target in ((1, jt), (2, jf)):
            if target:
                off = labels[target] - (i + 1)
                assert 0 <= off < 256, (target, off)
                prog[i][slot] = off
    return b"".join(struct.pack("<HBBI", *ins) for ins in prog)


def drop_capabilities():
    """No capabilities from here on, in any set: bounding (needs CAP_SETPCAP, so first),
    ambient, then permitted / effective / inheritable."""
    PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EPERM where it is not held: nothing to drop
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("<Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = ctypes.create_string_buffer(24)  # two zeroed {effective, permitted, inheritable}
    check(libc.capset(ctypes.c_char_p(header), data), "capset")


def install_filter(python_context=False):
    """no_new_privs and the seccomp filter, for this process and everything it starts."""
    global confined
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    code = seccomp_program(python_context)
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HxxxxxxP", len(code) // 8, ctypes.addressof(buf))
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.c_char_p(fprog), 0, 0), "seccomp")
    confined = True


def confine_user_program():
    """For a process about to exec user code (a subprocess of a context)."""
    drop_capabilities()
    install_filter()


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


# ---- messages between this agent and a context (SOCK_SEQPACKET, fds by SCM_RIGHTS) ------
INLINE_MAX = 32 * 1024  # bigger messages (tars, manifests) travel in a memory file
MEMFD_MAX = 1 << 30  # the largest such file a peer may send


def send_msg(sock, obj, fds=(), creds=False):
    data = json.dumps(obj, separators=(",", ":")).encode()
    fds = list(fds)
    spill = None
    if len(data) > INLINE_MAX:
        spill = os.memfd_create("msg")
        view = memoryview(data)
        while view:
            view = view[os.write(spill, view):]
        fds.append(spill)
        data = b'{"$memfd":true}'
    anc = []
    if fds:
        anc.append((socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds)))
    if creds:
        # The kernel turns our pid into the receiver's view of it: the agent learns the real pid.
        anc.append((socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack("3i", os.getpid(), os.getuid(), os.getgid())))
    try:
        sock.sendmsg([data], anc)
    finally:
        if spill is not None:
            os.close(spill)


def recv_msg(sock):
    """-> (obj, fds, pid) or (None, [], None) at EOF."""
    data, anc, _flags, _addr = sock.recvmsg(INLINE_MAX + 1024, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    fds, pid = [], None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            n = len(payload) // 4
            fds.extend(struct.unpack("%di" % n, payload[: n * 4]))
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("3i", payload[:12])[0]
    if not data:
        return None, fds, pid
    try:
        obj = json.loads(data)
        if not isinstance(obj, dict):
            raise ValueError("not an object")
        if obj.get("$memfd") and fds:
            # Its size from the file, read exactly: a peer that sent a pipe or /dev/zero
            # instead gets nothing read (it would block or grow us without end).
            spill = fds.pop()
            try:
                st = os.fstat(spill)
                if not stat.S_ISREG(st.st_mode) or st.st_size > MEMFD_MAX:
                    raise ValueError("bad message file")
                body, off = bytearray(), 0
                while off < st.st_size:
                    b = os.pread(spill, min(1 << 20, st.st_size - off), off)
                    if not b:
                        break
                    body += b
                    off += len(b)
            finally:
                os.close(spill)
            obj = json.loads(bytes(body))
            if not isinstance(obj, dict):
                raise ValueError("not an object")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return obj, fds, pid


# ---- namespaces ---------------------------------------------------------------------------
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


def reap_until_empty():
    """PID 1 of a context's namespace: reap until no child is left, then end (the namespace with it)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # python's handler would let a context end its init
    while True:
        try:
            os.wait()
        except ChildProcessError:
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


def become_context(sock, language, lower, disk_mb, main=None):
    """In a fresh fork: enter namespaces, then fork the context server as PID 1's child.
    PID 1 of the new namespace (this process) only reaps; it lives while anything it adopted
    (snapshot holders, their branches) lives, so dropping a context never kills its snapshots.
    Never returns."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a holder ignores it; contexts wait for their children
        close_fds_except({sock.fileno()})
        enter_namespaces(lower, disk_mb)
        pid = os.fork()
        if pid != 0:
            os._exit(0)  # the namespace's init is our child; our parent reaps us
        # PID 1 of the new namespace. The context's /proc shows its own processes only.
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        server = os.fork()
        if server == 0:
            os.setsid()
            ContextServer(sock, language, main).serve()
            os._exit(0)
        sock.close()
        reap_until_empty()
    except BaseException:
        log("context failed to start: %s" % traceback.format_exc())
        os._exit(70)


def join_context(sock, language, kinds, fds, main):
    """In a fork of a python holder: join the branch's namespaces (made by the agent), then go
    on as the context server in its PID namespace, whose init (the agent's) adopts it. Never
    returns."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        close_fds_except({sock.fileno(), *fds} | node_holder.keep_fds())  # jsmem hook (node_holder.py)
        join_namespaces(kinds, fds)
        if os.fork() != 0:
            os._exit(0)
        os.setsid()
        ContextServer(sock, language, main).serve()
    except BaseException:
        log("context failed to start: %s" % traceback.format_exc())
    os._exit(70)


def fork_context(language, lower, disk_mb, main=None):
    """Forks a new context; returns our end of its socket (its ready message is still to come)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            become_context(theirs, language, lower, disk_mb, main)
        finally:
            os._exit(70)
    theirs.close()
    os.waitpid(pid, 0)  # it exits as soon as the new namespace's init is forked
    return ours


class RunTimeout(BaseException):
    pass


def on_alarm(*_):
    raise RunTimeout()


def read_capped(fd, cap):
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while len(data) <= cap:
        b = os.read(fd, min(65536, cap + 1 - len(data)))
        if not b:
            break
        data += b
    return data[:cap], len(data) > cap


def set_environ(env):
    for k in [k for k in os.environ if k not in env]:
        del os.environ[k]
    for k, v in env.items():
        if os.environ.get(k) != v:
            os.environ[k] = v



class ContextServer:
    def __init__(self, sock, language, main):
        self.sock = sock
        self.language = language
        if main is None:
            main = types.ModuleType("__main__")
            main.__builtins__ = __builtins__
        self.main = main
        self.ns = main.__dict__
        self.node = None  # javascript: the persistent node process
        self.node_control = None  # jsmem: its control socket (node_holder.py)
        self.node_held = False  # jsmem: it holds the heap for a snapshot being taken

    def serve(self):
        not_dumpable()
        if self.language == "python" and not confined:
            drop_capabilities()
            install_filter(python_context=True)  # user code runs in this process from here on
        os.chdir(WORK)
        signal.signal(signal.SIGALRM, on_alarm)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a node runner that died is an EPIPE, not our end
        if self.language in node_holder.NODE_LANGUAGES:  # jsmem hook (node_holder.py)
            self.start_node()
        self.send_ready()
        while True:
            msg, fds, _ = recv_msg(self.sock)
            if msg is None:
                os._exit(0)
            op = msg.get("op")
            try:
                if op == "run":
                    reply = self.run(msg)
                elif op == "snapshot":
                    reply = self.snapshot(fds, msg)
                    fds = []
                elif op == "quiesce":
                    reply = self.quiesce()
                elif op == "tar":
                    reply = self.tar()
                elif op == "manifest":
                    reply = {"ok": True, "manifest": tree_manifest(WORK)}
                elif op == "read":
                    reply = {"ok": True, "tar": tar_paths(WORK, msg.get("paths") or [], recursive=False)}
                else:
                    reply = {"ok": False, "message": "unknown op %r" % op}
            except Exception as e:
                reply = {"ok": False, "message": "%s: %s" % (type(e).__name__, e)}
            for fd in fds:
                os.close(fd)
            ns = own_namespaces() if reply.pop("$namespaces", False) else []
            try:
                send_msg(self.sock, reply, fds=ns, creds=bool(reply.pop("$creds", False)))
            finally:
                for fd in ns:
                    os.close(fd)
            self.reap()

    def send_ready(self):
        # A python context's namespaces go to the agent: it makes its snapshots' under them.
        ns = own_namespaces() if self.language in node_holder.MEMORY_LANGUAGES else []  # jsmem hook (node_holder.py)
        try:
            send_msg(self.sock, {"type": "ready"}, fds=ns, creds=True)
        finally:
            for fd in ns:
                os.close(fd)

    def reap(self):
        # This server is the parent of whatever user code started; collect what ended.
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def snapshot(self, fds, msg):
        """Python: this process becomes the snapshot's holder (its memory as it is now) and the
        live context moves on in a copy of it, in a new PID namespace nested in this one. So the
        holder and every branch forked from it stay outside what the context can see or signal;
        the context only ever runs in a leaf namespace. The holder copies the work directory
        before the context may run anything again. fds: the holder's socket, then the fds of
        the holder's namespaces (msg holderNs: their kinds) and of where the context moves
        (msg movedNs), made by the agent."""
        hold_kinds, moved_kinds = list(msg.get("holderNs") or []), list(msg.get("movedNs") or [])
        holder_sock_fd = fds[0] if fds else -1
        hold_fds, moved_fds = fds[1 : 1 + len(hold_kinds)], fds[1 + len(hold_kinds) :]
        problem = self.single_threaded()
        if not hold_kinds or not moved_kinds or len(moved_fds) != len(moved_kinds):
            problem = "snapshot: namespaces missing"
        if problem:
            for fd in fds:
                os.close(fd)
            self.resume_node()  # jsmem hook
            return {"ok": False, "message": problem}
        r, w = os.pipe()
        y = os.fork()
        if y == 0:
            try:
                for fd in [holder_sock_fd, w] + hold_fds:
                    os.close(fd)
                join_namespaces(moved_kinds, moved_fds)
                if os.fork() != 0:
                    os._exit(0)  # our child is in the new PID namespace, whose init adopts it
                copied = os.read(r, 1)
                os.close(r)
                self.node_moved_on()  # jsmem hook: a fork of the held node goes on with this context
                if copied != b"1":
                    # The holder failed (its disk full, say): no snapshot, the context goes on.
                    return {"ok": False, "moved": True, "$creds": True, "$namespaces": True,
                            "message": "the snapshot's files could not be copied (is the context's disk full?)"}
                return {"ok": True, "moved": True, "$creds": True, "$namespaces": True}  # the live context goes on
            except BaseException:
                log("snapshot: the context could not move on: %s" % traceback.format_exc())
                os._exit(70)
        # Here: the holder.
        try:
            for fd in [r] + moved_fds:
                os.close(fd)
            os.waitpid(y, 0)
            self.sock.close()  # the live context answers on it from now on
            join_namespaces(hold_kinds, hold_fds)
            if self.node is not None:  # jsmem hook: the held node's heap is this snapshot's
                node_holder.held_control = self.node_control
            holder = HolderServer(socket.socket(fileno=holder_sock_fd), self.language, self.main)
            holder.start(msg["snapshot"], int(msg.get("diskMb", 256)), WORK, mounted=True)
            os.write(w, b"1")
            os.close(w)
            holder.serve()
        except BaseException:
            log("holder failed: %s" % traceback.format_exc())
            try:
                os.write(w, b"0")
            except OSError:
                pass
        os._exit(0)

    @staticmethod
    def single_threaded():
        if threading.active_count() > 1 or len(os.listdir("/proc/self/task")) > 1:
            return "the context has running threads; a snapshot needs them finished (join them first)"
        return None

    def quiesce(self):
        """Before a snapshot (and before the agent makes its namespaces, whose inits would be in
        reach): what earlier runs left running cannot come along (it would stay above the
        branches), so every other process of this context's PID namespace ends here."""
        problem = self.single_threaded()
        if problem:
            return {"ok": False, "message": problem}
        if self.node is not None:  # jsmem hook: the node stays, holding its heap
            node_holder.quiesce(self.node[0])
            node_holder.hold(self.node)
            self.node_held = True
            node_holder.quiesce(self.node[0])
            self.reap()
            return {"ok": True}
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        self.reap()
        return {"ok": True}

    def tar(self):
        return {"ok": True, "tar": tar_paths(WORK, sorted(os.listdir(WORK)), recursive=True)}

    def run(self, msg):
        t0 = time.monotonic()
        cap = int(msg.get("maxOutputBytes", 1 << 20))
        inp, out, err = (self.scratch(n) for n in ("stdin", "stdout", "stderr"))
        os.write(inp, base64.b64decode(msg.get("stdin") or ""))
        os.lseek(inp, 0, os.SEEK_SET)
        for name, content in (msg.get("files") or {}).items():
            path = os.path.join(WORK, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(base64.b64decode(content))
        env = dict(BASE_ENV)
        env.update(msg.get("env") or {})
        timeout_s = max(0.001, int(msg.get("timeoutMs", 30000)) / 1000.0)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        timed_out = False
        compile_error = False
        code = msg.get("code", "")
        if self.language == "python":
            exit_code, timed_out, compile_error = self.run_python(code, env, inp, out, err, timeout_s)
        elif self.language in node_holder.NODE_LANGUAGES:  # jsmem hook (node_holder.py)
            exit_code, timed_out, compile_error = self.run_node(code, env, inp, out, err, timeout_s)
        else:
            exit_code, timed_out = self.run_process(code, env, inp, out, err, timeout_s)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        stdout, t1 = read_capped(out, cap)
        stderr, t2 = read_capped(err, cap)
        for fd in (inp, out, err):
            os.close(fd)
        cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) + (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
        return {
            "ok": True,
            "exitCode": exit_code,
            "timedOut": timed_out,
            "compileError": compile_error,
            "stdout": base64.b64encode(stdout).decode(),
            "stderr": base64.b64encode(stderr).decode(),
            "truncated": t1 or t2,
            "durationMs": (time.monotonic() - t0) * 1000.0,
            "cpuSeconds": max(0.0, cpu),
            "memoryPeakMb": max(r1.ru_maxrss, c1.ru_maxrss) / 1024.0,
        }

    def scratch(self, name):
        """A run's stdin / stdout / stderr: memory files, or for the node runner (a separate
        process) files in the context's private /tmp that it opens by path."""
        if self.language not in node_holder.NODE_LANGUAGES:  # jsmem hook (node_holder.py)
            return os.memfd_create(name)
        d = os.path.join(SANDBOX, "tmp", ".faas-run")
        os.makedirs(d, exist_ok=True)
        return os.open(os.path.join(d, name), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

    def run_python(self, code, env, inp, out, err, timeout_s):
        import io
        import linecache

        saved = [os.dup(0), os.dup(1), os.dup(2)]
        os.dup2(inp, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
        stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8", errors="backslashreplace")
        sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
        set_environ(env)
        source = "main.py"
        linecache.cache[source] = (len(code), None, code.splitlines(True), source)
        sys.argv = [source]
        if sys.path[:1] != [WORK]:
            sys.path.insert(0, WORK)
        self.ns["__file__"] = source
        sys.modules["__main__"] = self.main
        status, timed_out, compile_error = 0, False, False
        os.chdir(WORK)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            try:
                try:
                    program = compile(code, source, "exec")
                except SyntaxError:
                    compile_error = True
                    raise
                exec(program, self.ns)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except RunTimeout:
            timed_out = True
            status = 137
            print("execution timed out (the context keeps its state)", file=sys.stderr)
        except SystemExit as e:
            c = e.code
            status = 0 if c is None else (c & 0xFF if isinstance(c, int) else 1)
            if c is not None and not isinstance(c, int):
                print(c, file=sys.stderr)
        except BaseException:
            t, v, tb = sys.exc_info()
            traceback.print_exception(t, v, tb.tb_next if tb is not None and tb.tb_next is not None else tb)
            status = 1
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except Exception:
                pass
        for i, fd in enumerate(saved):
            os.dup2(fd, i)
            os.close(fd)
        sys.stdin = sys.stdout = sys.stderr = None
        return status, timed_out, compile_error

    def start_node(self):
        # jsmem hook: a restore's or branch's node is a fork of the snapshot's held node.
        if node_holder.held_control is not None:
            control, node_holder.held_control = node_holder.held_control, None
            try:
                self.node, self.node_control = node_holder.fork_node(control, self.language)
                return
            finally:
                control.close()
        self.node, self.node_control = node_holder.exec_runner(AGENT_DIR, BASE_ENV, self.language, self.confine_node, log)

    @staticmethod
    def confine_node():
        # As a python context's interpreter: setns stays (a fork of this node joins the namespaces of a branch).
        drop_capabilities()
        install_filter(python_context=True)

    def resume_node(self):
        if self.node_held:
            self.node_held = False
            node_holder.resume(self.node, self.node_control)

    def node_moved_on(self):
        """After a snapshot, in the live context: its node is a fork of the held one."""
        if self.node is None:
            return
        held, control = self.node, self.node_control
        self.node_held = False
        try:
            self.node, self.node_control = node_holder.fork_node(control, self.language)
        except BaseException:
            log("the javascript context's node could not go on: %s" % traceback.format_exc())
            self.start_node()
        finally:
            node_holder.release(held, control)

    def stop_node(self):
        pid, w, r = self.node
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        for f in (lambda: os.close(w), r.close, self.node_control.close):
            try:
                f()
            except OSError:
                pass
        self.node = None

    def run_node(self, code, env, inp, out, err, timeout_s):
        self.resume_node()  # jsmem hook: a snapshot that was not taken
        pid, w, r = self.node
        d = os.path.join(SANDBOX, "tmp", ".faas-run")
        req = {
            "code": code,
            "env": env,
            "stdin": os.path.join(d, "stdin"),
            "stdout": os.path.join(d, "stdout"),
            "stderr": os.path.join(d, "stderr"),
            "timeoutMs": int(timeout_s * 1000),
        }
        try:
            os.write(w, json.dumps(req).encode() + b"\n")
        except BrokenPipeError:
            self.stop_node()
            self.start_node()
            w, r = self.node[1], self.node[2]
            os.write(w, json.dumps(req).encode() + b"\n")
        deadline = time.monotonic() + timeout_s + 2.0
        import select

        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([r], [], [], max(0, left))
            if ready:
                line = r.readline()
                if not line:
                    # The runner died (an error its handlers could not catch): start a new one.
                    self.stop_node()
                    os.write(err, b"the javascript context's interpreter ended; its globals are lost\n")
                    self.start_node()
                    return 1, False, False
                rep = json.loads(line)
                return int(rep.get("exit", 1)), bool(rep.get("timedOut")), bool(rep.get("compileError"))
            if left <= 0:
                # Async work past its time: the runner cannot be stopped without losing its
                # state, so it is replaced (the context's globals are lost; the result says so).
                self.stop_node()
                os.write(err, b"execution timed out; the javascript context was restarted\n")
                self.start_node()
                return 137, True, False

    def run_process(self, code, env, inp, out, err, timeout_s):
        lang = self.language
        tmp = os.path.join(SANDBOX, "tmp", ".faas-run")
        os.makedirs(tmp, exist_ok=True)
        src = os.path.join(tmp, SOURCE.get(lang, "main"))
        with open(src, "w") as f:
            f.write(code)
        if lang == "bash":
            argv = ["/bin/bash", src]
        elif lang == "go":
            argv = ["/bin/sh", "-c", 'cd "$1" && go run "$2"', "sh", WORK, src]
        else:
            argv = ["/usr/bin/node", src]
        try:
            p = subprocess.Popen(argv, stdin=inp, stdout=out, stderr=err, cwd=WORK, env=env, start_new_session=True,
                                 preexec_fn=confine_user_program)
        except OSError as e:
            os.write(err, ("could not start: %s\n" % e).encode())
            return 127, False
        try:
            return p.wait(timeout=timeout_s), False
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return 137, True


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
        if not mounted:
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
            if self.main is not None and (not kinds or len(kinds) != len(ns)):
                raise ValueError("branch: namespaces missing")
            pid = os.fork()
            if pid == 0:
                self.sock.close()
                if self.main is not None:  # this interpreter ran user code: it only joins namespaces
                    join_context(child, msg.get("language") or self.language, kinds, ns, self.main)
                become_context(child, msg.get("language") or self.language, lower, int(msg.get("diskMb", 256)), self.main)
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


# ---- files --------------------------------------------------------------------------------
def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def copy_tree(src, dst):
    shutil.copytree(src, dst, symlinks=True)


def tar_paths(root, paths, recursive):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for p in paths:
            full = os.path.join(root, p)
            if os.path.lexists(full):
                tar.add(full, arcname=p, recursive=recursive)
    return base64.b64encode(buf.getvalue()).decode()


def untar(data, dest):
    """Unpacks a tar (from a context or the host's store) into dest, keeping modes and
    symlinks as they are, and writing nothing outside dest: names are relative without '..',
    and no path is followed through a symlink (parents are checked, files opened O_NOFOLLOW)."""
    import io
    import tarfile

    root = os.path.realpath(dest)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(data)), mode="r") as tar:
        for m in tar.getmembers():
            name = os.path.normpath(m.name)
            if name.startswith("/") or name == ".." or name.startswith("../") or name in (".", ""):
                raise ValueError("unsafe path in archive: %r" % m.name)
            target = os.path.join(root, name)
            parent = os.path.dirname(target)
            # every existing ancestor inside dest must be a real directory, not a link
            p = parent
            while p != root and p.startswith(root + "/"):
                if os.path.islink(p):
                    raise ValueError("path goes through a symlink: %r" % m.name)
                p = os.path.dirname(p)
            os.makedirs(parent, exist_ok=True)
            if m.isdir():
                if os.path.lexists(target) and not os.path.isdir(target) or os.path.islink(target):
                    remove(target)
                os.makedirs(target, exist_ok=True)
                os.chmod(target, m.mode & 0o7777)
            elif m.issym():
                remove(target)
                os.symlink(m.linkname, target)
            elif m.isfile():
                remove(target)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, m.mode & 0o7777)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(tar.extractfile(m), out)
                os.chmod(target, m.mode & 0o7777)
                os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)
            # other kinds (devices, fifos, hard links) are not carried


def tree_manifest(root):
    """path -> [kind, mode, sha256] for every entry under root: what a merge compares."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        for name in dirnames + sorted(filenames):
            p = os.path.join(dirpath, name)
            r = name if rel == "." else rel + "/" + name
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                out[r] = ["dir", stat.S_IMODE(st.st_mode), ""]
            elif stat.S_ISLNK(st.st_mode):
                out[r] = ["link", 0o777, hashlib.sha256(os.readlink(p).encode()).hexdigest()]
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                out[r] = ["file", stat.S_IMODE(st.st_mode), h.hexdigest()]
    return out


def content_hash(manifest):
    """A digest of the file tree: paths, kinds, modes and contents (not times)."""
    h = hashlib.sha256()
    for path in sorted(manifest):
        kind, mode, digest = manifest[path]
        h.update(("%s\0%s\0%o\0%s\n" % (path, kind, mode, digest)).encode())
    return h.hexdigest()


def tree_bytes(root):
    total = 0
    for dirpath, _d, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def diff_manifests(base, now):
    """path -> new entry, or None where the path was deleted."""
    changes = {}
    for path, entry in now.items():
        if base.get(path) != entry:
            changes[path] = entry
    for path in base:
        if path not in now:
            changes[path] = None
    return changes

# ---- the agent ------------------------------------------------------------------------------
class Peer:
    """A context server or a holder, as the agent sees it: its socket, its real pid, a lock
    (one request at a time)."""

    def __init__(self, sock, pid, language, ns=None):
        self.sock = sock
        self.pid = pid
        self.language = language
        self.lock = threading.Lock()
        self.ns = ns  # python: fds of its user, mount and PID namespaces (make_namespaces' parent)
        self.releases = []  # write ends that keep the inits of namespaces made for it waiting
        self.pidfd = None
        self.set_pid(pid)

    def set_pid(self, pid):
        """A pidfd, so a kill reaches this process even after its pid number was reused."""
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        self.pid = pid
        try:
            self.pidfd = os.pidfd_open(pid)
        except OSError:
            pass

    def ask(self, msg, fds=(), timeout=None):
        with self.lock:
            send_msg(self.sock, msg, fds=fds)
            self.sock.settimeout(timeout)
            try:
                rep, got, pid = recv_msg(self.sock)
            finally:
                self.sock.settimeout(None)
        if rep is not None and rep.get("moved") and len(got) == 3:
            self.set_ns(got)  # where the context went on
            got = []
        for fd in got:
            os.close(fd)
        if rep is None:
            raise RuntimeError("it is gone")
        if rep.get("moved") and pid:
            self.set_pid(pid)  # the context went on in another process (a snapshot was taken)
        if rep.get("ok") is False:
            raise RuntimeError(rep.get("message"))
        return rep

    def set_ns(self, fds):
        for fd in self.ns or []:
            os.close(fd)
        self.ns = list(fds) or None

    def kill(self):
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        for fd in (self.ns or []) + self.releases + ([self.pidfd] if self.pidfd is not None else []):
            try:
                os.close(fd)
            except OSError:
                pass
        self.ns, self.releases, self.pidfd = None, [], None


def proc_cpu_seconds(pid):
    """CPU time of a process and its waited-for children (utime+stime+cutime+cstime), from
    /proc: what the kernel counted, whatever the process says of itself."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / float(os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def await_ready(sock, language):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.settimeout(30)
    try:
        msg, fds, pid = recv_msg(sock)
    finally:
        sock.settimeout(None)
    ns = fds if len(fds) == 3 else None  # a python context's or holder's namespaces
    for fd in fds if ns is None else []:
        os.close(fd)
    if msg is None or msg.get("type") != "ready" or not pid:
        for fd in ns or []:
            os.close(fd)
        raise RuntimeError("it did not start")
    return Peer(sock, pid, language, ns)


class Family:
    def __init__(self):
        self.out_lock = threading.Lock()
        self.lock = threading.Lock()
        self.contexts = {}  # id -> Peer (context server)
        self.context_base = {}  # context id -> the snapshot it was made from
        self.holders = {}  # snapshot id -> Peer (holder; merged snapshots share their base's)
        for d in (PRIVATE, FROZEN, SANDBOX + "/tmp", SANDBOX + "/home", WORK):
            os.makedirs(d, exist_ok=True)
        os.chmod(SANDBOX + "/tmp", 0o1777)
        not_dumpable()

    def send(self, obj):
        data = json.dumps(obj, separators=(",", ":")).encode()
        frame = struct.pack(">I", len(data)) + data
        with self.out_lock:
            view = memoryview(frame)
            while view:
                n = os.write(1, view)
                view = view[n:]

    def serve(self):
        self.send({"type": "hello", "version": PROTOCOL_VERSION, "language": "family", "pid": os.getpid()})
        buf = b""
        while True:
            chunk = os.read(0, 65536)
            if not chunk:
                os._exit(0)
            buf += chunk
            while len(buf) >= 4:
                (n,) = struct.unpack(">I", buf[:4])
                if len(buf) < 4 + n:
                    break
                raw, buf = buf[4 : 4 + n], buf[4 + n :]
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
            self.context_base.pop(cid, None)
        if ctx is not None:
            ctx.kill()

    # -- operations --
    def op_snapshot(self, msg):
        ctx = self.context(msg["context"])
        sid, disk_mb = msg["snapshot"], int(msg.get("diskMb", 256))
        if ctx.language in node_holder.MEMORY_LANGUAGES:  # jsmem hook (node_holder.py)
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
            # No memory to keep (node cannot fork): a holder of the files, made by this agent.
            holder = self.files_holder(sid, ctx.ask({"op": "tar"}, timeout=300)["tar"], ctx.language, disk_mb)
        with self.lock:
            self.holders[sid] = holder
        info = holder.ask({"op": "info", "snapshot": sid}, timeout=120)
        return {"hasMemory": ctx.language in node_holder.MEMORY_LANGUAGES, "sizeBytes": info["sizeBytes"], "contentHash": info["contentHash"], "files": len(info["manifest"])}

    def op_branch(self, msg):
        """A new context from a snapshot: a fork of its holder, with the holder's memory (python)
        and the snapshot's files."""
        sid, cid = msg["snapshot"], msg["context"]
        holder = self.holder(sid)
        with self.lock:
            if cid in self.contexts:
                raise ValueError("context %s exists" % cid)
        disk_mb = int(msg.get("diskMb", 256))
        kinds, ns, release = [], [], None
        if holder.ns:
            # A python snapshot's holder ran user code: the branch's namespaces are made here.
            if not set(sid) <= SNAPSHOT_ID_CHARS or sid in (".", ".."):
                raise ValueError("bad snapshot id")
            kinds, ns, release = make_namespaces(holder.ns, "branch", lower=os.path.join(FROZEN, sid), disk_mb=disk_mb)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            rep = holder.ask({"op": "branch", "snapshot": sid, "diskMb": disk_mb, "language": msg.get("language"), "ns": kinds},
                             fds=[theirs.fileno()] + ns, timeout=60)
            ctx = await_ready(ours, msg.get("language") or holder.language)
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
        with self.lock:
            self.contexts[cid] = ctx
            self.context_base[cid] = sid
        return {"hasMemory": bool(rep.get("hasMemory"))}

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
        import io
        import tarfile

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
        return {"created": True, "conflicts": conflicts, "hasMemory": holder.language in node_holder.MEMORY_LANGUAGES,
                "summary": summary,
                "sizeBytes": info["sizeBytes"], "contentHash": info["contentHash"], "files": len(info["manifest"])}

    def op_drop_context(self, msg):
        self.drop_context(msg["context"])
        return {}

    def op_drop_snapshot(self, msg):
        sid = msg["snapshot"]
        with self.lock:
            getattr(self, "tar_cache", {}).pop(sid, None)  # a slice transfer the host gave up
            holder = self.holders.pop(sid, None)
            shared = holder is not None and any(h is holder for h in self.holders.values())
        if holder is not None:
            if shared:
                holder.ask({"op": "drop", "snapshot": sid}, timeout=60)
            else:
                holder.kill()  # its memory and frozen files go with it
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
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    Family().serve()


if __name__ == "__main__":
    main()
