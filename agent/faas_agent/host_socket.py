"""The direct host channel of an execution agent: a unix socket the host listens on, in a
directory of the host's (root's, mounted read-only at FAAS_AGENT_SOCKET's directory).

Frames otherwise go through Docker's attach relay (dockerd, containerd-shim and their fifos:
several process hops each way); over this socket they take one. The agent connects once, at
its start, before any user code runs; the host takes that one connection, stops listening and
removes the socket and its directory. Nothing of the mount is writable from the container (a
read-only bind): user code can neither reach the host through it nor store anything there."""

import os
import socket

from .common import log


def connect(path):
    """The connected socket (non-blocking), or None when there is none to connect to (then the
    attach stream stays the channel)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as e:
        log("no host socket at %s: %s" % (path, e))
        s.close()
        return None
    s.setblocking(False)
    return s
