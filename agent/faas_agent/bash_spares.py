"""Bash spares: a bash started ahead of time that waits for its program, then runs it.

A bash that is exec'd only once its program arrives spends 2-3 ms of the execution starting
(measured in the bash image: fork + execve of bash for `echo 1` took 2.0-2.3 ms, against ~0.5 ms
from hand-over to output for a bash already waiting). So a bash spare is exec'd as it is made,
from an execute-only copy of bash (the kernel then makes it not dumpable: while it waits, its
control and status pipes are closed to other code of the same uid), and waits on its control
pipe. The agent writes a short prelude there — the working directory, the variables that differ
from the spare's, `$0` — and the spare sources the program's file, after becoming an ordinary,
dumpable process again (the `faas_handover` builtin, agent/bash-spare/handover.c).

What differs from `bash main.sh` (README): `FUNCNAME` ends in `source` rather than `main` and
`$-` has a `c`. A program whose variables bash itself reads at start-up or treats specially
(`BASH_ENV`, `SHELLOPTS`, `SHLVL`, ...; see `fits`) is started the old way.
"""

import _signal
import os
import re

from .common import hand_over_process, read_program, runs_ok

# Staged into the bash image by scripts/node-runtime.ts (docker/runtime/Dockerfile).
BASH_COPY = "/opt/faas-runtime/bash"  # /bin/bash, mode 0111
HANDOVER_BUILTIN = "/opt/faas-runtime/bash-handover.so"
PRESTARTED = False  # set by probe(), in the agent, before the zygote is forked


def probe(env):
    """Whether bash spares can be started ahead of time here: the image has the execute-only
    copy and the builtin, and the runtime runs them (gVisor refuses to execute a file its user
    cannot read: there spares exec bash once the program arrives, as before). Tried once."""
    global PRESTARTED
    if not (os.path.exists(BASH_COPY) and os.path.exists(HANDOVER_BUILTIN)):
        return False
    # Runs it, and it is not dumpable there (`check`): the kernel enforced the execute-only mode.
    PRESTARTED = runs_ok(BASH_COPY, ["bash", "-c", "enable -f %s faas_handover && faas_handover check" % HANDOVER_BUILTIN], env)
    return PRESTARTED

# The spare's script (`bash -c`): make sure it is not dumpable, say it has booted (its CPU so
# far, `times`, on the status pipe, so its start is not billed), wait for the prelude
# (NUL-ended) on the control pipe, close both pipes, become dumpable, apply the prelude, run
# the program as a sourced file.
BOOT = (
    "enable -f %s faas_handover && faas_handover check || exit 70\n"
    "times >&4\n"
    'IFS= read -r -d "" __faas_prelude <&3 || exit 70\n'
    "exec 3<&- 4>&-\n"
    "faas_handover && enable -d faas_handover || exit 70\n"
    'eval "$__faas_prelude"\n'
    "unset __faas_prelude\n"
    '. "$0"\n'
) % HANDOVER_BUILTIN

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Variables bash reads at start-up or gives a meaning of its own (set by bash, read-only, or
# changing how it parses and runs): with any of these a program gets a bash of its own.
SPECIAL = frozenset(
    "CDPATH COLUMNS COMP_WORDBREAKS EPOCHREALTIME EPOCHSECONDS EUID ENV EXECIGNORE FIGNORE FUNCNAME "
    "GLOBIGNORE GLOBSORT GROUPS HISTCMD HISTCONTROL HISTFILE HISTFILESIZE HISTIGNORE HISTSIZE "
    "HISTTIMEFORMAT HOSTFILE HOSTNAME HOSTTYPE IFS IGNOREEOF INPUTRC LINENO LINES MACHTYPE MAIL "
    "MAILCHECK MAILPATH OLDPWD OPTERR OPTIND OSTYPE POSIXLY_CORRECT PPID PROMPT_COMMAND PS0 PS1 PS2 "
    "PS3 PS4 PWD RANDOM SECONDS SHELLOPTS SHLVL SRANDOM TMOUT UID _ DIRSTACK PIPESTATUS".split()
)


# A waiting bash reads its prelude a byte at a time (`read` on a pipe): beyond this many bytes
# of variables a program gets a bash of its own (which refuses values over 128 KiB, as execve does).
MAX_PRELUDE_VARS = 4096


def fits(user_env):
    """Whether a program with these variables (the request's own) may run in a bash spare: any
    may where spares exec bash once the program arrives (an image without the execute-only copy)."""
    if not PRESTARTED:
        return True
    size = sum(len(k) + len(v) for k, v in user_env.items())
    return size <= MAX_PRELUDE_VARS and all(NAME.match(k) and k not in SPECIAL and not k.startswith(("BASH", "__faas_")) for k in user_env)


def quote(value):
    return "'" + value.replace("'", "'\\''") + "'"


def prelude(cwd, env, spare_env, source):
    """What the agent writes on a bash spare's control pipe (NUL-ended): the spare started in
    WORK_ROOT with `spare_env`; the program wants `cwd` and `env`, and `$0` = `source`. Only
    names that `fits` allowed reach here, and values are single-quoted: nothing in them
    is evaluated."""
    lines = [
        # `bash main.sh` started there reports the directory itself (/workspace is a link), and
        # has OLDPWD exported with no value.
        "builtin cd -P -- %s || exit 70" % quote(cwd),
        "unset OLDPWD; declare -x OLDPWD",
    ]
    lines += ["unset -v %s" % k for k in spare_env if k not in env]
    lines += ["export %s=%s" % (k, quote(v)) for k, v in env.items() if spare_env.get(k) != v]
    lines += ["BASH_ARGV0=%s" % quote(source), "unset BASH_EXECUTION_STRING"]
    text = "\n".join(lines) + "\n"
    if "\0" in text:  # the host refuses NUL in variables; a NUL here would end the prelude early
        raise ValueError("NUL in a variable")
    return text.encode("utf-8", "surrogateescape") + b"\0"


def parse_times(line):
    """The spare's boot report: the first line of `times` ("0m0.003s 0m0.001s") -> seconds."""
    total = 0.0
    for part in line.split():
        minutes, _, seconds = part.decode().rstrip("s").partition("m")
        total += int(minutes) * 60 + float(seconds)
    return total


def spare_main(ctrl_fd, stat_fd, last_fd, work_root, env):
    """In a forked bash spare (fds 0 to last_fd in place; not dumpable, as the zygote is): becomes
    the waiting bash at once, or, where that cannot run (PRESTARTED false), waits for its program
    ({cwd, env, source} as JSON) and becomes `bash SOURCE` then. Either way with the signals a
    shell the agent starts has: python ignores SIGPIPE and SIGXFSZ, bash must not (`yes | head -1`
    ends `yes` by SIGPIPE). No reports: the zygote's wait4 says how the program ended."""
    for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(sig, _signal.SIG_DFL)
    if PRESTARTED:
        # Not dumpable at any moment with its pipes: not before the execve (as the zygote made
        # it), not after (an execute-only binary; BOOT checks). Its OOM preference is the
        # zygote's, inherited (common.OOM_INHERITED); a spare the agent forks has none.
        for fd in range(last_fd + 1):
            os.set_inheritable(fd, True)
        os.chdir(work_root)
        os.execve(BASH_COPY, ["bash", "-c", BOOT, "bash"], env)
    req = read_program(ctrl_fd)
    os.close(ctrl_fd)  # before it turns dumpable: the status pipe is the agent's word on the end
    os.close(stat_fd)
    hand_over_process()
    os.chdir(req["cwd"])
    os.execve("/bin/bash", ["bash", req["source"]], req["env"])
