"""The FaaS in-sandbox agent of ephemeral and cached executions (`agent.py`).

Runs inside every sandbox container as the unprivileged sandbox user. The host attaches to
the container once and talks to this process over its stdin/stdout with length-prefixed JSON
frames (common.py; the protocol in protocol.json, host side src/sandbox/protocol.ts). Keeping
that channel open, and keeping a ready interpreter per language, is what makes a warm
execution cost about a millisecond instead of a `docker exec` (~60 ms) plus an interpreter
start-up:

- python: the zygote (a fork of this process) forks spares ahead of time; a spare is
  detached, has its pipes, and waits for one program, which it runs as `__main__`, then exits.
- javascript / typescript: spares are `node runner.cjs` processes booted ahead of time.
- bash: spares are bash processes started ahead of time that source their program
  (bash_spares.py); go: started per execution (its binaries are kept per container).

The parts: spares.py (spares and the zygote), launch.py (starting an execution), streams.py
(its pipes), finish.py (its end and result), terminals.py (pseudo-terminals).
"""

import base64
import json
import os
import selectors
import signal
import time
import traceback

from . import bash_spares, common, host_socket, node_spares, python_spares
from .common import SANDBOX_ROOT, encode_frame, hello, log, set_dumpable, take_frames, wake_on_signals
from .finish import Finisher, read_oom_kills
from .launch import Launcher
from .spares import CODE_ROOT, EXEC_ENV, SPARE_LANGUAGES, SPARES, WORK_ROOT, SparePool
from .streams import READ_CHUNK, Streams
from .terminals import set_terminal_size, terminal_size


class Agent(SparePool, Launcher, Streams, Finisher):
    def __init__(self, language):
        self.language = language
        self.sel = selectors.DefaultSelector()
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.execs = {}
        self.by_pid = {}
        self.spares = []
        self.stopping = False
        # /tmp, HOME and the work root are links into the one writable tmpfs (see the Dockerfile).
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
        if language == "bash":
            bash_spares.probe(EXEC_ENV)
        elif language in ("javascript", "typescript"):
            node_spares.probe(EXEC_ENV)
        if language == "python" and common.native is None:
            # (python spares run their hand-over in it: without it every spare would die)
            raise RuntimeError("this image lacks the agent's native module (faas_agent/_native*.so): rebuild it with scripts/build-images.ts")
        if language in SPARE_LANGUAGES:
            self.start_zygote()
        # The host channel: the host's socket if it gave us one and it answers (host_socket.py),
        # both ways; else stdin/stdout (Docker's attach stream). No process of user code holds
        # it: the zygote closed fds 3 and up, a spare (from the zygote, or from us once the
        # zygote is gone) keeps only 0-5, spawned programs get close_fds.
        path = os.environ.get("FAAS_AGENT_SOCKET")
        self.host_conn = host_socket.connect(path) if path else None
        if self.host_conn is not None:
            self.in_fd = self.out_fd = self.host_conn.fileno()
        else:
            self.in_fd, self.out_fd = 0, 1
            os.set_blocking(0, False)
            os.set_blocking(1, False)
        self.sig_r = wake_on_signals()
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        self.sel.register(self.in_fd, selectors.EVENT_READ, ("host", None))
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
        self.send(hello(self.language))

    # ---- host channel -------------------------------------------------------------
    def send(self, obj):
        self.outbuf += encode_frame(obj)
        self.flush_out()

    def flush_out(self):
        while self.outbuf:
            try:
                n = os.write(self.out_fd, self.outbuf)
            except BlockingIOError:
                break
            except OSError:  # the host is gone
                self.outbuf.clear()
                self.stop()
                break
            del self.outbuf[:n]
        want = bool(self.outbuf)
        key = self.sel.get_map().get(self.out_fd)
        if self.out_fd == self.in_fd:
            # One socket both ways: it is registered for reading; add or drop writing.
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            if key is not None and key.events != events:
                self.sel.modify(self.out_fd, events, ("host", None))
            return
        if want and key is None:
            self.sel.register(self.out_fd, selectors.EVENT_WRITE, ("host-out", None))
        elif not want and key is not None:
            self.sel.unregister(self.out_fd)

    def on_host_readable(self):
        try:
            chunk = os.read(self.in_fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            # The host went away: nothing more will be asked of us.
            self.stop()
            return
        self.inbuf += chunk
        for raw in take_frames(self.inbuf):
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
            # Each turn, after whatever the last one changed (a spare came, booted or died, an
            # execution ended or its yield to booting spares did); start_exec also holds them
            # at once, before its program runs.
            paced = self.pace_boots()
            if paced is not None:
                timeout = paced if timeout is None else min(timeout, paced)
            if not self.hello_sent:
                self.maybe_hello()
                left = max(0.0, self.hello_deadline - time.monotonic())
                timeout = left if timeout is None else min(timeout, left)
            for key, events in self.sel.select(timeout):
                # An earlier event of this batch may have closed this fd, and a new pipe may
                # have taken its number since: act only on keys that are still registered.
                if self.sel.get_map().get(key.fd) is not key:
                    continue
                kind, data = key.data
                if kind == "host":
                    if events & selectors.EVENT_WRITE:
                        self.flush_out()
                    if events & selectors.EVENT_READ:
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
                elif kind == "ctrl":
                    self.pump_program(data)
            if self.execs:
                self.reap()  # a SIGCHLD can be coalesced with an earlier one
        os.set_blocking(self.out_fd, True)
        if self.outbuf:
            try:
                os.write(self.out_fd, bytes(self.outbuf))
            except OSError:
                pass


def main(argv):
    # The image's default (its CMD names none); the engine always says which.
    language = os.environ.get("FAAS_LANGUAGE", "python")
    args = argv[1:]
    if args[:1] == ["--run-python"]:
        python_spares.direct_main(args[1], args[2], args[3] if len(args) > 3 else None)
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
