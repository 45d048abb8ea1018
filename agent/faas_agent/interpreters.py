"""A context's interpreters: python runs each program in the context server's persistent
`__main__`; javascript in the node context interpreter (ctx-runner.cjs, one persistent
global scope, started and restarted here); typescript, bash and go start a confined process
per run. (A mixin of the ContextServer.)"""

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback

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
        r1, w1 = os.pipe()  # requests
        r2, w2 = os.pipe()  # replies
        pid = os.fork()
        if pid == 0:
            # requests on stdin, replies on fd 3; stdout /dev/null; stderr stays (the agent's log)
            devnull = os.open("/dev/null", os.O_RDWR)
            os.dup2(r1, 0)
            os.dup2(w2, 3)
            os.dup2(devnull, 1)
            os.closerange(4, 65536)
            try:
                confine_user_program()
                os.execve("/usr/bin/node", ["node", os.path.join(AGENT_DIR, "ctx-runner.cjs"), "3"], BASE_ENV)
            except BaseException:
                log("node runner could not start: %s" % traceback.format_exc())
            os._exit(70)
        os.close(r1)
        os.close(w2)
        self.node = (pid, w1, os.fdopen(r2, "rb"))

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
        for f in (lambda: os.close(w), r.close):
            try:
                f()
            except OSError:
                pass
        self.node = None

    def run_node(self, code, env, inp, out, err, timeout_s):
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
        elif lang == "typescript":
            js = src[:-3] + ".js"
            argv = ["/bin/sh", "-c", 'tsc --outDir "$1" "$2" >&2 && exec node "$3"', "sh", tmp, src, js]
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
