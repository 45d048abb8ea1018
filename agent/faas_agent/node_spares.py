"""Node spares (javascript / typescript): the flags they run with, the execute-only copy of
node they start from, how they are paced where they boot, and the node zygote they are forked
from where they can be (runner.cjs --zygote; spares.zygote_main execs it)."""

import fcntl
import os

from .common import AGENT_DIR, log, runs_ok


def cpu_cores():
    try:
        return float(os.environ.get("FAAS_CPU_CORES", "1"))
    except ValueError:
        return 1.0


def _node_spare_flags():
    """No SIGUSR1 inspector: a program (same uid) could otherwise signal a waiting spare, or the
    node zygote (then every fork after it), to open a debugger on 127.0.0.1:9229 and reach into
    the next execution through it.

    Node spares compile every function as they load it (`--no-lazy`): what a program's start
    and end go through in runner.cjs is then compiled before the program arrives, not on its
    clock (measured in the node image, program written → exit report: 2.0-2.2 → 1.4 ms for
    javascript, 2.2-2.3 → 1.5-1.7 ms for typescript; boot unchanged, 53-66 ms).

    A container of at most one core (its CPU quota; the default) runs them without V8's helper
    threads: there they cannot add speed, only burn the quota in bursts — a spare booting on
    several threads after one execution got the container throttled for tens of ms during the
    next (measured: 17 of 63 periods throttled over 25 paced TypeScript runs)."""
    return ["--no-lazy", "--disable-sigusr1"] + (["--single-threaded"] if cpu_cores() <= 1 else [])


FLAGS = _node_spare_flags()
SINGLE_THREADED = "--single-threaded" in FLAGS
# A node spare's boot costs 100-250 ms of CPU (typescript: its type stripper's WebAssembly),
# one per execution (where spares boot rather than fork; a fork costs 20-35 ms before its program). In a container of at most one core, a boot running on the other CPU beside
# an execution used up the quota early in its period, and the whole container (the execution
# too) waited out the rest: cached typescript paced 250 ms apart took 4-75 ms (p50 15-30 ms,
# 79 of 95 periods throttled) where it takes ~5 ms alone. There, node spares boot one at a
# time, and are held (SIGSTOP) while an execution's program is in its first BOOT_YIELD_S (or
# waits for its own spare's boot): a short program runs alone; a long one shares the core with
# them as before (pace_boots).
PACED = cpu_cores() <= 1
BOOT_YIELD_S = 0.02
# Staged into the node image (docker/runtime/Dockerfile): node, mode 0111.
SPARE_COPY = "/opt/faas-runtime/node-spare"
_node_binary = "/usr/bin/node"


def probe(env):
    """Node spares start from the execute-only copy where this runtime runs it (gVisor refuses to
    execute a file its user cannot read): a process exec'd from it is not dumpable from its first
    instruction, so its pipes are never open to other code of the same uid. Tried once, in the
    agent, before the zygote is forked."""
    global _node_binary
    if os.path.exists(SPARE_COPY) and runs_ok(SPARE_COPY, ["node", "--version"], env):
        _node_binary = SPARE_COPY


def exec_spare(language, work_root, env):
    """Becomes a node spare booted on its own (`runner.cjs --spare`; fds 0-5 its pipes, 3-5
    inheritable): where there is no node zygote, or it is gone."""
    os.chdir(work_root)
    runner = os.path.join(AGENT_DIR, "runner.cjs")
    os.execve(_node_binary, ["node"] + FLAGS + [runner, language, "--spare", "3", "4"], env)


def exec_zygote(sock_fd, language, work_root, env):
    """Becomes the node zygote (runner.cjs --zygote): a node booted once, whose forks are the
    spares (a spare then costs its sandbox 20-35 ms of CPU, where its own boot cost 100-250 ms).
    Its fds 0-5 are all open (/dev/null but the agent's stderr on 2 and the socket on 3), so
    node's own fds lie above the six a spare's pipes take. Exec'd like a spare, from the
    execute-only copy (probe): not dumpable from its first instruction."""
    if _node_binary != SPARE_COPY:
        return  # (from the plain binary it would be dumpable, its socket open, until runner.cjs's first line)
    try:
        null = os.open("/dev/null", os.O_RDWR)
        if null <= 5:  # (above the targets: a dup2 onto itself would leave it close-on-exec)
            null = fcntl.fcntl(null, fcntl.F_DUPFD_CLOEXEC, 16)
        os.dup2(sock_fd, 3)
        # Not the agent's fds 0-1 (maybe its host channel): /dev/null; 2 stays its log.
        for fd in (0, 1, 4, 5):
            os.dup2(null, fd)
        try:
            os.fstat(2)
        except OSError:
            os.dup2(null, 2)
        for fd in range(6):
            os.set_inheritable(fd, True)
        os.chdir(work_root)
        runner = os.path.join(AGENT_DIR, "runner.cjs")
        # No memory reducer: armed in the zygote, its timer fired in every spare forked after it
        # (~8 s on): each then ran a full collection during its program, copying most of the
        # heap (cached typescript paced 250 ms apart: 5.5-6.4 ms, then 30-34 ms for every run).
        flags = FLAGS + ["--no-memory-reducer"]
        os.execve(_node_binary, ["node"] + flags + [runner, language, "--zygote", "3"], env)
    except OSError as e:
        log("node zygote could not start (%s): spares boot on their own" % e)
