"""A context's interpreters: python runs each program in the context server's persistent
`__main__`; javascript and typescript in the node context interpreter (ctx-runner.cjs, one
persistent global scope, started and restarted here, forked from a snapshot's held node by
node_holder); bash and go start a confined process per run. (A mixin of the ContextServer.)"""

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback

from . import confine, node_holder
from .common import AGENT_DIR, BASE_ENV, SOURCE_NAMES, log, run_as_main, set_environ
from .confine import confine_user_program
from .namespaces import SANDBOX, WORK


class Interpreters:
    def run_python(self, code, env, inp, out, err, timeout_s):
        saved = [os.dup(0), os.dup(1), os.dup(2)]
        os.dup2(inp, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8")
        stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8")
        stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)), encoding="utf-8", errors="backslashreplace")
        sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
        set_environ(env)
        source = "main.py"
        sys.argv = [source]
        if sys.path[:1] != [WORK]:
            sys.path.insert(0, WORK)
        self.ns["__file__"] = source
        sys.modules["__main__"] = self.main
        os.chdir(WORK)
        status, compile_error, timed_out = run_as_main(code, source, self.ns, timeout_s)
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except Exception:
                pass
        for i, fd in enumerate(saved):
            os.dup2(fd, i)
            os.close(fd)
        sys.stdin = sys.stdout = sys.stderr = None
        return status, timed_out, compile_error

    def start_node(self):
        # A restore's or branch's node is a fork of the snapshot's held node (node_holder).
        if node_holder.held_control is not None:
            control, node_holder.held_control = node_holder.held_control, None
            try:
                self.node, self.node_control = node_holder.fork_node(control, self.language)
                return
            finally:
                control.close()
        self.node, self.node_control = node_holder.exec_runner(AGENT_DIR, BASE_ENV, self.language, self.confine_node, log)

    @staticmethod
    def confine_node():
        # As a python context's interpreter: setns stays (a fork of this node joins a branch's namespaces).
        confine.drop_capabilities()
        confine.install_filter(python_context=True)

    def resume_node(self):
        if self.node_held:
            self.node_held = False
            node_holder.resume(self.node, self.node_control)

    def node_moved_on(self):
        """After a snapshot, in the live context: its node is a fork of the held one."""
        if self.node is None:
            return
        held, control = self.node, self.node_control
        self.node_held = False
        try:
            self.node, self.node_control = node_holder.fork_node(control, self.language)
        except BaseException:
            log("the javascript context's node could not go on: %s" % traceback.format_exc())
            self.start_node()
        finally:
            node_holder.release(held, control)

    def stop_node(self):
        pid, w, r = self.node
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        for f in (lambda: os.close(w), r.close, self.node_control.close):
            try:
                f()
            except OSError:
                pass
        self.node = None

    def run_node(self, code, env, inp, out, err, timeout_s):
        self.resume_node()  # a snapshot that was not taken
        pid, w, r = self.node
        d = os.path.join(SANDBOX, "tmp", ".faas-run")
        req = {
            "code": code,
            "env": env,
            "stdin": os.path.join(d, "stdin"),
            "stdout": os.path.join(d, "stdout"),
            "stderr": os.path.join(d, "stderr"),
            "timeoutMs": int(timeout_s * 1000),
        }
        try:
            os.write(w, json.dumps(req).encode() + b"\n")
        except BrokenPipeError:
            self.stop_node()
            self.start_node()
            w, r = self.node[1], self.node[2]
            os.write(w, json.dumps(req).encode() + b"\n")
        deadline = time.monotonic() + timeout_s + 2.0
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([r], [], [], max(0, left))
            if ready:
                line = r.readline()
                if not line:
                    # The runner died (an error its handlers could not catch): start a new one.
                    self.stop_node()
                    os.write(err, b"the javascript context's interpreter ended; its globals are lost\n")
                    self.start_node()
                    return 1, False, False
                rep = json.loads(line)
                return int(rep.get("exit", 1)), bool(rep.get("timedOut")), bool(rep.get("compileError"))
            if left <= 0:
                # Async work past its time: the runner cannot be stopped without losing its
                # state, so it is replaced (the context's globals are lost; the result says so).
                self.stop_node()
                os.write(err, b"execution timed out; the javascript context was restarted\n")
                self.start_node()
                return 137, True, False

    def run_process(self, code, env, inp, out, err, timeout_s):
        lang = self.language
        tmp = os.path.join(SANDBOX, "tmp", ".faas-run")
        os.makedirs(tmp, exist_ok=True)
        src = os.path.join(tmp, SOURCE_NAMES.get(lang, "main"))
        with open(src, "w") as f:
            f.write(code)
        if lang == "bash":
            argv = ["/bin/bash", src]
        elif lang == "go":
            argv = ["/bin/sh", "-c", 'cd "$1" && go run "$2"', "sh", WORK, src]
        else:
            argv = ["/usr/bin/node", src]
        try:
            p = subprocess.Popen(argv, stdin=inp, stdout=out, stderr=err, cwd=WORK, env=env, start_new_session=True,
                                 preexec_fn=confine_user_program)
        except OSError as e:
            os.write(err, ("could not start: %s\n" % e).encode())
            return 127, False
        try:
            return p.wait(timeout=timeout_s), False
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return 137, True
