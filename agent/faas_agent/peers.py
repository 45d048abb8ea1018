"""The family agent's view of a context server or a holder (a Peer), and of how it starts."""

import os
import signal
import socket
import threading

from . import gvisor
from .messages import recv_msg, send_msg


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
        if gvisor.ACTIVE:  # gvisor hook: its CPU time read through an fd held from now on
            gvisor.watch(pid, getattr(self, "pid", None))
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
        if gvisor.ACTIVE:  # gvisor hook
            gvisor.unwatch(self.pid)
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            elif gvisor.ACTIVE:  # gvisor hook: no pidfds there (ENOSYS)
                os.kill(self.pid, signal.SIGKILL)
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
        if gvisor.ACTIVE:  # gvisor hook: through the fd held since the pid was learnt
            text = gvisor.stat_text(pid)
            if text is None:
                return None
        else:
            with open("/proc/%d/stat" % pid) as f:
                text = f.read()
        fields = text.rsplit(")", 1)[1].split()
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
