"""Starting an execution: its working directory and files, then its program — handed to a
spare (python, javascript, typescript) or started for it (bash, go; any language on a
terminal). Each execution runs in its own session (process group) in a fresh directory."""

import base64
import os
import re
import selectors
import shutil
import sys
import time

from . import bash_spares
from .common import AGENT_DIR, SOURCE_NAMES, make_child_oom_victim
from .spares import CODE_ROOT, EXEC_ENV, SPARE_LANGUAGES, WORK_ROOT, encode_program
from .terminals import make_tty_child, set_terminal_size, terminal_size

AGENT_FILE = os.path.join(AGENT_DIR, "agent.py")
ID_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
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


def safe_join(root, name):
    """Join a relative file name under root; the host validates too, this is the second wall."""
    if not name or name.startswith("/") or "\0" in name:
        raise ValueError("bad file name: %r" % name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ValueError("bad file name: %r" % name)
    return os.path.join(root, *parts)


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
        self.times_seen = False  # a bash spare's boot report read (see Streams.on_stat)
        self.stat_fd = None
        self.open_streams = 0
        self.timed_out = False
        self.killed = False
        self.finished = False
        self.started = time.monotonic()
        # When its program started (after the hand-over); None while a node spare it was handed
        # still boots (SparePool.pace_boots).
        self.runs_since = self.started
        self.deadline = self.started + self.timeout_ms / 1000.0
        self.workdir = os.path.join(WORK_ROOT, "run-" + self.id)
        self.codedir = None
        self.stdin_fd = None
        self.ctrl_fd = None  # a spare's control pipe while its program is still being written
        self.ctrl_pending = b""


class Launcher:
    """The agent's part that starts executions. (A mixin of the Agent.)"""

    def wants_spare(self, msg):
        """Whether this execution runs in one of our spares (else a process started for it)."""
        lang = msg.get("language")
        if msg.get("tty") or lang != self.language or lang not in SPARE_LANGUAGES:
            return False
        return lang != "bash" or bash_spares.fits(msg.get("env") or {})

    def start_exec(self, msg):
        if not self.spares and self.wants_spare(msg):
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
        if self.wants_spare(msg):
            pid, in_fd, out_fd, err_fd = self.hand_to_spare(ex, lang, code, env)
        else:  # on a terminal (spares have pipes, not a pty), or a language without spares here
            pid, in_fd, out_fd, err_fd = self.spawn(ex, lang, code, env)
        ex.pid = pid
        self.execs[ex.id] = ex
        self.by_pid[pid] = ex
        if ex.runs_since is not None:
            ex.runs_since = time.monotonic()
        self.pace_boots()  # booting spares wait while it starts
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

    def hand_to_spare(self, ex, lang, code, env):
        """Gives the program to the next spare; returns (pid, stdin, stdout, stderr)."""
        spare = self.spares.pop(0)
        # Held by us, or stopped by an earlier program (same uid): it runs this one.
        spare.hold(False)
        if spare.booting() and lang in ("javascript", "typescript"):
            ex.runs_since = None  # (its boot report says when the program starts)
        # The program runs from memory; the source name is what tracebacks show. For node
        # it lies in a private code directory, which the runner creates only if it must
        # write the file (ES modules load from disk).
        if lang == "python":
            source = os.path.join(ex.workdir, SOURCE_NAMES[lang])
        elif lang == "bash":
            source = self.write_source(ex, lang, code)
        else:
            ex.codedir = os.path.join(CODE_ROOT, ex.id)
            source = os.path.join(ex.codedir, SOURCE_NAMES[lang])
        if lang == "python":
            # A python spare's environment is EXEC_ENV already: send only the difference (each
            # object the spare decodes is a page it may have to copy).
            env = {"set": {k: v for k, v in env.items() if EXEC_ENV.get(k) != v}, "unset": [k for k in EXEC_ENV if k not in env]}
        payload = {"cwd": ex.workdir, "env": env, "code": code, "source": source, "compileMarker": compile_marker(ex.id)}
        if ex.stream:
            payload["lineBuffered"] = True  # streamed output arrives line by line, as on a terminal
        # Reports written into this spare's pipe before it was handed a program are not
        # this execution's: drop them (unwanted reports are dropped as they come anyway).
        if ex.want_progress:
            self.drain(spare.progress_fd)
        ex.progress_fd = spare.progress_fd
        ex.ctrl_fd = spare.ctrl_w
        ex.ctrl_pending = encode_program(lang, payload)
        self.pump_program(ex)
        ex.stat_fd = spare.stat_r
        ex.stat_buf = spare.stat_buf
        if spare.baseline is not None:
            ex.cpu_baseline = spare.baseline
            ex.times_seen = True
        if self.sel.get_map().get(spare.stat_r) is not None:
            # Still booting: its boot report comes on the status pipe, read as the program's.
            self.sel.unregister(spare.stat_r)
        self.sel.register(ex.stat_fd, selectors.EVENT_READ, ("stat", ex))
        return spare.pid, spare.stdin_fd, spare.stdout_fd, spare.stderr_fd

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
            setup = None
        ours = [prog_r] + ([master] if ex.tty is not None else [in_w, out_r, err_r])
        # Imported here, not at the top: subprocess brings threading, whose fork hook would then
        # run in every spare the zygote (a fork of this process) forks — ~130 page faults each.
        import subprocess

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
        make_child_oom_victim(proc.pid)
        os.set_blocking(prog_r, False)
        ex.progress_fd = prog_r
        if ex.tty is not None:
            ex.master_fd = master
            return proc.pid, os.dup(master), master, None
        return proc.pid, in_w, out_r, err_r

    def child_env(self, ex):
        env = dict(EXEC_ENV)  # FAAS_PROGRESS_FD is right for spares; spawn() sets its own
        if ex.tty is not None:
            env["TERM"] = "xterm-256color"
        env["FAAS_EXECUTION_ID"] = ex.id
        env.update({str(k): str(v) for k, v in ex.env.items()})
        if "FAAS_PROGRESS_FD" in ex.env:  # ours: it names the execution's pipe
            env["FAAS_PROGRESS_FD"] = EXEC_ENV["FAAS_PROGRESS_FD"]
        return env
