"""FaaS in-sandbox agent (protocol version in PROTOCOL_VERSION; host side: src/sandbox/protocol.ts).

Runs inside every sandbox container as the unprivileged sandbox user. The host attaches to
the container once and talks to this process over its stdin/stdout with length-prefixed JSON
frames (4-byte big-endian length, then UTF-8 JSON). Keeping that channel open, and keeping a
ready interpreter per language, is what makes a warm execution cost about a millisecond
instead of a `docker exec` (~60 ms) plus an interpreter start-up:

- python: this process is the zygote. It forks spares ahead of time; a spare is detached,
  has its pipes, and waits for one program, which it runs as `__main__`, then exits.
- javascript / typescript: spares are `node runner.cjs` processes booted ahead of time.
- bash, go: started per execution (bash starts in ~2 ms; go must compile anyway).

Every spare reports over its stat pipe (newline-delimited JSON): its CPU time at hand-over
(so its boot is not billed) and, as it exits normally, its exit code and resource use, so
the result does not wait for the kernel to tear the process down. A program killed by a
signal sends no report; then wait4() says how it ended.

Each execution runs in its own session (process group) in a fresh working directory; when
its main process ends, every process it left behind is killed and the directory removed.

Progress: each execution has a private pipe whose write end the program holds as the fd
named by FAAS_PROGRESS_FD (5 in spares). It writes one JSON line per report,
{"percent": n, "message": s} (the `faas-progress` command and the `faas` python and node
modules do this); the agent checks each line and passes it on as a `progress` frame.

Terminals: an execution with `tty` runs on a pseudo-terminal (stdout and stderr merged)
started for it, not in a spare; `resize` frames set its size (SIGWINCH reaches the program).
"""

import base64
import fcntl
import gc
import io
import json
import linecache
import math
import os
import re
import resource  # imported here, once, so spares (forked from the zygote) need not
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import time
import traceback
import types

PROTOCOL_VERSION = 3
AGENT_FILE = os.path.abspath(__file__)
AGENT_DIR = os.path.dirname(AGENT_FILE)
SANDBOX_ROOT = "/sandbox"
WORK_ROOT = os.environ.get("FAAS_WORK_ROOT", "/workspace")
CODE_ROOT = os.environ.get("FAAS_CODE_ROOT", "/tmp/.faas")


GO_BINARY_CACHE = "/tmp/.faas-go-bin"
GO_BINARY_CACHE_ENTRIES = 64


def go_binary_cache_path(code, env):
    """Where the binary of this go program is kept, keyed by its source and the GO* settings;
    the oldest entries go past GO_BINARY_CACHE_ENTRIES (they count against the disk)."""
    import hashlib

    key = hashlib.sha256(code.encode("utf-8", "surrogatepass"))
    for k in sorted(env):
        if k.startswith(("GO", "CGO")):
            key.update(("\0%s=%s" % (k, env[k])).encode("utf-8", "surrogatepass"))
    try:
        os.makedirs(GO_BINARY_CACHE, exist_ok=True)
        entries = [os.path.join(GO_BINARY_CACHE, n) for n in os.listdir(GO_BINARY_CACHE)]
        if len(entries) >= GO_BINARY_CACHE_ENTRIES:
            entries.sort(key=lambda p: os.stat(p, follow_symlinks=False).st_mtime)
            for p in entries[: len(entries) - GO_BINARY_CACHE_ENTRIES + 1]:
                os.unlink(p)
    except OSError:
        pass  # no cache then: the program is built as it would be without one
    return os.path.join(GO_BINARY_CACHE, key.hexdigest())


def compile_marker(exec_id):
    """A file a runner creates when the program failed to compile (it never ran): the
    result then says `compileError`, which the SDKs turn into an ExecutionError."""
    return os.path.join(CODE_ROOT, exec_id + ".compile-error")


def mark_compile_error(marker):
    if marker:
        try:
            open(marker, "w").close()
        except OSError:
            pass
READ_CHUNK = 65536
SOURCE_NAMES = {
    "python": "main.py",
    "javascript": "main.js",
    "typescript": "main.ts",
    "bash": "main.sh",
    "go": "main.go",
}
SPARE_LANGUAGES = ("python", "javascript", "typescript")
SPARES = int(os.environ.get("FAAS_SPARES", "2"))
PROGRESS_FD = 5  # in spares; a program started per execution gets the number in FAAS_PROGRESS_FD
MAX_PROGRESS_LINE = 4096
MAX_PROGRESS_MESSAGE = 1000
ID_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
# What every program starts with; spares are started with it too, so handing over a program
# changes only what differs (its id and the user's variables).
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": os.environ.get("HOME", "/home/sandbox"),
    "LANG": "C.UTF-8",
    "TERM": "xterm",
    "TMPDIR": "/tmp",
    "GOCACHE": "/tmp/.go-cache",
    "GOPATH": "/tmp/.go",
    "GOFLAGS": "-buildvcs=false",
    "CGO_ENABLED": "0",
    # `require('faas')` (the progress helper) resolves here from any node program.
    "NODE_PATH": os.path.join(AGENT_DIR, "node"),
    # The progress pipe's number in spares; a program started per execution gets its own.
    "FAAS_PROGRESS_FD": str(PROGRESS_FD),
}


def log(msg):
    # stderr of the agent is the host's debug log, never user output.
    try:
        os.write(2, ("[agent] %s\n" % msg).encode())
    except OSError:
        pass


def read_oom_kills():
    """OOM kills so far in this container's memory cgroup (v1 or v2), or None if unknown."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2 and parts[0] == "oom_kill":
                        return int(parts[1])
        except OSError:
            continue
    return None


def set_dumpable(flag):
    """PR_SET_DUMPABLE. The agent and the zygote hold the host channel (fd 1) and the pipes of
    every execution: not dumpable, their /proc/<pid>/fd is root's, so user code of the same uid
    cannot open it and forge frames. A spare sets it back before the program runs (a program
    started by execve is dumpable again anyway)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 1 if flag else 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def make_oom_victim():
    """Ask the kernel to pick user code, not the agent, when the sandbox runs out of memory."""
    try:
        fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(fd, b"1000")
        os.close(fd)
    except OSError:
        pass


def make_tty_child():
    """In a program's process before exec (a new session, the pty on 0-2): the pty becomes
    its controlling terminal, so Ctrl-C, SIGWINCH and job control work as on a terminal."""
    import termios

    make_oom_victim()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def safe_join(root, name):
    """Join a relative file name under root; the host validates too, this is the second wall."""
    if not name or name.startswith("/") or "\0" in name:
        raise ValueError("bad file name: %r" % name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ValueError("bad file name: %r" % name)
    return os.path.join(root, *parts)


def start_spare(language):
    """Starts a spare; returns (pid, [stdin_w, stdout_r, stderr_r, ctrl_w, stat_r, progress_r])
    — the caller's ends of its pipes. Runs in the zygote (or, as a fallback, in the agent)."""
    ctrl_r, ctrl_w = os.pipe()
    stat_r, stat_w = os.pipe()
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    prog_r, prog_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            # Lift every source above the targets first, so no dup2 clobbers one still needed.
            srcs = [fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in (in_r, out_w, err_w, ctrl_r, stat_w, prog_w)]
            for target, fd in enumerate(srcs):  # 0 1 2 stdio, 3 control, 4 status, 5 progress
                os.dup2(fd, target)
            os.closerange(PROGRESS_FD + 1, 65536)
            set_dumpable(True)  # /proc/self/oom_score_adj is root's while not dumpable
            make_oom_victim()
            if language == "python":
                set_dumpable(False)  # waiting, its pipes are not for other code: dumpable once its program arrives
                python_spare_main(3, 4)
            else:
                for fd in (3, 4, PROGRESS_FD):
                    os.set_inheritable(fd, True)
                os.chdir(WORK_ROOT)
                runner = os.path.join(AGENT_DIR, "runner.cjs")
                os.execve("/usr/bin/node", ["node", runner, language, "--spare", "3", "4"], BASE_ENV)
        finally:
            os._exit(70)
    for fd in (ctrl_r, stat_w, in_r, out_w, err_w, prog_w):
        os.close(fd)
    return pid, [in_w, out_r, err_r, ctrl_w, stat_r, prog_r]


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
        # A node spare says when it has booted (its CPU so far, on the status pipe); a python
        # spare is ready as it arrives.
        self.ready = language == "python"
        self.baseline = None
        self.stat_buf = b""

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


def zygote_main(sock, language):
    """The zygote: a lean copy of the agent that only forks spares, so the agent itself never
    pays for a fork on its request path (and the forks run on another core). It sends each
    spare's pipe ends to the agent over `sock` (SCM_RIGHTS) and reports how spares end."""
    import socket

    sig_r, sig_w = os.pipe()
    os.set_blocking(sig_r, False)
    os.set_blocking(sig_w, False)
    signal.set_wakeup_fd(sig_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if language == "python":
        gc.freeze()  # spares share our objects; keep the GC from touching (copying) them
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sel.register(sig_r, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is sock:
                try:
                    data = sock.recv(64)
                except InterruptedError:
                    continue
                if not data:
                    os._exit(0)  # the agent is gone
                for _ in range(data.count(b"S")):
                    pid, fds = start_spare(language)
                    socket.send_fds(sock, [json.dumps({"type": "spare", "pid": pid}).encode()], fds)
                    for fd in fds:
                        os.close(fd)
            else:
                try:
                    while os.read(sig_r, 512):
                        pass
                except BlockingIOError:
                    pass
                while True:
                    try:
                        pid, status, ru = os.wait4(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    msg = {"type": "exit", "pid": pid, "status": status, "cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss}
                    sock.send(json.dumps(msg).encode())


def terminal_size(spec):
    """(cols, rows) from an exec's or resize's numbers, each kept within 1..1000."""
    return tuple(min(1000, max(1, int(spec[k]))) for k in ("cols", "rows"))


def set_terminal_size(fd, cols, rows):
    # termios is imported here, not at the top: spares (forked from the zygote) never need it,
    # and every module the zygote holds makes each spare's fork and exit a little dearer.
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def parse_progress(line):
    """A progress report from a program's JSON line: (percent 0..100, message), or None."""
    try:
        rec = json.loads(line.decode("utf-8", "replace"))
        percent = rec["percent"]
        if isinstance(percent, bool) or not isinstance(percent, (int, float, str)):
            return None
        percent = float(percent)
    except (ValueError, TypeError, KeyError, OverflowError):
        return None
    if math.isnan(percent):
        return None
    message = rec.get("message", "")
    if not isinstance(message, str):
        message = "" if message is None else json.dumps(message)
    return min(100.0, max(0.0, percent)), message[:MAX_PROGRESS_MESSAGE]


class Execution:
    def __init__(self, msg):
        self.id = msg["id"]
        if not isinstance(self.id, str) or not ID_PATTERN.fullmatch(self.id):
            raise ValueError("bad execution id %r" % (self.id,))
        self.language = msg["language"]
        self.timeout_ms = int(msg.get("timeoutMs", 30000))
        self.max_output = int(msg.get("maxOutputBytes", 1 << 20))
        self.stream = bool(msg.get("stream", False))
        self.notify_start = self.stream or bool(msg.get("notifyStart", False))
        self.tty = terminal_size(msg["tty"]) if msg.get("tty") else None
        self.master_fd = None  # the pty's master, with `tty`
        self.eof_sent = False  # with `tty`: Ctrl-D went to the terminal for the end of input
        self.last_input = b"\n"
        self.want_progress = bool(msg.get("progress", False))
        self.progress_fd = None
        self.progress_buf = b""
        self.progress_budget = self.max_output  # bytes of reports passed on, at most
        self.env = msg.get("env") or {}
        self.keep_stdin_open = bool(msg.get("interactive", False))
        self.stdin_pending = base64.b64decode(msg.get("stdin") or "")
        self.out = {"stdout": bytearray(), "stderr": bytearray()}
        self.truncated = False
        self.pid = None
        self.status = None  # from wait4: (status, rusage)
        self.report = None  # from the spare's stat pipe: {"exit", "cpu", "maxrss"}
        self.cpu_baseline = 0.0  # CPU a spare used before the hand-over (if it reports one)
        self.stat_buf = b""
        self.stat_fd = None
        self.open_streams = 0
        self.timed_out = False
        self.killed = False
        self.finished = False
        self.started = time.monotonic()
        self.deadline = self.started + self.timeout_ms / 1000.0
        self.workdir = os.path.join(WORK_ROOT, "run-" + self.id)
        self.codedir = None
        self.stdin_fd = None


class Agent:
    def __init__(self, language):
        self.language = language
        self.sel = selectors.DefaultSelector()
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.execs = {}
        self.by_pid = {}
        self.spares = []
        self.stopping = False
        # /tmp, HOME and the work root are links into the one writable tmpfs (see Dockerfile).
        for d, mode in (("tmp", 0o1777), ("work", 0o755), ("home", 0o755)):
            path = os.path.join(SANDBOX_ROOT, d)
            if os.path.isdir(SANDBOX_ROOT) and not os.path.isdir(path):
                os.mkdir(path)
                os.chmod(path, mode)
        os.makedirs(WORK_ROOT, exist_ok=True)
        os.makedirs(CODE_ROOT, exist_ok=True)
        self.oom_kills = read_oom_kills()
        self.zygote = None
        self.zygote_pid = None
        self.spares_requested = 0
        self.waiting = []  # executions that arrived when no spare was ready
        if language in SPARE_LANGUAGES:
            self.start_zygote()
        os.set_blocking(0, False)
        os.set_blocking(1, False)
        self.sig_r, sig_w = os.pipe()
        os.set_blocking(self.sig_r, False)
        os.set_blocking(sig_w, False)
        signal.set_wakeup_fd(sig_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        self.sel.register(0, selectors.EVENT_READ, ("host", None))
        self.sel.register(self.sig_r, selectors.EVENT_READ, ("signal", None))
        self.refill_spares()
        # Hello (the host's "ready") waits for the first spares to have booted, so their boot
        # is done before any execution starts and never billed to one (usage comes from the
        # container's cgroup). If they take too long, hello goes anyway.
        self.hello_deadline = time.monotonic() + 10.0
        self.hello_sent = False
        self.maybe_hello()

    def maybe_hello(self):
        if self.hello_sent:
            return
        if self.language in SPARE_LANGUAGES and not self.stopping and time.monotonic() < self.hello_deadline:
            if sum(1 for sp in self.spares if sp.ready) < SPARES:
                return
        self.hello_sent = True
        self.send({"type": "hello", "version": PROTOCOL_VERSION, "language": self.language, "pid": os.getpid()})

    # ---- host channel -------------------------------------------------------------
    def send(self, obj):
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.outbuf += struct.pack(">I", len(data)) + data
        self.flush_out()

    def flush_out(self):
        while self.outbuf:
            try:
                n = os.write(1, self.outbuf)
            except BlockingIOError:
                break
            del self.outbuf[:n]
        want = bool(self.outbuf)
        registered = self.sel.get_map().get(1) is not None
        if want and not registered:
            self.sel.register(1, selectors.EVENT_WRITE, ("host-out", None))
        elif not want and registered:
            self.sel.unregister(1)

    def on_host_readable(self):
        try:
            chunk = os.read(0, READ_CHUNK)
        except BlockingIOError:
            return
        if not chunk:
            # The host went away: nothing more will be asked of us.
            self.stop()
            return
        self.inbuf += chunk
        while len(self.inbuf) >= 4:
            (n,) = struct.unpack(">I", self.inbuf[:4])
            if len(self.inbuf) < 4 + n:
                break
            raw = bytes(self.inbuf[4 : 4 + n])
            del self.inbuf[: 4 + n]
            try:
                self.handle(json.loads(raw))
            except Exception as e:  # a bad frame must never take the agent down
                log("bad frame: %s" % traceback.format_exc())
                self.send({"type": "error", "id": None, "message": str(e)})

    def handle(self, msg):
        t = msg.get("type")
        if t == "exec":
            try:
                self.start_exec(msg)
            except Exception as e:
                log("exec failed to start: %s" % traceback.format_exc())
                self.send({"type": "error", "id": msg.get("id"), "message": "could not start: %s" % e})
        elif t == "ping":
            self.send({"type": "pong", "seq": msg.get("seq")})
        elif t == "stdin":
            ex = self.execs.get(msg.get("id"))
            if ex is not None and ex.stdin_fd is not None:
                if msg.get("data"):
                    ex.stdin_pending += base64.b64decode(msg["data"])
                if msg.get("eof"):
                    ex.keep_stdin_open = False
                self.pump_stdin(ex)
        elif t == "kill":
            ex = self.execs.get(msg.get("id"))
            if ex is not None:
                self.kill_exec(ex)
        elif t == "resize":
            ex = self.execs.get(msg.get("id"))
            if ex is not None and ex.master_fd is not None:
                ex.tty = terminal_size(msg)
                try:
                    set_terminal_size(ex.master_fd, *ex.tty)  # the kernel sends SIGWINCH
                except OSError:
                    pass
        elif t == "shutdown":
            self.stop()
        else:
            self.send({"type": "error", "id": msg.get("id"), "message": "unknown message type %r" % t})

    # ---- executions ---------------------------------------------------------------
    def start_zygote(self):
        import socket

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

    def on_spare_stat(self, spare):
        """A node spare that has not run anything yet reports it has booted (its CPU so far)."""
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
                spare.baseline = float(json.loads(line)["baseline"])
            except (ValueError, TypeError, KeyError):
                pass
            spare.ready = True
        # Booted (or dead: then on_child_exit drops it); what comes next is the program's.
        self.sel.unregister(spare.stat_r)
        self.maybe_hello()

    def on_zygote(self):
        import socket

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

    def start_exec(self, msg):
        if msg.get("language") == self.language in SPARE_LANGUAGES and not self.spares and not msg.get("tty"):
            # None ready (a burst, or the very first request): run it as soon as one arrives.
            self.waiting.append(msg)
            self.refill_spares()
            return
        ex = Execution(msg)
        if ex.id in self.execs:
            raise ValueError("execution %s already running" % ex.id)
        lang = ex.language
        if lang not in SOURCE_NAMES:
            raise ValueError("unsupported language %r" % lang)
        try:
            os.mkdir(ex.workdir)
        except FileExistsError:  # left by an agent that was killed mid-run
            shutil.rmtree(ex.workdir, ignore_errors=True)
            os.mkdir(ex.workdir)
        for name, b64 in (msg.get("files") or {}).items():
            path = safe_join(ex.workdir, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(base64.b64decode(b64))
        env = self.child_env(ex)
        code = msg["code"]
        if ex.tty is not None:
            # A terminal of its own: started for this execution (spares have pipes, not a pty).
            pid, in_fd, out_fd, err_fd = self.spawn(ex, lang, code, env)
        elif lang in SPARE_LANGUAGES and lang == self.language:
            spare = self.spares.pop(0)
            # The program runs from memory; the source name is what tracebacks show. For node
            # it lies in a private code directory, which the runner creates only if it must
            # write the file (ES modules load from disk).
            if lang == "python":
                source = os.path.join(ex.workdir, SOURCE_NAMES[lang])
            else:
                ex.codedir = os.path.join(CODE_ROOT, ex.id)
                source = os.path.join(ex.codedir, SOURCE_NAMES[lang])
            payload = {"cwd": ex.workdir, "env": env, "code": code, "source": source, "compileMarker": compile_marker(ex.id)}
            if ex.stream:
                payload["lineBuffered"] = True  # streamed output arrives line by line, as on a terminal
            # Reports written into this spare's pipe before it was handed a program are not
            # this execution's: drop them (unwanted reports are dropped as they come anyway).
            if ex.want_progress:
                self.drain(spare.progress_fd)
            ex.progress_fd = spare.progress_fd
            os.write(spare.ctrl_w, json.dumps(payload).encode())
            os.close(spare.ctrl_w)
            pid, in_fd, out_fd, err_fd = spare.pid, spare.stdin_fd, spare.stdout_fd, spare.stderr_fd
            ex.stat_fd = spare.stat_r
            ex.stat_buf = spare.stat_buf
            if spare.baseline is not None:
                ex.cpu_baseline = spare.baseline
            if self.sel.get_map().get(spare.stat_r) is not None:
                # Still booting: its boot report comes on the status pipe, read as the program's.
                self.sel.unregister(spare.stat_r)
            self.sel.register(ex.stat_fd, selectors.EVENT_READ, ("stat", ex))
        else:
            pid, in_fd, out_fd, err_fd = self.spawn(ex, lang, code, env)
        ex.pid = pid
        self.execs[ex.id] = ex
        self.by_pid[pid] = ex
        for name, fd in (("stdout", out_fd), ("stderr", err_fd)):
            if fd is None:  # a terminal has one stream
                continue
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, ("out", (ex, name)))
            ex.open_streams += 1
        self.sel.register(ex.progress_fd, selectors.EVENT_READ, ("progress", ex))
        os.set_blocking(in_fd, False)
        ex.stdin_fd = in_fd
        self.pump_stdin(ex)
        if ex.notify_start:
            self.send({"type": "started", "id": ex.id, "pid": pid})

    def write_source(self, ex, lang, code):
        """The program's source file, in a private directory outside its working directory."""
        ex.codedir = os.path.join(CODE_ROOT, ex.id)
        os.mkdir(ex.codedir)
        source = os.path.join(ex.codedir, SOURCE_NAMES[lang])
        with open(source, "w", encoding="utf-8") as f:
            f.write(code)
        return source

    def spawn(self, ex, lang, code, env):
        """Starts a program that has no spare (bash, go; any language on a terminal): source
        in a private code dir. Returns (pid, stdin, stdout, stderr) — the agent's ends; on a
        terminal stdin and stdout are the pty's master and stderr is None."""
        source = self.write_source(ex, lang, code)
        if lang == "bash":
            argv = ["bash", source]
        elif lang == "go":
            binary = os.path.join(ex.codedir, "main")
            # A failed build leaves the compile marker: the program never ran. A program this
            # container built before (same source, same GO* settings) runs its binary again
            # (the container is one owner's; the build cache stays warm for the others).
            built = go_binary_cache_path(code, env)
            argv = ["/bin/sh", "-c", 'if [ -x "$3" ]; then exec "$3"; fi; go build -o "$0" "$1" || { s=$?; : > "$2"; exit $s; }; '
                    'ln -f "$0" "$3" 2>/dev/null; exec "$0"', binary, source, compile_marker(ex.id), built]
        elif lang == "python":  # on a terminal: run as a spare would, in a fresh interpreter
            argv = [sys.executable, AGENT_FILE, "--run-python", source, os.path.join(ex.workdir, SOURCE_NAMES[lang]), compile_marker(ex.id)]
        else:  # node, on a terminal or in a container started for another language
            argv = ["node", os.path.join(AGENT_DIR, "runner.cjs"), lang, "--direct", source, compile_marker(ex.id)]
        prog_r, prog_w = os.pipe()
        env["FAAS_PROGRESS_FD"] = str(prog_w)
        if ex.tty is not None:
            master, slave = os.openpty()
            set_terminal_size(master, *ex.tty)
            child_in = child_out = child_err = slave
            setup = make_tty_child
        else:
            in_r, in_w = os.pipe()
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            child_in, child_out, child_err = in_r, out_w, err_w
            setup = make_oom_victim
        ours = [prog_r] + ([master] if ex.tty is not None else [in_w, out_r, err_r])
        try:
            proc = subprocess.Popen(
                argv,
                stdin=child_in,
                stdout=child_out,
                stderr=child_err,
                pass_fds=(prog_w,),
                start_new_session=True,
                cwd=ex.workdir,
                env=env,
                preexec_fn=setup,
            )
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in {child_in, child_out, child_err, prog_w}:
                os.close(fd)
        proc.returncode = 0  # reaped by the agent with wait4 (for its rusage), not by Popen
        os.set_blocking(prog_r, False)
        ex.progress_fd = prog_r
        if ex.tty is not None:
            ex.master_fd = master
            return proc.pid, os.dup(master), master, None
        return proc.pid, in_w, out_r, err_r

    def child_env(self, ex):
        env = dict(BASE_ENV)  # FAAS_PROGRESS_FD is right for spares; spawn() sets its own
        if ex.tty is not None:
            env["TERM"] = "xterm-256color"
        env["FAAS_EXECUTION_ID"] = ex.id
        env.update({str(k): str(v) for k, v in ex.env.items()})
        if "FAAS_PROGRESS_FD" in ex.env:  # ours: it names the execution's pipe
            env["FAAS_PROGRESS_FD"] = BASE_ENV["FAAS_PROGRESS_FD"]
        return env

    def drain(self, fd):
        """Reads and drops what is waiting in a pipe."""
        try:
            while os.read(fd, 65536):
                pass
        except OSError:
            pass

    def on_progress(self, ex, final=False):
        """Reads a program's progress reports; passes on the good ones, drops the rest.
        `final`: the execution is ending — read what is there, then close the pipe."""
        fd = ex.progress_fd
        eof = False
        for _ in range(64 if final else 1):
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                eof = True
                break
            ex.progress_buf += chunk
            *lines, ex.progress_buf = ex.progress_buf.split(b"\n")
            if len(ex.progress_buf) > MAX_PROGRESS_LINE:
                ex.progress_buf = b""  # no newline in sight: not a report
            for line in lines:
                if len(line) > MAX_PROGRESS_LINE or ex.progress_budget <= 0 or not ex.want_progress:
                    continue
                report = parse_progress(line)
                if report is not None:
                    ex.progress_budget -= len(line)
                    self.send({"type": "progress", "id": ex.id, "percent": report[0], "message": report[1]})
        if eof or final:
            if self.sel.get_map().get(fd) is not None:
                self.sel.unregister(fd)
            os.close(fd)
            ex.progress_fd = None

    def pump_stdin(self, ex):
        fd = ex.stdin_fd
        if fd is None:
            return
        if ex.tty is not None and not ex.keep_stdin_open and not ex.eof_sent:
            # A terminal has no "close": its end of input is Ctrl-D at the start of a line
            # (a second one ends a line that has no newline yet).
            ex.eof_sent = True
            tail = ex.stdin_pending[-1:] or ex.last_input
            ex.stdin_pending += b"\x04" if tail in (b"\n", b"\r") else b"\x04\x04"
        if ex.stdin_pending and ex.tty is not None:
            ex.last_input = ex.stdin_pending[-1:]
        while ex.stdin_pending:
            try:
                n = os.write(fd, ex.stdin_pending)
            except BlockingIOError:
                break
            except OSError:  # the program closed its stdin
                ex.stdin_pending = b""
                break
            ex.stdin_pending = ex.stdin_pending[n:]
        registered = self.sel.get_map().get(fd) is not None
        if ex.stdin_pending:
            if not registered:
                self.sel.register(fd, selectors.EVENT_WRITE, ("in", ex))
            return
        if registered:
            self.sel.unregister(fd)
        if not ex.keep_stdin_open:
            os.close(fd)
            ex.stdin_fd = None

    def on_output(self, fd, ex, name):
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # (a pty's master reads EIO once the program and its children are gone)
            self.sel.unregister(fd)
            os.close(fd)
            if fd == ex.master_fd:
                ex.master_fd = None
            ex.open_streams -= 1
            self.maybe_finish(ex)
            return
        buf = ex.out[name]
        room = ex.max_output - len(buf)
        if room < len(chunk):
            ex.truncated = True
            chunk = chunk[: max(room, 0)]
        if chunk:
            buf += chunk
            if ex.stream:
                self.send({"type": "output", "id": ex.id, "stream": name, "data": base64.b64encode(chunk).decode()})

    def on_stat(self, fd, ex):
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            ex.stat_buf += chunk
            *lines, ex.stat_buf = ex.stat_buf.split(b"\n")
            for line in lines:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if "baseline" in rec:
                    ex.cpu_baseline = float(rec["baseline"])
                elif "exit" in rec and ex.report is None and not ex.timed_out and not ex.killed:
                    ex.report = rec
                    # The program is ending: end whatever it left behind so its pipes close.
                    # (The leader may get the SIGKILL on its way out; its report already counts.)
                    self.kill_group(ex.pid)
                    self.maybe_finish(ex)
            return
        self.close_stat(ex)

    def close_stat(self, ex):
        if ex.stat_fd is not None:
            if self.sel.get_map().get(ex.stat_fd) is not None:
                self.sel.unregister(ex.stat_fd)
            os.close(ex.stat_fd)
            ex.stat_fd = None

    def reap(self):
        while True:
            try:
                pid, status, rusage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.on_child_exit(pid, status, rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss)

    def on_child_exit(self, pid, status, cpu, maxrss_kb):
        """A program or spare ended (reaped here, or by the zygote which tells us)."""
        if pid == self.zygote_pid:
            return
        ex = self.by_pid.pop(pid, None)
        if ex is None:
            dead = [sp for sp in self.spares if sp.pid == pid]
            if dead:  # a spare died before use (killed, out of memory): replace it
                self.spares.remove(dead[0])
                if self.sel.get_map().get(dead[0].stat_r) is not None:
                    self.sel.unregister(dead[0].stat_r)
                dead[0].discard()
                self.refill_spares()
            return
        if ex.finished:
            return  # already answered from its own exit report
        ex.status = (status, cpu, maxrss_kb)
        self.kill_group(ex.pid)
        self.maybe_finish(ex)

    def kill_group(self, pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass

    def kill_exec(self, ex):
        ex.killed = True
        self.kill_group(ex.pid)
        try:
            os.kill(ex.pid, signal.SIGKILL)
        except OSError:
            pass

    def stray_count_unknown(self):
        """False when the pids cgroup shows no process beyond the known ones (no sweep needed)."""
        try:
            with open("/sys/fs/cgroup/pids/pids.current") as f:
                current = int(f.read())
        except (OSError, ValueError):
            try:
                with open("/sys/fs/cgroup/pids.current") as f:
                    current = int(f.read())
            except (OSError, ValueError):
                return True
        # docker-init, this agent, the zygote, the spares (ready and on their way); a finished
        # program may still be exiting.
        base = 2 if os.getpid() == 1 else 3  # the agent is PID 1 unless an init runs it
        return current > base + len(self.spares) + self.spares_requested + 1

    def sweep_strays(self):
        """Kill processes that escaped their execution's process group (setsid, double fork).

        Only inside a sandbox (FAAS_IN_SANDBOX=1, set by the host) and never as root: outside
        one, "every other process" would be the host's."""
        if os.environ.get("FAAS_IN_SANDBOX") != "1" or os.getuid() == 0:
            return
        uid = os.getuid()
        keep = {os.getpid(), 1, self.zygote_pid}
        keep.update(s.pid for s in self.spares)
        if self.spares_requested:
            return  # a spare is being born; it is not in our list yet
        live_groups = {ex.pid for ex in self.execs.values()}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if pid in keep:
                continue
            try:
                if os.stat("/proc/%d" % pid).st_uid != uid:
                    continue
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                state, ppid, pgid = fields[0], int(fields[1]), int(fields[2])
            except (OSError, IndexError, ValueError):
                continue
            if state == "Z" or pgid in live_groups or pid in live_groups or ppid == 0:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def maybe_finish(self, ex):
        if ex.finished or (ex.status is None and ex.report is None) or ex.open_streams > 0:
            return
        ex.finished = True
        if ex.stdin_fd is not None:
            if self.sel.get_map().get(ex.stdin_fd) is not None:
                self.sel.unregister(ex.stdin_fd)
            os.close(ex.stdin_fd)
            ex.stdin_fd = None
        if ex.progress_fd is not None:
            if ex.want_progress:
                self.on_progress(ex, final=True)  # reports made just before the end go before the result
            else:
                self.sel.unregister(ex.progress_fd)
                os.close(ex.progress_fd)
                ex.progress_fd = None
        del self.execs[ex.id]
        signum = None
        oom = False
        if ex.report is not None:
            code = int(ex.report["exit"]) & 0xFF
            cpu = float(ex.report.get("cpu", 0.0))
            maxrss_kb = float(ex.report.get("maxrss", 0))
        else:
            status, cpu, maxrss_kb = ex.status
            if os.WIFEXITED(status):
                code = os.WEXITSTATUS(status)
            else:
                signum = os.WTERMSIG(status)
                code = 128 + signum
            if signum == signal.SIGKILL and not ex.timed_out and not ex.killed:
                kills = read_oom_kills()
                oom = kills is not None and self.oom_kills is not None and kills > self.oom_kills
                self.oom_kills = kills
        self.close_stat(ex)
        self.send(
            {
                "type": "result",
                "id": ex.id,
                "exitCode": code,
                "signal": signum,
                "timedOut": ex.timed_out,
                "oomKilled": oom,
                "killed": ex.killed and not ex.timed_out,
                "truncated": ex.truncated,
                "stdout": base64.b64encode(bytes(ex.out["stdout"])).decode(),
                "stderr": base64.b64encode(bytes(ex.out["stderr"])).decode(),
                "durationMs": round((time.monotonic() - ex.started) * 1000, 3),
                "compileError": self.compile_failed(ex, code),
                "cpuSeconds": round(max(0.0, cpu - ex.cpu_baseline), 6),
                "memoryPeakMb": round(maxrss_kb / 1024.0, 3),
            }
        )
        # Clean-up and the next spare come after the answer, off its critical path.
        if not self.execs and self.stray_count_unknown():
            self.sweep_strays()
        try:
            os.rmdir(ex.workdir)  # the common case: the program left its directory empty
        except OSError:
            shutil.rmtree(ex.workdir, ignore_errors=True)
        if ex.codedir:
            shutil.rmtree(ex.codedir, ignore_errors=True)
        self.refill_spares()

    def compile_failed(self, ex, code):
        """Whether the program failed to compile: its runner left the marker, or (bash, which
        parses as it goes) it exited 2, bash's syntax-error status, and `bash -n` agrees."""
        marker = compile_marker(ex.id)
        try:
            os.unlink(marker)
            return True
        except OSError:
            pass
        if ex.language == "bash" and code == 2 and ex.codedir:
            source = os.path.join(ex.codedir, SOURCE_NAMES["bash"])
            try:
                return subprocess.run(["bash", "-n", source], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5).returncode != 0
            except (OSError, subprocess.SubprocessError):
                return False
        return False

    def check_deadlines(self):
        now = time.monotonic()
        nearest = None
        for ex in list(self.execs.values()):
            if ex.status is None and ex.report is None and not ex.timed_out:
                if now >= ex.deadline:
                    ex.timed_out = True
                    self.kill_exec(ex)
                else:
                    left = ex.deadline - now
                    nearest = left if nearest is None else min(nearest, left)
        return nearest

    def stop(self):
        self.stopping = True
        for ex in list(self.execs.values()):
            self.kill_exec(ex)
        for s in self.spares:
            s.discard()
        if self.zygote_pid:
            try:
                os.kill(self.zygote_pid, signal.SIGKILL)
            except OSError:
                pass

    def run(self):
        while not self.stopping:
            timeout = self.check_deadlines()
            if not self.hello_sent:
                self.maybe_hello()
                left = max(0.0, self.hello_deadline - time.monotonic())
                timeout = left if timeout is None else min(timeout, left)
            for key, _ in self.sel.select(timeout):
                # An earlier event of this batch may have closed this fd, and a new pipe may
                # have taken its number since: act only on keys that are still registered.
                if self.sel.get_map().get(key.fd) is not key:
                    continue
                kind, data = key.data
                if kind == "host":
                    self.on_host_readable()
                elif kind == "out":
                    self.on_output(key.fd, data[0], data[1])
                elif kind == "stat":
                    self.on_stat(key.fd, data)
                elif kind == "progress":
                    self.on_progress(data)
                elif kind == "spare-stat":
                    self.on_spare_stat(data)
                elif kind == "zygote":
                    self.on_zygote()
                elif kind == "signal":
                    try:
                        while os.read(self.sig_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self.reap()
                elif kind == "host-out":
                    self.flush_out()
                elif kind == "in":
                    self.pump_stdin(data)
            if self.execs:
                self.reap()  # a SIGCHLD can be coalesced with an earlier one
        os.set_blocking(1, True)
        if self.outbuf:
            os.write(1, bytes(self.outbuf))


def set_environ(env):
    """Makes os.environ equal to env, touching only what differs."""
    for k in [k for k in os.environ if k not in env]:
        del os.environ[k]
    for k, v in env.items():
        if os.environ.get(k) != v:
            os.environ[k] = v


def python_spare_main(ctrl_fd, stat_fd):
    """In a forked python spare: get ready, wait for the program, run it like `python3 main.py`."""
    make_oom_victim()
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    compile("pass", "<warm-up>", "exec")  # touch the compiler's pages before the clock starts
    # Everything that does not depend on the program is done before the hand-over.
    set_environ(BASE_ENV)
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = stdin, stdout, stderr
    # The zygote's objects stay frozen (gc.unfreeze would write to every one of them and so
    # copy every page); the program's own objects are collected as usual.
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main

    chunks = []
    while True:
        b = os.read(ctrl_fd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(ctrl_fd)
    req = json.loads(b"".join(chunks))
    set_dumpable(True)  # the program's processes are ordinary ones (sweep_strays finds what they leave)
    t = os.times()
    baseline = t.user + t.system  # set-up before the hand-over is not billed

    set_environ(req["env"])
    if req.get("lineBuffered"):
        stdout.reconfigure(line_buffering=True)  # streamed: flush at each line, as on a terminal
    status = run_python_program(main, req["code"], req["source"], req["cwd"], req.get("compileMarker"))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime - baseline
    report = b'{"exit":%d,"cpu":%f,"maxrss":%d}\n' % (status, cpu, max(me.ru_maxrss, kids.ru_maxrss))
    # Close our ends of the output pipes first, so the agent has all output when it reads the report.
    os.close(1)
    os.close(2)
    # From here on only our exit is left: let the agent (woken by the report) go first rather
    # than wait on this CPU while the kernel tears this process down.
    try:
        os.nice(19)
    except OSError:
        pass
    try:
        os.write(stat_fd, report)
    except OSError:
        pass
    os._exit(status)


def run_python_program(main, code, source, cwd, marker=None):
    """Runs code as `python3 main.py` would in cwd (main: a fresh __main__ module); returns
    its exit status. A syntax error (the program never ran) leaves the compile marker."""
    # Tracebacks show source lines without the file being written anywhere.
    linecache.cache[source] = (len(code), None, code.splitlines(True), source)
    os.chdir(cwd)
    sys.argv = [source]
    sys.path[0] = cwd
    main.__file__ = source
    status = 0
    try:
        try:
            program = compile(code, source, "exec")
        except SyntaxError:
            mark_compile_error(marker)
            raise
        exec(program, main.__dict__)
    except SystemExit as e:
        c = e.code
        if c is None:
            status = 0
        elif isinstance(c, int):
            status = c & 0xFF
        else:
            print(c, file=sys.stderr)
            status = 1
    except BaseException:
        t, v, tb = sys.exc_info()
        # Drop this frame so the traceback starts at the user's code, as with `python3 main.py`.
        # traceback (not the C hook, which reads the file from disk) finds the lines in linecache.
        import traceback as tbmod

        tbmod.print_exception(t, v, tb.tb_next if tb is not None and tb.tb_next is not None else tb)
        status = 1
    return status


def python_direct_main(path, source, marker=None):
    """`agent.py --run-python FILE SOURCE`: runs the code in FILE as a spare runs a program
    (named SOURCE, in the current directory), in this fresh interpreter — for a program on a
    terminal, which a spare cannot give it."""
    with open(path, encoding="utf-8") as f:
        code = f.read()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    status = run_python_program(main, code, source, os.getcwd(), marker)
    sys.exit(status)  # the interpreter's own exit: flushes, runs atexit, joins threads


def main():
    language = "python"
    args = sys.argv[1:]
    if args[:1] == ["--run-python"]:
        python_direct_main(args[1], args[2], args[3] if len(args) > 3 else None)
        return
    if "--language" in args:
        language = args[args.index("--language") + 1]
    set_dumpable(False)
    agent = Agent(language)
    try:
        agent.run()
    except Exception:
        log("agent crashed: %s" % traceback.format_exc())
        raise


if __name__ == "__main__":
    main()
