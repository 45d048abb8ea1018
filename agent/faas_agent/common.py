"""What both in-sandbox programs share: the protocol (read from protocol.json, as the host
reads it), host framing, the environment programs start with, logging, and running code as a
program's `__main__`."""

import builtins
import json
import linecache
import os
import signal
import struct
import sys
import time
import traceback
import types

try:
    # A spare's hot path in C (agent/native/_native.c), in the images that have spares (python
    # spares need it; the zygote's loop has a Python twin for where pidfds are missing).
    from . import _native as native
except ImportError:
    native = None

AGENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # /opt/faas in the images

with open(os.path.join(AGENT_DIR, "protocol.json"), encoding="utf-8") as _f:
    _PROTOCOL = json.load(_f)
PROTOCOL_VERSION = _PROTOCOL["version"]
HOST_FRAMES = frozenset(_PROTOCOL["hostFrames"])  # the `type`s the host sends
AGENT_FRAMES = frozenset(_PROTOCOL["agentFrames"])  # the `type`s we send
del _f, _PROTOCOL

SANDBOX_ROOT = "/sandbox"
SOURCE_NAMES = {
    "python": "main.py",
    "javascript": "main.js",
    "typescript": "main.ts",
    "bash": "main.sh",
    "go": "main.go",
}
# What every program starts with (the agent adds the progress pipe's number for its spares).
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
}

_log_name = "agent"
_log_pid = False


def set_log_name(name, with_pid=False):
    global _log_name, _log_pid
    _log_name, _log_pid = name, with_pid


def log(msg):
    # stderr of an agent is the host's debug log, never user output.
    tag = "%s %d" % (_log_name, os.getpid()) if _log_pid else _log_name
    try:
        os.write(2, ("[%s] %s\n" % (tag, msg)).encode())
    except OSError:
        pass


def set_environ(env):
    """Makes os.environ equal to env, touching only what differs."""
    for k in [k for k in os.environ if k not in env]:
        del os.environ[k]
    for k, v in env.items():
        if os.environ.get(k) != v:
            os.environ[k] = v


_prctl = None


def set_dumpable(flag):
    """PR_SET_DUMPABLE. A process that holds the host channel or another program's pipes is
    not dumpable: its /proc/<pid>/fd is root's, so user code of the same uid cannot open it."""
    global _prctl
    try:
        if _prctl is None:
            # Resolved once (in the agent, before the zygote forks): a spare calls this three
            # times, and a fresh CDLL each time was allocations, so page faults, in every spare.
            import ctypes

            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        _prctl(4, 1 if flag else 0, 0, 0, 0)
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


def make_child_oom_victim(pid):
    """make_oom_victim for a child the agent just started (Popen returned: its execve is past the
    point of no return). Not done in the child before its execve: it is not dumpable there (nor
    may it become so: it still holds every fd of ours), so the file is root's. The kernel closes
    the exec-error pipe Popen waits on a moment before it makes the new program dumpable, and a
    waking agent often runs in that moment (9 tries in 10 in a probe container): then
    the file is still root's, and yielding once lets the exec finish. Bounded (~10 ms: the agent
    waits meanwhile) for a program that is not dumpable for good."""
    for attempt in range(24):
        try:
            fd = os.open("/proc/%d/oom_score_adj" % pid, os.O_WRONLY)
        except PermissionError:
            try:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return  # ended already (its file is root's until it is reaped)
            except ChildProcessError:
                return
            if attempt < 4:
                os.sched_yield()
            else:
                time.sleep(0.0005)
            continue
        except OSError:
            return  # gone already
        try:
            os.write(fd, b"1000")
        except OSError:
            pass
        finally:
            os.close(fd)
        return


# True in the zygote once it made itself the OOM killer's first pick (before any user code
# runs): its spares inherit that, so they need not set it (and never become dumpable early to).
OOM_INHERITED = False


def hand_over_process():
    """A spare whose program has arrived becomes an ordinary process: dumpable (sweep_strays
    finds what it leaves; /proc/self/oom_score_adj is root's while not dumpable) and the OOM
    killer's first pick."""
    set_dumpable(True)
    if not OOM_INHERITED:
        make_oom_victim()


def runs_ok(path, argv, env):
    """Whether `path` runs here and exits 0 (output discarded): how the agent learns once whether
    the runtime executes a file its user cannot read (gVisor does not)."""
    try:
        quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
        pid = os.posix_spawn(path, argv, env, file_actions=quiet)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    except OSError:
        return False


def read_program(ctrl_fd, loads=json.loads):
    """A spare's program: what the agent writes on the control pipe (JSON; marshal for a
    python spare, see encode_program), read to its end."""
    chunks = []
    while True:
        b = os.read(ctrl_fd, 65536)
        if not b:
            break
        chunks.append(b)
    return loads(b"".join(chunks))


def reaped_children():
    """The children that have ended, without waiting: (pid, status, cpu seconds, maxrss KiB) each,
    from wait4 (the kernel's account, whatever the child said of itself)."""
    while True:
        try:
            pid, status, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def wake_on_signals():
    """A pipe that a signal (SIGCHLD: a child ended) makes readable, for a select loop: returns
    its read end (non-blocking; drain it when it wakes)."""
    sig_r, sig_w = os.pipe()
    os.set_blocking(sig_r, False)
    os.set_blocking(sig_w, False)
    signal.set_wakeup_fd(sig_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    return sig_r


# ---- host frames: 4-byte big-endian length, then UTF-8 JSON --------------------------------
def encode_frame(obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(data)) + data


def take_frames(buf):
    """Removes the complete frames at the start of buf (a bytearray); returns their bodies."""
    frames = []
    while len(buf) >= 4:
        (n,) = struct.unpack(">I", buf[:4])
        if len(buf) < 4 + n:
            break
        frames.append(bytes(buf[4 : 4 + n]))
        del buf[: 4 + n]
    return frames


def hello(language):
    return {"type": "hello", "version": PROTOCOL_VERSION, "language": language, "pid": os.getpid()}


# ---- running code as a program's __main__ ---------------------------------------------------
class RunTimeout(BaseException):
    """Raised by SIGALRM in a context's interpreter when a run is out of time."""


def new_main_module():
    """A fresh `__main__`, as `python3 main.py` gives a program (builtins the module, not a dict)."""
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    return main


def exit_status(e):
    """The exit status of a SystemExit, as the interpreter would exit with it."""
    c = e.code
    if c is None:
        return 0
    if isinstance(c, int):
        return c & 0xFF
    print(c, file=sys.stderr)
    return 1


def run_as_main(code, source, namespace, timeout_s=None):
    """Compiles and runs code in namespace as `python3 main.py` would (source: the name
    tracebacks show); returns (status, compile_error, timed_out). With timeout_s, SIGALRM
    (whose handler raises RunTimeout) ends a run that takes longer."""
    # Tracebacks show source lines without the file being written anywhere.
    linecache.cache[source] = (len(code), None, code.splitlines(True), source)
    status, compile_error, timed_out = 0, False, False
    if timeout_s is not None:
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        try:
            try:
                program = compile(code, source, "exec")
            except SyntaxError:
                compile_error = True
                raise
            exec(program, namespace)
        finally:
            if timeout_s is not None:
                signal.setitimer(signal.ITIMER_REAL, 0)
    except RunTimeout:
        timed_out, status = True, 137
        print("execution timed out (the context keeps its state)", file=sys.stderr)
    except SystemExit as e:
        status = exit_status(e)
    except BaseException:
        t, v, tb = sys.exc_info()
        # Drop this frame so the traceback starts at the user's code, as with `python3 main.py`.
        # traceback (not the C hook, which reads the file from disk) finds the lines in linecache.
        traceback.print_exception(t, v, tb.tb_next if tb is not None and tb.tb_next is not None else tb)
        status = 1
    return status, compile_error, timed_out
