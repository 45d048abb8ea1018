"""The context server: one stateful context's live interpreter (python: one persistent
`__main__` in this process; javascript: ctx-runner.cjs in one persistent global scope; other
languages: a fresh process per run; interpreters.py) and its work directory, in namespaces of
its own. It runs one program at a time and becomes a snapshot's holder on request."""

import base64
import os
import resource
import signal
import socket
import threading
import time
import traceback

from . import confine, gvisor, gvisor_contexts, holders, node_holder
from .common import BASE_ENV, RunTimeout, log, new_main_module
from .filetree import tar_paths, tree_manifest
from .interpreters import Interpreters
from .messages import recv_msg, send_msg
from .namespaces import (SANDBOX, WORK, close_fds_except, enter_namespaces, join_namespaces, mount, not_dumpable, own_namespaces,
                         reap_until_empty, MS_NODEV, MS_NOEXEC, MS_NOSUID)


def become_context(sock, language, lower, disk_mb, main=None):
    """In a fresh fork: enter namespaces, then fork the context server as PID 1's child.
    PID 1 of the new namespace (this process) only reaps; it lives while anything it adopted
    (snapshot holders, their branches) lives, so dropping a context never kills its snapshots.
    Never returns."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a holder ignores it; contexts wait for their children
        close_fds_except({sock.fileno()})
        if gvisor.ACTIVE:  # gvisor hook: a root directory of its own instead
            gvisor_contexts.enter_context(lower, disk_mb)
        else:
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
        reap_until_empty(gvisor.detach_root if gvisor.ACTIVE else None)  # gvisor hook: its root's mounts go with it
    except BaseException:
        log("context failed to start: %s" % traceback.format_exc())
        os._exit(70)


def join_context(sock, language, kinds, fds, main):
    """In a fork of a python holder: join the branch's namespaces (made by the agent), then go
    on as the context server in its PID namespace, whose init (the agent's) adopts it. Never
    returns."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        close_fds_except({sock.fileno(), *fds} | node_holder.keep_fds())  # a held node's control socket stays
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


class ContextServer(Interpreters):
    def __init__(self, sock, language, main):
        self.sock = sock
        self.language = language
        if main is None:
            main = new_main_module()
        self.main = main
        self.ns = main.__dict__
        self.node = None  # javascript / typescript: the persistent node process
        self.node_control = None  # its control socket (node_holder)
        self.node_held = False  # it holds the heap for a snapshot being taken

    def serve(self):
        not_dumpable()
        if self.language == "python" and not confine.confined and gvisor.ACTIVE:  # gvisor hook
            gvisor.confine_interpreter()
        if self.language == "python" and not confine.confined:
            confine.drop_capabilities()
            confine.install_filter(python_context=True)  # user code runs in this process from here on
        os.chdir(WORK)
        signal.signal(signal.SIGALRM, on_alarm)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a node runner that died is an EPIPE, not our end
        if self.language in node_holder.NODE_LANGUAGES:
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
        # A python or node context's namespaces go to the agent: it makes its snapshots' under them.
        ns = own_namespaces() if self.language in node_holder.MEMORY_LANGUAGES else []
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
        if gvisor.ACTIVE:  # gvisor hook: the interpreter makes the namespaces itself
            return gvisor_contexts.context_snapshot(self, fds, msg, holders.become_holder)
        hold_kinds, moved_kinds = list(msg.get("holderNs") or []), list(msg.get("movedNs") or [])
        holder_sock_fd = fds[0] if fds else -1
        hold_fds, moved_fds = fds[1 : 1 + len(hold_kinds)], fds[1 + len(hold_kinds) :]
        problem = self.single_threaded()
        if not hold_kinds or not moved_kinds or len(moved_fds) != len(moved_kinds):
            problem = "snapshot: namespaces missing"
        if problem:
            for fd in fds:
                os.close(fd)
            self.resume_node()
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
                self.node_moved_on()  # a fork of the held node goes on with this context
                if copied != b"1":
                    # The holder failed (its disk full, say): no snapshot, the context goes on.
                    return {"ok": False, "moved": True, "$creds": True, "$namespaces": True,
                            "message": "the snapshot's files could not be copied (is the context's disk full?)"}
                return {"ok": True, "moved": True, "$creds": True, "$namespaces": True}  # the live context goes on
            except BaseException:
                log("snapshot: the context could not move on: %s" % traceback.format_exc())
                os._exit(70)
        # Here: the holder.
        def enter():
            for fd in [r] + moved_fds:
                os.close(fd)
            os.waitpid(y, 0)
            self.sock.close()  # the live context answers on it from now on
            join_namespaces(hold_kinds, hold_fds)
            if self.node is not None:  # the held node's heap is this snapshot's
                node_holder.held_control = self.node_control
            return WORK

        holders.become_holder(enter, holder_sock_fd, self, msg, w)

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
        if self.node is not None:  # the node stays, holding its heap (node_holder)
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
        elif self.language in node_holder.NODE_LANGUAGES:
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
        if self.language not in node_holder.NODE_LANGUAGES:
            return os.memfd_create(name)
        d = os.path.join(SANDBOX, "tmp", ".faas-run")
        os.makedirs(d, exist_ok=True)
        return os.open(os.path.join(d, name), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
