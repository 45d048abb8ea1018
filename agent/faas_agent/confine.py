"""Confinement of user code in stateful contexts (issue 13, isolation): no capabilities,
no_new_privs and a seccomp filter built here (classic BPF)."""

import ctypes
import os
import struct

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


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


def seccomp_program(python_context, gvisor_interpreter=False):
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
    if gvisor_interpreter:  # gvisor hook: it makes its snapshots' namespaces itself (gvisor_contexts.py)
        denied = [d for d in denied if d not in ("mount", "umount2")] + ["setns"]
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
    refused_ns = CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWTIME if gvisor_interpreter else CLONE_NEW_ANY  # gvisor hook
    jump(0x45, refused_ns, "deny", "allow")  # BPF_JSET
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


def drop_capabilities(keep=0):
    """No capabilities from here on but those in the mask `keep` (gVisor's python interpreter
    keeps two), in any set: bounding (needs CAP_SETPCAP, so first), ambient, then permitted /
    effective / inheritable."""
    PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
    except (OSError, ValueError):
        last = 63
    for cap in (c for c in range(last + 1) if not keep & (1 << c)):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EPERM where it is not held: nothing to drop
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("<Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = ctypes.create_string_buffer(struct.pack("<6I", keep, keep, 0, 0, 0, 0), 24)  # two {effective, permitted, inheritable}
    check(libc.capset(ctypes.c_char_p(header), data), "capset")


def install_filter(python_context=False, gvisor_interpreter=False):
    """no_new_privs and the seccomp filter, for this process and everything it starts."""
    global confined
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    code = seccomp_program(python_context, gvisor_interpreter)
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HxxxxxxP", len(code) // 8, ctypes.addressof(buf))
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.c_char_p(fprog), 0, 0), "seccomp")
    confined = True


def confine_user_program():
    """For a process about to exec user code (a subprocess of a context)."""
    drop_capabilities()
    install_filter()
