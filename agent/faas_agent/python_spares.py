"""Python spares: a python spare is a fork of the zygote (spares.py) that waits on its control
pipe for a program and then runs it as `python3 main.py` would. What does not depend on the
program is made once, in the zygote (prepare), so each spare only uses its copy; the zygote puts
the signals as a program starts with, so a spare need not (signals_set_by_zygote)."""

import io
import _signal
import marshal
import os
import signal
import sys

from . import common
from .common import make_oom_victim, native, new_main_module, run_as_main, set_environ


def mark_compile_error(marker):
    if marker:
        try:
            open(marker, "w").close()
        except OSError:
            pass


# What every python spare needs before its program arrives and that does not depend on the
# program: made once, in the zygote (prepare), so that each spare only uses its
# copy. On this kind of VM a page fault costs ~10 µs, and a spare that built these itself
# wrote (so copied) some 250 pages of the zygote's memory; using them costs a few.
_spare_kit = None
# The zygote put the signals as a program starts with (spares.zygote_main): spares leave them be.
_signals_set = False


def signals_set_by_zygote():
    global _signals_set
    _signals_set = True


def prepare(exec_env):
    """In the zygote, before it forks spares: the stdio objects of fds 0-2 (the spare's pipes
    once dup2'd there), made sys's with a fresh __main__ (the zygote never uses sys's streams:
    it logs to fd 2 directly), the compiler warmed up, and the environment programs start with
    (the zygote's own children get theirs explicitly). In a spare the agent forked (no zygote),
    the same, in the spare."""
    global _spare_kit
    stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
    stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
    stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    compile("pass", "<warm-up>", "exec")  # touch the compiler's pages before the clock starts
    set_environ(exec_env)
    main = new_main_module()
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = stdin, stdout, stderr
    sys.modules["__main__"] = main
    _spare_kit = (stdout, main)


def spare_main(ctrl_fd, stat_fd, exec_env):
    """In a forked python spare: get ready, wait for the program, run it like `python3 main.py`."""
    if not _signals_set:
        # Forked by the agent, or a zygote without pidfds: signals as a program starts with.
        # (_signal, not signal: the latter's enum conversions cost ~75 page faults per spare.)
        _signal.set_wakeup_fd(-1)
        for sig in (_signal.SIGCHLD, _signal.SIGTERM, _signal.SIGPIPE):
            _signal.signal(sig, _signal.SIG_DFL)
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    if _spare_kit is None:  # forked by the agent (no zygote): make what the zygote would have
        prepare(exec_env)
    # Everything that does not depend on the program is done before the hand-over. The
    # zygote's objects stay frozen (gc.unfreeze would write to every one of them and so copy
    # every page); the program's own objects are collected as usual. Its __main__ is the
    # zygote's unused one: this process's copy, fresh.
    stdout, main = _spare_kit

    # The program read, the control pipe closed, the process dumpable (it was not while its
    # pipes were not for other code) and its CPU so far noted (set-up is not billed): in C, as
    # is the report at the end (common.native: each object Python touches here is a page copied).
    req = marshal.loads(native.take_program(ctrl_fd))
    if not common.OOM_INHERITED:
        make_oom_victim()  # (inherited from the zygote otherwise)

    # os.environ is EXEC_ENV here (the zygote made it so): the agent sent only the difference
    # (launch.hand_to_spare), applied without walking (so decoding) the whole environment.
    env = req["env"]
    for k in env["unset"]:
        del os.environ[k]
    for k, v in env["set"].items():
        os.environ[k] = v
    if req.get("lineBuffered"):
        stdout.reconfigure(line_buffering=True)  # streamed: flush at each line, as on a terminal
    status = run_program(main, req["code"], req["source"], req["cwd"], req.get("compileMarker"))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    native.finish(stat_fd, status)  # the report, after closing stdout and stderr; then exit


def run_program(main, code, source, cwd, marker=None):
    """Runs code as `python3 main.py` would in cwd (main: a fresh __main__ module); returns
    its exit status. A syntax error (the program never ran) leaves the compile marker."""
    os.chdir(cwd)
    sys.argv = [source]
    sys.path[0] = cwd
    main.__file__ = source
    status, compile_error, _ = run_as_main(code, source, main.__dict__)
    if compile_error:
        mark_compile_error(marker)
    return status


def direct_main(path, source, marker=None):
    """`agent.py --run-python FILE SOURCE`: runs the code in FILE as a spare runs a program
    (named SOURCE, in the current directory), in this fresh interpreter — for a program on a
    terminal, which a spare cannot give it."""
    with open(path, encoding="utf-8") as f:
        code = f.read()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main = new_main_module()
    sys.modules["__main__"] = main
    status = run_program(main, code, source, os.getcwd(), marker)
    sys.exit(status)  # the interpreter's own exit: flushes, runs atexit, joins threads
