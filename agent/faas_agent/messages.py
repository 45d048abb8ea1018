"""Messages between the family agent and a context or holder: JSON over SOCK_SEQPACKET, fds
by SCM_RIGHTS, the sender's pid by SCM_CREDENTIALS, big bodies in a memory file."""

import json
import os
import socket
import stat
import struct

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
