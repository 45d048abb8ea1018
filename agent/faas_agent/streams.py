"""A running execution's pipes, as the agent reads and writes them: stdin, stdout / stderr
(or a terminal's one stream), the status pipe of a spare, and the progress pipe.

Progress: each execution has a private pipe whose write end the program holds as the fd
named by FAAS_PROGRESS_FD (5 in spares). It writes one JSON line per report,
{"percent": n, "message": s} (the `faas-progress` command and the `faas` python and node
modules do this); the agent checks each line and passes it on as a `progress` frame.
"""

import base64
import json
import math
import os
import selectors
import time

from .bash_spares import parse_times
from .terminals import end_of_input

READ_CHUNK = 65536
MAX_PROGRESS_LINE = 4096
MAX_PROGRESS_MESSAGE = 1000


def parse_progress(line):
    """A progress report from a program's JSON line: (percent 0..100, message), or None."""
    try:
        rec = json.loads(line.decode("utf-8", "replace"))
        percent = rec["percent"]
        if isinstance(percent, bool) or not isinstance(percent, (int, float, str)):
            return None
        percent = float(percent)
    except (ValueError, TypeError, KeyError, OverflowError):
        return None
    if math.isnan(percent):
        return None
    message = rec.get("message", "")
    if not isinstance(message, str):
        message = "" if message is None else json.dumps(message)
    return min(100.0, max(0.0, percent)), message[:MAX_PROGRESS_MESSAGE]


def number(v):
    """A finite JSON number (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def exit_report(rec):
    """A spare's exit report {exit, cpu, maxrss} with the types the result needs, or None."""
    code, cpu, maxrss = rec.get("exit"), rec.get("cpu", 0.0), rec.get("maxrss", 0)
    if not (isinstance(code, int) and not isinstance(code, bool) and number(cpu) and number(maxrss)):
        return None
    return {"exit": code, "cpu": float(cpu), "maxrss": float(maxrss)}


class Streams:
    """The agent's part that moves an execution's bytes. (A mixin of the Agent.)"""

    def drain(self, fd):
        """Reads and drops what is waiting in a pipe."""
        try:
            while os.read(fd, 65536):
                pass
        except OSError:
            pass

    def on_progress(self, ex, final=False):
        """Reads a program's progress reports; passes on the good ones, drops the rest.
        `final`: the execution is ending — read what is there, then close the pipe."""
        fd = ex.progress_fd
        eof = False
        for _ in range(64 if final else 1):
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                eof = True
                break
            ex.progress_buf += chunk
            *lines, ex.progress_buf = ex.progress_buf.split(b"\n")
            if len(ex.progress_buf) > MAX_PROGRESS_LINE:
                ex.progress_buf = b""  # no newline in sight: not a report
            for line in lines:
                if len(line) > MAX_PROGRESS_LINE or ex.progress_budget <= 0 or not ex.want_progress:
                    continue
                report = parse_progress(line)
                if report is not None:
                    ex.progress_budget -= len(line)
                    self.send({"type": "progress", "id": ex.id, "percent": report[0], "message": report[1]})
        if eof or final:
            if self.sel.get_map().get(fd) is not None:
                self.sel.unregister(fd)
            os.close(fd)
            ex.progress_fd = None

    def pump_program(self, ex):
        """Writes a spare's program on its control pipe, then closes it (the spare reads to
        the end). A program larger than the pipe holds goes on as the spare reads it."""
        fd = ex.ctrl_fd
        if fd is None:  # already closed (the spare went away): nothing left to write
            return
        while ex.ctrl_pending:
            try:
                n = os.write(fd, ex.ctrl_pending)
            except BlockingIOError:
                break
            except OSError:  # the spare is gone: its end comes through wait4
                ex.ctrl_pending = b""
                break
            ex.ctrl_pending = ex.ctrl_pending[n:]
        registered = self.sel.get_map().get(fd) is not None
        if ex.ctrl_pending:
            if not registered:
                self.sel.register(fd, selectors.EVENT_WRITE, ("ctrl", ex))
            return
        self.close_program(ex)

    def close_program(self, ex):
        if ex.ctrl_fd is not None:
            if self.sel.get_map().get(ex.ctrl_fd) is not None:
                self.sel.unregister(ex.ctrl_fd)
            os.close(ex.ctrl_fd)
            ex.ctrl_fd = None
            ex.ctrl_pending = b""

    def pump_stdin(self, ex):
        fd = ex.stdin_fd
        if fd is None:
            return
        if ex.tty is not None and not ex.keep_stdin_open and not ex.eof_sent:
            ex.eof_sent = True
            ex.stdin_pending += end_of_input(ex.stdin_pending, ex.last_input)
        if ex.stdin_pending and ex.tty is not None:
            ex.last_input = ex.stdin_pending[-1:]
        while ex.stdin_pending:
            try:
                n = os.write(fd, ex.stdin_pending)
            except BlockingIOError:
                break
            except OSError:  # the program closed its stdin
                ex.stdin_pending = b""
                break
            ex.stdin_pending = ex.stdin_pending[n:]
        registered = self.sel.get_map().get(fd) is not None
        if ex.stdin_pending:
            if not registered:
                self.sel.register(fd, selectors.EVENT_WRITE, ("in", ex))
            return
        if registered:
            self.sel.unregister(fd)
        if not ex.keep_stdin_open:
            os.close(fd)
            ex.stdin_fd = None

    def on_output(self, fd, ex, name):
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # (a pty's master reads EIO once the program and its children are gone)
            self.sel.unregister(fd)
            os.close(fd)
            if fd == ex.master_fd:
                ex.master_fd = None
            ex.open_streams -= 1
            self.maybe_finish(ex)
            return
        buf = ex.out[name]
        room = ex.max_output - len(buf)
        if room < len(chunk):
            ex.truncated = True
            chunk = chunk[: max(room, 0)]
        if chunk:
            buf += chunk
            if ex.stream:
                self.send({"type": "output", "id": ex.id, "stream": name, "data": base64.b64encode(chunk).decode()})

    def on_stat(self, fd, ex):
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            ex.stat_buf += chunk
            *lines, ex.stat_buf = ex.stat_buf.split(b"\n")
            for line in lines:
                try:
                    rec = json.loads(line)
                except ValueError:
                    # A bash spare handed its program before it had booted: its boot report
                    # (`times`: the shell's line, then its children's) comes here.
                    if ex.language == "bash" and not ex.times_seen:
                        ex.times_seen = True
                        try:
                            ex.cpu_baseline = parse_times(line)
                        except ValueError:
                            pass
                    continue
                # (The program holds this pipe too: what it writes there is its own affair, and a
                # line that is not a report is ignored rather than let end the agent.)
                if not isinstance(rec, dict):
                    continue
                if "baseline" in rec:
                    if number(rec["baseline"]):
                        ex.cpu_baseline = float(rec["baseline"])
                    if ex.runs_since is None:  # its spare has booted: the program starts now
                        ex.runs_since = time.monotonic()
                elif "exit" in rec and ex.report is None and not ex.timed_out and not ex.killed and ex.language != "bash":
                    # (bash sends no exit report: its end comes from wait4 only)
                    report = exit_report(rec)
                    if report is None:
                        continue
                    ex.report = report
                    # The program is ending. If something it left behind still holds its
                    # pipes, end it now so they close; else the answer goes first
                    # (maybe_finish ends the group after it): a SIGKILL wakes every thread
                    # of the exiting process, and they preempt us while its memory is torn
                    # down (measured for node: 1.6-2.9 ms between report and answer).
                    # (The leader may get the SIGKILL on its way out; its report already counts.)
                    if ex.open_streams > 0:
                        self.kill_group(ex.pid)
                    self.maybe_finish(ex)
            return
        self.close_stat(ex)

    def close_stat(self, ex):
        if ex.stat_fd is not None:
            if self.sel.get_map().get(ex.stat_fd) is not None:
                self.sel.unregister(ex.stat_fd)
            os.close(ex.stat_fd)
            ex.stat_fd = None
