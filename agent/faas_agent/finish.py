"""The end of an execution: reaping its process (here, or by the zygote, which tells us),
killing what it left behind, deadlines, and its `result` frame. When its main process ends,
every process it left behind is killed and its directory removed."""

import base64
import os
import shutil
import signal
import time

from .common import SOURCE_NAMES, reaped_children
from .launch import compile_marker


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


_pids_current_fd = None


def read_pids_current():
    """Processes in this container's pids cgroup (v1 or v2), or None if unknown. The file is
    opened once and re-read with pread: it is read after every execution."""
    global _pids_current_fd
    if _pids_current_fd is None:
        for path in ("/sys/fs/cgroup/pids/pids.current", "/sys/fs/cgroup/pids.current"):
            try:
                _pids_current_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                break
            except OSError:
                continue
        else:
            _pids_current_fd = -1
    if _pids_current_fd < 0:
        return None
    try:
        return int(os.pread(_pids_current_fd, 32, 0))
    except (OSError, ValueError):
        return None


class Finisher:
    """The agent's part that ends executions and answers for them. (A mixin of the Agent.)"""

    def reap(self):
        for pid, status, cpu, maxrss in reaped_children():
            self.on_child_exit(pid, status, cpu, maxrss)

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
                # (Killed by a program? Then it was counted as alive when that program's end was
                # checked for strays: look again.)
                self.sweep_if_strays()
            return
        if ex.finished:
            # Answered from its own exit report, when it may still have been exiting (so one
            # process more was allowed for): look again now that it is gone.
            self.sweep_if_strays()
            return
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

    def sweep_if_strays(self, exiting=0):
        """Between executions, sweep when the count says there may be a stray."""
        if not self.execs and self.stray_count_unknown(exiting):
            self.sweep_strays()

    def stray_count_unknown(self, exiting):
        """False when the pids cgroup shows no process beyond the known ones (no sweep needed):
        docker-init, this agent, the zygote, the spares (ready and on their way), and `exiting`
        programs that reported their end but are not reaped yet. (A reaped program is no
        allowance: that place would hide a process that escaped its group.)"""
        current = read_pids_current()
        if current is None:
            return True
        base = 1 if os.getpid() == 1 else 2  # the agent is PID 1 unless an init runs it
        if self.zygote is not None:  # (go containers have none; it may have been killed)
            base += 1
        return current > base + len(self.spares) + self.spares_requested + exiting

    def sweep_strays(self):
        """Kill processes that escaped their execution's process group (setsid, double fork).

        Only inside a sandbox (FAAS_IN_SANDBOX=1, set by the host) and never as root: outside
        one, "every other process" would be the host's."""
        if os.environ.get("FAAS_IN_SANDBOX") != "1" or os.getuid() == 0:
            return
        uid = os.getuid()
        keep = {os.getpid(), 1, self.zygote_pid}
        keep.update(s.pid for s in self.spares)
        # The zygote's children are spares (some being born, not in our list yet) and programs,
        # each the leader of its own group: never strays (a stray that left its group is
        # reparented to us, PID 1).
        zygote = self.zygote_pid if self.zygote is not None else None
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
            if state == "Z" or pgid in live_groups or pid in live_groups or ppid == 0 or ppid == zygote:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def maybe_finish(self, ex):
        if ex.finished or (ex.status is None and ex.report is None) or ex.open_streams > 0:
            return
        ex.finished = True
        self.close_program(ex)
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
        # Clean-up and the next spare come after the answer, off its critical path: first
        # whatever the program left in its process group (after a report it is still exiting).
        self.kill_group(ex.pid)
        self.sweep_if_strays(exiting=1 if ex.status is None else 0)
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
            import subprocess  # not at the top: see launch.spawn

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
