"""Branches made ahead: one spare context per snapshot of a javascript / typescript context (and
language and disk size), made in the background after each restore or branch of it, so the next
one only takes it. Making a branch costs a fork of the held node, whose page tables cover its
whole heap (tens of ms per 100 MB, more under load), besides the namespaces; taken from here it
costs a dictionary look-up. A spare is a branch like any other, made the same way (its own
namespaces, its own copy-on-write fork of the held node): nothing is shared between the context
that takes it and any other.

A spare waits STOPPED (SIGSTOP to every process of its PID namespace) with oom_score_adj 1000: the
host neither counts, reaps nor bills it, so nothing of it may run (the snapshot's pending timers
would otherwise spin unbilled) and, under memory pressure, it dies before any live context. Taking
it sets both back. It counts against no context limit: the agent is not told the key's limit, and
there is at most one spare per (snapshot, language, disk size), ending with its snapshot."""

import os
import signal
import socket
import threading

from . import gvisor
from .common import log
from .confine import check, libc
from .messages import recv_msg, send_msg
from .namespaces import NS_FLAGS, NS_ORDER
from .node_holder import NODE_LANGUAGES

# How long a request waits for a spare still being made before it makes a branch itself. Short:
# the host gives a request 60 s in all, and a spare not ready by now saves little.
TAKE_WAIT_S = 2


def stop(kinds, ns_fds):
    """Stops every process of a spare but its PID namespace's init, and makes each the OOM
    killer's first pick. The spare's processes are not dumpable, so the agent cannot read their
    namespace from /proc: a fork of it joins the spare's namespaces (`kinds`, `ns_fds`: those
    make_namespaces gave its branch), lists that namespace's own /proc, stops each process by
    pidfd (again until a pass finds nothing new: a process forked meanwhile) and hands the
    pidfds back. The init only waits for its release; left running, it ends the namespace (and
    every stopped process in it) when the spare is killed. Returns [(pidfd, pid, oom_score_adj
    before)]; raises when it could not stop them all (make_branch then ends the branch)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    helper = os.fork()
    if helper == 0:
        try:
            ours.close()
            by_kind = dict(zip(kinds, ns_fds))
            for kind in NS_ORDER:
                if kind in by_kind:
                    check(libc.setns(by_kind[kind], NS_FLAGS[kind]), "setns " + kind)
            if os.fork() == 0:  # in the spare's PID namespace
                seen, own = set(), os.getpid()
                for _ in range(10):
                    new = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in seen and int(n) not in (1, own)]
                    if not new:
                        break
                    fds = []
                    for pid in new:
                        seen.add(pid)
                        try:
                            fd = os.pidfd_open(pid)
                            signal.pidfd_send_signal(fd, signal.SIGSTOP)
                            fds.append(fd)
                        except OSError:
                            pass  # ended meanwhile
                    for k in range(0, len(fds), 16):
                        send_msg(theirs, {"stopped": len(fds[k : k + 16])}, fds=fds[k : k + 16])
                    for fd in fds:
                        os.close(fd)
                send_msg(theirs, {"done": True})
        except BaseException as e:
            log("a spare could not be stopped: %s" % e)
        finally:
            os._exit(0)
    theirs.close()
    pidfds, complete = [], False
    try:
        ours.settimeout(10)
        while True:
            rep, fds, _ = recv_msg(ours)
            pidfds += fds
            if rep is None or rep.get("done"):
                complete = rep is not None
                break
    except OSError as e:
        log("a spare could not be stopped: %s" % e)
    finally:
        ours.close()
        os.waitpid(helper, 0)
    if not complete:
        # Not a spare that runs unseen: the caller's clean-up ends the whole branch.
        forget([(fd, None, None) for fd in pidfds], kill=True)
        raise RuntimeError("the spare's processes could not all be stopped")
    stopped = []
    for fd in pidfds:
        pid = pidfd_pid(fd)
        stopped.append((fd, pid, set_oom_score_adj(pid, 1000) if pid else None))
    return stopped


def pidfd_pid(fd):
    """The pid (in the agent's namespace) of the process behind a pidfd, or None when it ended."""
    try:
        with open("/proc/self/fdinfo/%d" % fd) as f:
            for line in f:
                if line.startswith("Pid:"):
                    pid = int(line.split()[1])
                    return pid if pid > 0 else None
    except (OSError, ValueError):
        pass
    return None


def set_oom_score_adj(pid, value):
    """Sets it; returns the value it had (None when the process is gone)."""
    try:
        with open("/proc/%d/oom_score_adj" % pid, "r+") as f:
            old = int(f.read().strip())
            f.seek(0)
            f.write(str(value))
        return old
    except (OSError, ValueError):
        return None


def resume(stopped):
    """Undoes stop(): the oom_score_adj each had, then SIGCONT to each."""
    for fd, pid, old in stopped:
        if old is not None:
            set_oom_score_adj(pid, old)
        try:
            signal.pidfd_send_signal(fd, signal.SIGCONT)
        except OSError:
            pass
    forget(stopped)


def forget(stopped, kill=False):
    """Closes the pidfds; kill: SIGKILL first (a spare dropped unused: a stopped process would
    not end by itself, and its namespace's init waits for every process in it)."""
    for fd, _pid, _old in stopped:
        try:
            if kill:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        except OSError:
            pass  # ended already
        try:
            os.close(fd)
        except OSError:
            pass


class Spare:
    def __init__(self):
        self.done = threading.Event()
        self.ctx = None  # the spare's Peer once made
        self.has_memory = False
        self.dropped = False  # its snapshot was dropped while it was being made


class BranchSpares:
    def __init__(self):
        self.lock = threading.Lock()
        self.spares = {}  # (snapshot id, language, disk MiB) -> Spare

    @staticmethod
    def wanted(language):
        return language in NODE_LANGUAGES and not gvisor.ACTIVE  # gvisor hook: a fresh node per context there

    def take(self, key):
        """The spare for `key` (waiting briefly while it is being made), running again:
        (Peer, hasMemory), or None."""
        with self.lock:
            spare = self.spares.pop(key, None)
        if spare is None or not spare.done.wait(TAKE_WAIT_S) or spare.ctx is None:
            if spare is not None:
                self.discard(spare)  # still being made: killed when it is
            return None
        resume(getattr(spare.ctx, "stopped", []))
        return spare.ctx, spare.has_memory

    def refill(self, key, make, held):
        """Starts making the spare for `key` (make() -> (Peer, hasMemory)) unless one is there or
        its snapshot is no longer held (held() false: dropped since the request took its holder;
        the drop removes the holder before its spares, so a spare made after this check ends with
        them)."""
        with self.lock:
            if key in self.spares or not held():
                return
            spare = self.spares[key] = Spare()
        threading.Thread(target=self._make, args=(key, spare, make), daemon=True).start()

    def _make(self, key, spare, make):
        try:
            spare.ctx, spare.has_memory = make()  # stopped (make_branch(stop=True))
        except Exception as e:  # the next request makes its branch itself, and says why if it fails too
            log("a spare branch of %s could not be made: %s" % (key[0], e))
            with self.lock:
                if self.spares.get(key) is spare:
                    del self.spares[key]
        finally:
            with self.lock:  # with discard(): one of the two kills a spare dropped while being made
                dropped = spare.dropped
                spare.done.set()
        if dropped and spare.ctx is not None:
            forget(getattr(spare.ctx, "stopped", []), kill=True)
            spare.ctx.kill()

    def discard(self, spare):
        with self.lock:
            spare.dropped = True
            made = spare.done.is_set()
        if made and spare.ctx is not None:
            forget(getattr(spare.ctx, "stopped", []), kill=True)
            spare.ctx.kill()

    def drop_snapshot(self, sid):
        """Its spares end (or end once made): nothing of a dropped snapshot stays."""
        with self.lock:
            gone = [s for k, s in self.spares.items() if k[0] == sid]
            self.spares = {k: s for k, s in self.spares.items() if k[0] != sid}
        for spare in gone:
            self.discard(spare)
