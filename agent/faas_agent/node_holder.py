"""The node of a javascript / typescript stateful context, and how a snapshot keeps its heap
(family.py calls in here from small marked hooks).

A context's node (ctx-runner.cjs) runs with V8's background work off, so it can fork (the
faas_fork addon, node-fork/fork.c). A snapshot holds that node: it stops running the user's
code and blocks on its control socket (ctx-hold.cjs), as a python holder's interpreter does.
The live context, and every restore or branch, gets a fork of the held node: the requester
(a context server, already in the namespaces the agent made for it) sends the fds of its own
user, mount and PID namespaces, its request and reply pipes and a new control socket; the
fork joins those namespaces (setns: the new user namespace's owner is its uid), drops every
capability and goes on as that context's node. Copy-on-write: no mutable memory is shared.
"""

import json
import os
import select
import signal
import socket

NODE = "/usr/bin/node"
# One thread that runs anything (see ctx-hold.cjs), no SIGUSR1 inspector, no warning about
# node's type stripping on each typescript run. No memory reducer: the collection a snapshot
# makes before holding the heap arms it, and then every copy (each restore and branch), idle,
# ran two full collections ~10 s after its fork, privately copying ~30-45 MB of the heap each
# (measured, 100 MB heap) and using the CPU the next branches needed. Set at start: turned off
# later (v8.setFlagsFromString) it still fired in some copies. No incremental marking: a marking
# cycle is then never in progress between programs, which a snapshot's copies would each finish
# (privately copying the heap), so a snapshot needs no full collection unless the heap grew a lot
# (ctx-heap.cjs); a full collection is one pause instead (one thread does all of it either way).
NODE_FLAGS = ["--single-threaded", "--v8-pool-size=0", "--disable-sigusr1", "--disable-warning=ExperimentalWarning",
              "--no-memory-reducer", "--no-incremental-marking"]
NODE_LANGUAGES = ("javascript", "typescript")
MEMORY_LANGUAGES = ("python",) + NODE_LANGUAGES
CONTROL_FD = 4

# In a holder's process and in its forks until they have a node of their own: the control
# socket of the node that keeps the snapshot's heap.
held_control = None


def keep_fds():
    return {held_control.fileno()} if held_control is not None else set()


def exec_runner(agent_dir, env, language, confine, log):
    """A fresh node for a new context: requests on its stdin, replies on fd 3, control socket on
    fd 4. Returns ((pid, requests, replies file), control socket)."""
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open("/dev/null", os.O_RDWR)
            os.dup2(r1, 0)
            os.dup2(devnull, 1)
            os.dup2(w2, 3)
            os.dup2(theirs.fileno(), CONTROL_FD)
            os.closerange(CONTROL_FD + 1, 65536)
            confine()
            os.execve(NODE, ["node"] + NODE_FLAGS + [os.path.join(agent_dir, "ctx-runner.cjs"), "3", language], env)
        except BaseException as e:
            log("node runner could not start: %r" % e)
        os._exit(70)
    for fd in (r1, w2):
        os.close(fd)
    theirs.close()
    return (pid, w1, os.fdopen(r2, "rb")), ours


def read_reply(replies, timeout):
    if not select.select([replies], [], [], timeout)[0]:
        raise RuntimeError("the javascript context's node did not answer in time")
    line = replies.readline()
    if not line:
        raise RuntimeError("the javascript context's node ended")
    return json.loads(line)


def hold(node):
    """Before a snapshot: the context's node stops and keeps its heap (it then only forks)."""
    _pid, requests, replies = node
    os.write(requests, b'{"op":"hold"}\n')
    rep = read_reply(replies, 30)
    if not rep.get("ok"):
        raise RuntimeError(rep.get("message") or "the javascript context's node could not be held")


def resume(node, control):
    """The snapshot was not taken: the held node goes on as the context's node."""
    control.sendmsg([b'{"op":"resume"}'])
    read_reply(node[2], 30)


def fork_node(control, language):
    """A copy of the held node behind `control`, in this process's namespaces, as this context's
    node. Returns ((pid, requests, replies file), its control socket)."""
    ns = [os.open("/proc/self/ns/" + k, os.O_RDONLY | os.O_CLOEXEC) for k in ("user", "mnt", "pid")]
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        socket.send_fds(control, [json.dumps({"op": "fork", "kinds": ["user", "mnt", "pid"]}).encode()], ns + [r1, w2, theirs.fileno()])
    finally:
        for fd in ns + [r1, w2]:
            os.close(fd)
        theirs.close()
    replies = os.fdopen(r2, "rb")
    try:
        rep = read_reply(replies, 30)
        if rep.get("type") != "node-ready" or not isinstance(rep.get("pid"), int):
            raise RuntimeError("the held node could not be forked: %s" % (rep.get("error") or rep))
    except BaseException:
        replies.close()
        os.close(w1)
        ours.close()
        raise
    return (rep["pid"], w1, replies), ours


def release(node, control):
    """Lets go of a node this process no longer speaks to (another process keeps it)."""
    _pid, requests, replies = node
    for close in (lambda: os.close(requests), replies.close, control.close):
        try:
            close()
        except OSError:
            pass


def quiesce(node_pid):
    """Before a snapshot: every process of the context's PID namespace but its init, this
    server and its (now held) node ends."""
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, os.getpid(), node_pid):
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass
