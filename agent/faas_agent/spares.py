"""Spares: ready interpreters that each run one program (python: forked from the zygote;
javascript / typescript: forked from a node zygote, `node runner.cjs --zygote`, that booted
once (where pidfds work and node runs single-threaded; elsewhere `node runner.cjs --spare`
booted ahead of time, each); bash: a bash started ahead of
time that sources its program (bash_spares.py) or, where that cannot run, a fork of the zygote
that becomes `bash SOURCE` once its program arrives), and the zygote that forks them off the
agent's request path.

Every spare reports over its stat pipe (newline-delimited JSON): its CPU time at hand-over
(so its boot is not billed) and, as it exits normally, its exit code and resource use, so the
result does not wait for the kernel to tear the process down. A program killed by a signal
sends no report; then wait4() says how it ended.
"""

import errno
import fcntl
import gc
import json
import marshal
import os
import selectors
import signal
import socket
import sys
import time
import traceback

from . import bash_spares, common, node_spares, python_spares
from .common import BASE_ENV, log, make_oom_victim, reaped_children, set_dumpable, wake_on_signals

WORK_ROOT = os.environ.get("FAAS_WORK_ROOT", "/workspace")
CODE_ROOT = os.environ.get("FAAS_CODE_ROOT", "/tmp/.faas")
SPARE_LANGUAGES = ("python", "javascript", "typescript", "bash")
SPARES = int(os.environ.get("FAAS_SPARES", "2"))
PROGRESS_FD = 5  # in spares; a program started per execution gets the number in FAAS_PROGRESS_FD
# What an execution's program starts with; spares are started with it too, so handing over a
# program changes only what differs (its id and the user's variables).
EXEC_ENV = dict(BASE_ENV, FAAS_PROGRESS_FD=str(PROGRESS_FD))




def start_spare(language):
    """Starts a spare; returns (pid, [stdin_w, stdout_r, stderr_r, ctrl_w, stat_r, progress_r])
    — the caller's ends of its pipes. Runs in the zygote (or, as a fallback, in the agent)."""
    made = []
    try:  # (short of fds or processes: nothing left open, the zygote tries again later)
        for _ in range(6):
            made.extend(os.pipe())
        pid = os.fork()
    except OSError:
        for fd in made:
            os.close(fd)
        raise
    ctrl_r, ctrl_w, stat_r, stat_w, in_r, in_w, out_r, out_w, err_r, err_w, prog_r, prog_w = made
    if pid == 0:
        try:
            os.setsid()
            srcs = (in_r, out_w, err_w, ctrl_r, stat_w, prog_w)  # to 0 1 2 stdio, 3 control, 4 status, 5 progress
            if min(srcs) <= PROGRESS_FD:
                # Lift every source above the targets first, so no dup2 clobbers one still needed.
                # (In the zygote they are all above already: its own fds take 0-5.)
                srcs = [fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in srcs]
            os.dup2(srcs[0], 0)
            os.dup2(srcs[1], 1)
            os.dup2(srcs[2], 2)
            os.dup2(srcs[3], 3)
            os.dup2(srcs[4], 4)
            os.dup2(srcs[5], PROGRESS_FD)
            os.closerange(PROGRESS_FD + 1, 65536)
            become_spare(language)
        finally:
            os._exit(70)
    for fd in (ctrl_r, stat_w, in_r, out_w, err_w, prog_w):
        os.close(fd)
    return pid, [in_w, out_r, err_r, ctrl_w, stat_r, prog_r]


def become_spare(language):
    """In a new spare whose fds 0-5 are its pipes (stdin, stdout, stderr, control, status,
    progress) and nothing else: becomes the language's spare; never returns."""
    # A python or bash spare stays as the zygote made it, not dumpable, while it waits (its
    # pipes are not for other code; a bash exec'd ahead of time is not dumpable either:
    # bash_spares.py); it becomes dumpable once its program arrives (python: _native's
    # take_program; bash: its builtin), the OOM killer's first pick from the zygote's start.
    if language == "python":
        python_spares.spare_main(3, 4, EXEC_ENV)
    elif language == "bash":
        bash_spares.spare_main(3, 4, PROGRESS_FD, WORK_ROOT, EXEC_ENV)
    else:
        # A node spare: exec'd from an execute-only copy of node where the runtime runs one
        # (node_spares.probe), so not dumpable from the execve on; runner.cjs also makes itself
        # not dumpable as its first act (closing what is left of the boot window where the
        # plain binary must be used: gVisor), and dumpable once its program arrives. Its OOM
        # preference is the zygote's, inherited.
        for fd in (3, 4, PROGRESS_FD):
            os.set_inheritable(fd, True)
        node_spares.exec_spare(language, WORK_ROOT, EXEC_ENV)


def encode_program(language, payload):
    """The control pipe's bytes for a spare of this language. A python spare reads marshal:
    the same interpreter writes and reads it, and unlike json.loads it touches (so copies) few
    of the zygote's pages in the spare. A waiting bash reads a prelude of shell commands."""
    if language == "python":
        return marshal.dumps(payload)
    if language == "bash" and bash_spares.PRESTARTED:
        return bash_spares.prelude(payload["cwd"], payload["env"], EXEC_ENV, payload["source"])
    # One line (JSON has no raw newline): a node spare stops reading at it, not at end of file.
    return json.dumps(payload).encode() + b"\n"


class Spare:
    """A ready interpreter that will run exactly one program, then exit.

    python: a child forked from the zygote, already detached and set up, that blocks on its
    control pipe. javascript / typescript: a `node runner.cjs` booted ahead of time. Either
    way the program arrives as JSON on the control pipe."""

    def __init__(self, pid, fds, language):
        self.pid = pid
        self.stdin_fd, self.stdout_fd, self.stderr_fd, self.ctrl_w, self.stat_r, self.progress_fd = fds
        for fd in fds:
            os.set_blocking(fd, False)  # the agent must never block on a child
        # A node spare or a waiting bash says when it has booted (its CPU so far, on the status
        # pipe); a python spare (or a bash one that execs later) is ready as it arrives.
        self.language = language
        self.ready = language == "python" or (language == "bash" and not bash_spares.PRESTARTED)
        self.baseline = None
        self.stat_buf = b""
        self.held = False  # stopped mid-boot by us (SparePool.pace_boots)
        self.ended = False  # its status pipe closed before it booted: it died, not reaped yet

    def booting(self):
        return not self.ready and not self.ended

    def hold(self, held):
        """Stops this spare's boot, or lets it go on. Continuing is sent every time: a program
        (same uid) may have stopped it behind our back."""
        if held and self.held:
            return
        self.held = held
        try:
            os.kill(self.pid, signal.SIGSTOP if held else signal.SIGCONT)
        except OSError:
            pass

    def discard(self):
        for fd in (self.ctrl_w, self.stat_r, self.stdin_fd, self.stdout_fd, self.stderr_fd, self.progress_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass


def pidfds_work():
    """Whether this kernel (and sandbox: gVisor has none) gives pidfds."""
    try:
        fd = os.pidfd_open(os.getpid())
    except (AttributeError, OSError):
        return False
    os.close(fd)
    return True


def rehearsal_payload():
    """What the zygote's rehearsal spare runs (see zygote_main): a program as the agent hands it
    one (launch.hand_to_spare), whose output goes nowhere."""
    return {"cwd": WORK_ROOT, "env": {"set": {}, "unset": []}, "code": "print()", "source": os.path.join(WORK_ROOT, "main.py"), "compileMarker": None}


def zygote_main(sock, language):
    """The zygote: a lean copy of the agent that only forks spares, so the agent itself never
    pays for a fork on its request path (and the forks run on another core). It sends each
    spare's pipe ends to the agent over `sock` (SCM_RIGHTS) and reports how spares end.

    Where pidfds work, the zygote learns of a spare's end from the spare's pidfd, not from
    SIGCHLD, so it needs no signal handler: it puts the signals as a program starts with (as
    `python3 main.py` or bash would have them) once, and a spare inherits them rather than
    setting them itself — each spare's own set-up is pages it copies. There its loop is C
    (common.native, where the image has it: the same loop in Python wrote, so copied, tens of
    the zygote's pages between one fork and the next); elsewhere (gVisor: no pidfds) it is the
    Python loop below."""
    # The OOM killer's first pick, inherited by every spare (they must not turn dumpable, even
    # for a moment with their pipes in place, to set it). Here, at the agent's start, no user
    # code runs yet; while not dumpable, /proc/self/oom_score_adj is root's.
    set_dumpable(True)
    make_oom_victim()
    set_dumpable(False)
    common.OOM_INHERITED = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    use_pidfds = pidfds_work()
    if use_pidfds:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        python_spares.signals_set_by_zygote()
        sig_r = None
    else:
        sig_r = wake_on_signals()
    if use_pidfds and language in ("javascript", "typescript") and node_spares.SINGLE_THREADED:
        # (A node with V8's helper threads running cannot be forked safely: elsewhere spares boot.)
        node_spares.exec_zygote(sock.fileno(), language, WORK_ROOT, EXEC_ENV)  # returns only if node could not start
    if language == "python":
        python_spares.prepare(EXEC_ENV)
    gc.freeze()  # spares share our objects; keep the GC from touching (copying) them
    # (3.11, the images' python: the C loop calls PyOS_AfterFork_Child alone, which later
    # pythons' import lock does not allow without PyOS_BeforeFork.)
    if use_pidfds and common.native is not None and sys.version_info[:2] == (3, 11):
        if language == "python":
            # The pages a python spare touches, learned from one that runs `print()` before we
            # serve (no user code runs yet): each spare after it maps them right after its
            # fork, in a few madvise calls, rather than one page fault at a time (_native.c).
            learned = common.native.rehearse(encode_program("python", rehearsal_payload()))
            if learned is None:  # (in the rehearsal spare)
                try:
                    become_spare(language)
                finally:
                    os._exit(70)
            log("python spares will map %d pages up front, %d of them only read" % learned)
        common.native.zygote_loop(sock.fileno())  # returns only in a new spare, its fds 0-5 in place
        try:
            become_spare(language)
        finally:
            os._exit(70)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    if sig_r is not None:
        sel.register(sig_r, selectors.EVENT_READ)
    owed = 0  # spares asked for and not sent yet (a fork short of a resource is tried again, as in _native.c)
    failing_since = None

    def report_ended():
        for pid, status, cpu, maxrss in reaped_children():
            sock.send(b'{"type":"exit","pid":%d,"status":%d,"cpu":%r,"maxrss":%d}' % (pid, status, cpu, maxrss))

    while True:
        for key, _ in sel.select(0.1 if owed else None):
            if key.fileobj is sock:
                try:
                    data = sock.recv(65536)  # (one message of 'S's: a shorter buffer would cut it)
                except InterruptedError:
                    continue
                if not data:
                    os._exit(0)  # the agent is gone
                owed = min(owed + data.count(b"S"), 4096)
                continue
            if key.data is not None:  # a spare's pidfd: that spare has ended
                sel.unregister(key.fileobj)
                os.close(key.fileobj)
            else:
                try:
                    while os.read(sig_r, 512):
                        pass
                except BlockingIOError:
                    pass
            report_ended()
        if failing_since is not None:  # (before a retry: a spare's pid is what the fork may need)
            report_ended()
        while owed:
            try:
                pid, fds = start_spare(language)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE):
                    raise
                if failing_since is None:
                    log("zygote: cannot fork a spare for now (out of processes, memory or fds); trying again")
                    failing_since = time.monotonic()
                elif time.monotonic() - failing_since > 10:
                    log("zygote: no fork for 10 s; ending (the agent forks spares itself)")
                    raise
                break
            if failing_since is not None:
                log("zygote: forking spares again")
            failing_since = None
            owed -= 1
            if use_pidfds:
                try:
                    sel.register(os.pidfd_open(pid), selectors.EVENT_READ, pid)
                except OSError:  # gone already: reaped by the next one's wake-up
                    pass
            # (JSON made by hand: each page the zygote writes between forks is a page fault)
            socket.send_fds(sock, [b'{"type":"spare","pid":%d}' % pid], fds)
            for fd in fds:
                os.close(fd)


class SparePool:
    """The agent's part of keeping spares: asking the zygote for them, taking them in, and
    holding back executions that arrived when none was ready. (A mixin of the Agent.)"""

    def start_zygote(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                keep = theirs.fileno()
                for fd in range(3, 1024):
                    if fd != keep:
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                zygote_main(theirs, self.language)
            except BaseException:
                log("zygote crashed: %s" % traceback.format_exc())
            finally:
                os._exit(70)
        theirs.close()
        ours.setblocking(False)
        self.zygote = ours
        self.zygote_pid = pid
        self.sel.register(ours, selectors.EVENT_READ, ("zygote", None))

    def refill_spares(self):
        if self.language not in SPARE_LANGUAGES or self.stopping:
            return
        missing = SPARES + len(self.waiting) - len(self.spares) - self.spares_requested
        if missing <= 0:
            return
        if self.zygote is not None:
            try:
                # (A program of the same uid may have stopped it: it forks the next spares.)
                os.kill(self.zygote_pid, signal.SIGCONT)
                self.zygote.send(b"S" * missing)
                self.spares_requested += missing
                return
            except OSError:
                self.zygote_gone()
        for _ in range(missing):  # no zygote: fork here
            try:
                self.add_spare(Spare(*start_spare(self.language), self.language))
            except Exception:
                log("could not start spare: %s" % traceback.format_exc())
                return

    def zygote_gone(self):
        log("zygote is gone; forking spares in the agent from now on")
        if self.zygote is not None:
            if self.sel.get_map().get(self.zygote.fileno()) is not None:
                self.sel.unregister(self.zygote)
            self.zygote.close()
        self.zygote = None
        self.zygote_pid = None  # (reaped by us as any child; its pid may be reused)
        self.spares_requested = 0

    def add_spare(self, spare):
        self.spares.append(spare)
        if not spare.ready:
            self.sel.register(spare.stat_r, selectors.EVENT_READ, ("spare-stat", spare))
        else:
            self.maybe_hello()
        while self.waiting and self.spares:
            msg = self.waiting.pop(0)
            self.handle(msg)

    def pace_boots(self):
        """Where node spares are paced (node_spares.PACED): the first booting spare runs, unless
        an execution's program is in its first BOOT_YIELD_S or waits for its own spare's boot;
        every other booting spare is held. Returns the seconds until that changes on its own
        (an execution's yield ends), or None."""
        if not node_spares.PACED or self.language not in ("javascript", "typescript"):
            return None
        booting = [spare for spare in self.spares if spare.booting()]
        if not booting:
            return None
        now = time.monotonic()
        starting = False
        until = None
        for ex in self.execs.values():
            if ex.runs_since is None:  # its spare is still booting: that boot goes first
                starting = True
            elif now < ex.runs_since + node_spares.BOOT_YIELD_S:
                starting = True
                left = ex.runs_since + node_spares.BOOT_YIELD_S - now
                until = left if until is None else min(until, left)
        for i, spare in enumerate(booting):
            if starting or i > 0:
                spare.hold(True)
            elif spare.held:
                spare.hold(False)
        return until

    def on_spare_stat(self, spare):
        """A node spare or a waiting bash that has not run anything yet reports it has booted
        (its CPU so far)."""
        try:
            chunk = os.read(spare.stat_r, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            spare.stat_buf += chunk
            if b"\n" not in spare.stat_buf:
                return
            line, spare.stat_buf = spare.stat_buf.split(b"\n", 1)
            try:
                if spare.language == "bash":  # `times`: its second line (children) is dropped
                    spare.baseline, spare.stat_buf = bash_spares.parse_times(line), b""
                else:
                    spare.baseline = float(json.loads(line)["baseline"])
            except (ValueError, TypeError, KeyError):
                pass
            spare.ready = True
            spare.hold(False)  # (held just now, its report unread: it runs when it has a program)
        else:
            spare.ended = True
        # Booted (or dead: then on_child_exit drops it); what comes next is the program's.
        self.sel.unregister(spare.stat_r)
        self.maybe_hello()

    def on_zygote(self):
        while self.zygote is not None:
            try:
                data, fds, _, _ = socket.recv_fds(self.zygote, 4096, 8)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data:
                self.zygote_gone()
                self.refill_spares()
                return
            msg = json.loads(data)
            if msg["type"] == "spare":
                self.spares_requested = max(0, self.spares_requested - 1)
                self.add_spare(Spare(msg["pid"], fds, self.language))
            elif msg["type"] == "exit":
                self.on_child_exit(msg["pid"], msg["status"], msg["cpu"], msg["maxrss"])
