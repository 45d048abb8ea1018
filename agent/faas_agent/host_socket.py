"""The direct host channel of an execution agent: a unix socket in a directory the host made
for this container alone (bind-mounted at FAAS_AGENT_SOCKET's directory).

Frames otherwise go through Docker's attach relay (dockerd, containerd-shim and their fifos:
several process hops each way); over this socket they take one. The agent listens before it
says hello (on stdout, with "socket": true), accepts exactly one connection — the host's, from
outside this container's PID namespace — then removes the socket and stops listening, before
any user code has run. The host then removes the directory, so nothing can be created there."""

import os
import socket
import struct

from .common import log


def listen(path):
    """A non-blocking listening socket at path, or None when it cannot be made (then the
    attach stream stays the channel)."""
    try:
        if os.path.lexists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.bind(path)
        os.chmod(path, 0o600)
        s.listen(1)
        s.setblocking(False)
        return s
    except OSError as e:
        log("no host socket at %s: %s" % (path, e))
        return None


def accept_host(listener, path):
    """The host's connection, or None if the one that came is not from outside the container
    (a peer in our PID namespace has a pid we can see; the host's shows as 0). Either way the
    listener is closed and the socket file removed: one connection is ever accepted."""
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return None
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        listener.close()
    pid, _uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    if pid != 0:
        log("refused a host-socket connection from pid %d inside the container" % pid)
        conn.close()
        return None
    conn.setblocking(False)
    return conn
