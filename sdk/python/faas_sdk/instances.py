"""``client.instances``: persistent instances from Python.

Start / get / list / stop, pause and resume, SSH info, exposed URLs, commands, file copies
(tar through the gateway: binary-safe, modes, times and links kept) and sync (one-way or
two-way, gitignore-style excludes, dry run), port forwards (a local listener whose connections
each ride a WebSocket to the gateway and on into the instance), and the Jupyter / VNC / VS Code
launchers. The same wire calls as the TypeScript SDK's ``faas.instances``.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote, urlsplit

from ._http import Transport
from .exceptions import FaaSError, error_from_body

__all__ = ["InstancesAPI", "Instance", "SshInfo", "Exposure", "InstanceExecResult", "PortForward", "SyncSummary"]


def _seg(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True)
class Instance:
    id: str
    status: str
    created_at: str
    expires_at: str
    language: str
    resources: Dict[str, Any]
    network: bool
    auto_stop: Optional[int]
    usage: Dict[str, Any]
    stopped_at: Optional[str] = None
    stop_reason: Optional[str] = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Instance":
        return cls(
            id=str(d.get("id", "")),
            status=str(d.get("status", "")),
            created_at=str(d.get("createdAt", "")),
            expires_at=str(d.get("expiresAt", "")),
            language=str(d.get("language", "")),
            resources=dict(d.get("resources") or {}),
            network=bool(d.get("network")),
            auto_stop=d.get("autoStop"),
            usage=dict(d.get("usage") or {}),
            stopped_at=d.get("stoppedAt"),
            stop_reason=d.get("stopReason"),
        )


@dataclass(frozen=True)
class SshInfo:
    host: str
    port: int
    username: str
    #: The private key (OpenSSH format): only on the first call (or with ``rotate_key``).
    private_key: Optional[str]
    fingerprint: str
    host_key: Optional[str]
    command: str

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "SshInfo":
        return cls(str(d["host"]), int(d["port"]), str(d["username"]), d.get("privateKey"), str(d.get("fingerprint", "")), d.get("hostKey"), str(d.get("command", "")))


@dataclass(frozen=True)
class Exposure:
    name: str
    port: int
    url: str
    strip_prefix: bool
    #: The URL's access token (``?faas_token=``): only in the answer of ``expose``.
    token: Optional[str] = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Exposure":
        return cls(str(d["name"]), int(d["port"]), str(d["url"]), bool(d.get("stripPrefix", True)), d.get("token"))


@dataclass(frozen=True)
class InstanceExecResult:
    stdout: str
    stderr: str
    exit_code: int
    timed_out: bool
    truncated: bool


@dataclass
class SyncSummary:
    dry_run: bool
    uploaded: List[str] = field(default_factory=list)
    downloaded: List[str] = field(default_factory=list)
    deleted_remote: List[str] = field(default_factory=list)
    deleted_local: List[str] = field(default_factory=list)
    conflicts: List[Dict[str, str]] = field(default_factory=list)
    bytes_uploaded: int = 0
    bytes_downloaded: int = 0


# ---- gitignore-style patterns ----------------------------------------------------------------


def _glob_to_regex(g: str) -> str:
    out, i = "", 0
    while i < len(g):
        c = g[i]
        if c == "*":
            if g[i + 1 : i + 2] == "*":
                at_start = i == 0 or g[i - 1] == "/"
                if at_start and g[i + 2 : i + 3] == "/":
                    out += "(?:.*/)?"
                    i += 3
                    continue
                if at_start and i + 2 == len(g):
                    out += ".*"
                    i += 2
                    continue
                out += "[^/]*"
                i += 2
                continue
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = g.find("]", i + 2)
            if end < 0:
                out += "\\["
            else:
                cls = g[i + 1 : end]
                out += "[" + ("^" + cls[1:] if cls.startswith("!") else cls).replace("\\", "\\\\") + "]"
                i = end
        elif c == "\\" and i + 1 < len(g):
            i += 1
            out += re.escape(g[i])
        else:
            out += re.escape(c)
        i += 1
    return out


class IgnoreMatcher:
    """gitignore rules: the last matching rule wins; what is under a left-out directory stays out."""

    def __init__(self) -> None:
        self.rules: List[Tuple[re.Pattern, bool, bool]] = []  # type: ignore[type-arg]

    def add(self, lines: Iterable[str], base: str = "") -> None:
        for line in lines:
            line = re.sub(r"(?<!\\)\s+$", "", line)
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            elif line.startswith(("\\!", "\\#")):
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            line = line.lstrip("/")
            body = _glob_to_regex(line)
            pattern = f"^{re.escape(base)}{body}$" if anchored else f"^{re.escape(base)}(?:.*/)?{body}$"
            self.rules.append((re.compile(pattern), negate, dir_only))

    def _self(self, path: str, is_dir: bool) -> bool:
        ignored = False
        for rx, negate, dir_only in self.rules:
            if dir_only and not is_dir:
                continue
            if rx.match(path):
                ignored = not negate
        return ignored

    def ignores(self, path: str, is_dir: bool) -> bool:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if self._self("/".join(parts[:i]), True):
                return True
        return self._self(path, is_dir)


# ---- local trees -----------------------------------------------------------------------------


def _meta(full: str) -> Optional[Dict[str, Any]]:
    st = os.lstat(full)
    mode = stat.S_IMODE(st.st_mode)
    mtime = st.st_mtime_ns / 1e6
    if stat.S_ISLNK(st.st_mode):
        return {"type": "symlink", "size": 0, "mtimeMs": mtime, "mode": mode, "target": os.readlink(full)}
    if stat.S_ISDIR(st.st_mode):
        return {"type": "dir", "size": 0, "mtimeMs": mtime, "mode": mode}
    if stat.S_ISREG(st.st_mode):
        return {"type": "file", "size": st.st_size, "mtimeMs": mtime, "mode": mode}
    return None


def _walk(root: str, matcher: IgnoreMatcher, gitignore: bool) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}

    def visit(rel: str) -> None:
        d = os.path.join(root, *rel.split("/")) if rel else root
        if gitignore:
            try:
                with open(os.path.join(d, ".gitignore"), encoding="utf-8") as f:
                    matcher.add(f.read().splitlines(), rel + "/" if rel else "")
            except OSError:
                pass
        for name in sorted(os.listdir(d)):
            p = f"{rel}/{name}" if rel else name
            try:
                m = _meta(os.path.join(d, name))
            except OSError:
                continue
            if m is None or matcher.ignores(p, m["type"] == "dir"):
                continue
            out[p] = m
            if m["type"] == "dir":
                visit(p)

    visit("")
    return out


def _add_entry(tf: tarfile.TarFile, full: str, name: str) -> None:
    info = tf.gettarinfo(full, arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    st = os.lstat(full)
    info.pax_headers = {"mtime": f"{st.st_mtime_ns / 1e9:.6f}"}
    if info.isreg():
        with open(full, "rb") as f:
            tf.addfile(info, f)
    else:
        tf.addfile(info)


# The archive of a download comes from the operator, and what it holds was written by code in
# the instance: it is hostile input. An entry's name is relative without a `..` component (so
# nothing resolves to the target itself or outside it); every directory between the target and
# an entry is a real directory, walked with O_NOFOLLOW descriptors (a symbolic link there,
# pre-existing or made earlier in the same archive, is refused, never followed); an entry may
# not appear twice nor replace a directory the archive already wrote into; files are created
# afresh (O_EXCL | O_NOFOLLOW: no write through a link or a hard link) with mode and times set
# on the open file; directories get theirs at the end through an O_NOFOLLOW descriptor;
# set-user/group-id bits are dropped; hard links, devices and FIFOs are skipped.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW


def _refuse(name: str, why: str) -> FaaSError:
    return FaaSError(f"refusing tar entry {name!r}: {why}", code="VALIDATION_ERROR")


def _entry_parts(name: str) -> List[str]:
    if "\0" in name:
        raise _refuse(name, "NUL in its name")
    if name.startswith("/"):
        raise _refuse(name, "absolute path, outside the target")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(name, "`..` in its path, outside the target")
    if not parts:
        raise _refuse(name, "it is the target directory itself")
    return parts


def _parent_fd(root_fd: int, parts: List[str], name: str, create: bool) -> int:
    """A descriptor of the directory holding parts[-1], every step a real directory (no link)."""
    fd = os.dup(root_fd)
    try:
        for part in parts[:-1]:
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                if not create:
                    raise _refuse(name, f"{part} is missing") from None
                try:
                    os.mkdir(part, dir_fd=fd)
                except FileExistsError:
                    pass
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise _refuse(name, f"{part} is a symbolic link (never written through)")
            if not stat.S_ISDIR(st.st_mode):
                raise _refuse(name, f"{part} is not a directory")
            nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _remove_at(pfd: int, leaf: str) -> None:
    """Removes what is at leaf (a link itself, never what it points to)."""
    try:
        st = os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(leaf, dir_fd=pfd)
    else:
        os.unlink(leaf, dir_fd=pfd)


def _extract(fileobj: Any, root: str, rename: Any = None, self_name: Optional[str] = None) -> Tuple[int, int]:
    """Unpacks a tar stream under root by the rules above. ``rename`` maps an entry's name (None
    skips it); ``self_name`` is the copy itself, which may be a file or a directory, not a link."""
    root = os.path.abspath(root)
    os.makedirs(root, exist_ok=True)
    files = nbytes = 0
    dirs: List[Tuple[List[str], str, int, float]] = []
    seen: set = set()
    written: set = set()
    root_fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        with tarfile.open(fileobj=fileobj, mode="r|*") as tf:
            for m in tf:
                if not (m.isdir() or m.issym() or m.isreg()):
                    continue  # hard links, devices, FIFOs
                rel: Optional[str] = "/".join(_entry_parts(m.name))
                if rename is not None:
                    rel = rename(rel)
                    if rel is None:
                        continue
                parts = _entry_parts(rel)
                rel = "/".join(parts)
                if rel in seen:
                    raise _refuse(m.name, "a second entry for the same path")
                if not m.isdir() and rel in written:
                    raise _refuse(m.name, "it would replace a directory this archive wrote into")
                if m.issym() and self_name is not None and rel == self_name:
                    raise _refuse(m.name, "it would replace the target by a symbolic link")
                seen.add(rel)
                for i in range(1, len(parts)):
                    written.add("/".join(parts[:i]))
                mtime = float(m.pax_headers.get("mtime", m.mtime))
                leaf = parts[-1]
                pfd = _parent_fd(root_fd, parts, m.name, True)
                try:
                    try:
                        st: Optional[os.stat_result] = os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
                    except FileNotFoundError:
                        st = None
                    if m.isdir():
                        if st is not None and not stat.S_ISDIR(st.st_mode):
                            _remove_at(pfd, leaf)
                            st = None
                        if st is None:
                            os.mkdir(leaf, dir_fd=pfd)
                        dirs.append((parts, m.name, m.mode & 0o1777, mtime))
                        continue
                    _remove_at(pfd, leaf)
                    if m.issym():
                        os.symlink(m.linkname, leaf, dir_fd=pfd)
                        try:
                            os.utime(leaf, (mtime, mtime), dir_fd=pfd, follow_symlinks=False)
                        except OSError:
                            pass
                        continue
                    fd = os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=pfd)
                    try:
                        src = tf.extractfile(m)
                        if src is not None:
                            while True:
                                chunk = src.read(1 << 18)
                                if not chunk:
                                    break
                                _write_all(fd, chunk)
                                nbytes += len(chunk)
                        os.fchmod(fd, m.mode & 0o1777)
                        os.utime(fd, (mtime, mtime))
                    finally:
                        os.close(fd)
                    files += 1
                finally:
                    os.close(pfd)
        # Directories last, deepest first (writing into them changed their times).
        for parts, name, mode, mtime in reversed(dirs):
            pfd = _parent_fd(root_fd, parts, name, False)
            try:
                fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=pfd)
                try:
                    os.fchmod(fd, mode)
                    os.utime(fd, (mtime, mtime))
                finally:
                    os.close(fd)
            finally:
                os.close(pfd)
    finally:
        os.close(root_fd)
    return files, nbytes


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _same(a: Optional[Mapping[str, Any]], b: Optional[Mapping[str, Any]]) -> bool:
    if not a or not b or a["type"] != b["type"]:
        return False
    if a["type"] == "dir":
        return True
    if a["type"] == "symlink":
        return a.get("target") == b.get("target")
    return a["size"] == b["size"] and abs(a["mtimeMs"] - b["mtimeMs"]) < 1


def plan_sync(local: Mapping[str, Any], remote: Mapping[str, Any], bidirectional: bool, direction: str, base: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """What a sync moves (as the TypeScript SDK's planSync): one-way makes the target equal the
    source; two-way judges each side against the last sync's state, newest wins on both-changed."""
    up: List[str] = []
    down: List[str] = []
    del_r: set = set()
    del_l: set = set()
    conflicts: List[Dict[str, str]] = []
    state: Dict[str, Any] = {}
    for p in sorted(set(local) | set(remote)):
        lm, rm = local.get(p), remote.get(p)
        if not bidirectional:
            src, dst = (lm, rm) if direction == "upload" else (rm, lm)
            dels, moves = (del_r, up) if direction == "upload" else (del_l, down)
            if src and _same(src, dst):
                state[p] = src
            elif src:
                if dst and dst["type"] != src["type"]:
                    dels.add(p)
                moves.append(p)
                state[p] = src
            elif dst:
                dels.add(p)
            continue
        b = (base or {}).get(p)
        if lm and rm:
            if _same(lm, rm):
                state[p] = lm
                continue
            l_changed, r_changed = not b or not _same(lm, b), not b or not _same(rm, b)
            if l_changed and not r_changed:
                winner = "local"
            elif r_changed and not l_changed:
                winner = "remote"
            else:
                winner = "local" if lm["mtimeMs"] >= rm["mtimeMs"] else "remote"
                conflicts.append({"path": p, "winner": winner})
            if lm["type"] != rm["type"]:
                (del_r if winner == "local" else del_l).add(p)
            (up if winner == "local" else down).append(p)
            state[p] = lm if winner == "local" else rm
        elif lm:
            if b and _same(lm, b):
                del_l.add(p)
            else:
                up.append(p)
                state[p] = lm
        elif rm:
            if b and _same(rm, b):
                del_r.add(p)
            else:
                down.append(p)
                state[p] = rm

    def may_go(dels: set, side: Mapping[str, Any]) -> set:
        return {p for p in dels if side.get(p, {}).get("type") != "dir" or all(q in dels for q in side if q.startswith(p + "/"))}

    def top_most(paths: set) -> List[str]:
        return sorted(p for p in paths if not any("/".join(p.split("/")[:i]) in paths for i in range(1, len(p.split("/")))))

    del_r, del_l = may_go(del_r, remote), may_go(del_l, local)
    for p in set(local) | set(remote):
        if p not in state and ((remote.get(p, {}).get("type") == "dir" and p not in del_r and p in local) or (local.get(p, {}).get("type") == "dir" and p not in del_l and p in remote)):
            state[p] = local.get(p) or remote.get(p)
    return {"upload": up, "download": down, "deleteRemote": top_most(del_r), "deleteLocal": top_most(del_l), "conflicts": conflicts, "state": state}


# ---- port forwards ---------------------------------------------------------------------------


class PortForward:
    """A local TCP listener whose connections are tunnelled into the instance; ``close()`` ends it."""

    def __init__(self, url: str, headers: Mapping[str, str], local_port: int, remote_port: int, host: str) -> None:
        self.remote_port = remote_port
        self._url, self._headers = url, dict(headers)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._server: Optional[asyncio.base_events.Server] = None
        self._tasks: set = set()
        self._thread = threading.Thread(target=self._run, args=(host, local_port), daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        self.local_port: int = self._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def _run(self, host: str, port: int) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, host, port))
        except BaseException as e:  # noqa: BLE001 - reported to the caller
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import websockets  # Debian's python3-websockets, as the streaming module uses

        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            async with websockets.connect(self._url, extra_headers=self._headers, max_size=None, compression=None) as ws:

                async def up() -> None:
                    while True:
                        data = await reader.read(65536)
                        if not data:
                            break
                        await ws.send(data)
                    await ws.close()

                async def down() -> None:
                    async for msg in ws:
                        writer.write(msg if isinstance(msg, bytes) else msg.encode())
                        await writer.drain()

                await asyncio.gather(up(), down())
        except Exception:  # noqa: BLE001 - one connection failing ends that connection only
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    def close(self) -> None:
        async def shut() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            for t in list(self._tasks):
                t.cancel()

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> "PortForward":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---- the API ---------------------------------------------------------------------------------


class InstancesAPI:
    """``client.instances``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _post(self, instance_id: str, action: str, body: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None) -> Any:
        return self._t.request("POST", f"/v1/instances/{_seg(instance_id)}/{action}", dict(body or {}), timeout=timeout).body

    def start(
        self,
        language: Optional[str] = None,
        resources: Optional[Mapping[str, Any]] = None,
        ttl: Optional[int] = None,
        auto_stop: Union[bool, int, None] = None,
        network: Optional[bool] = None,
        snapshot_id: Optional[str] = None,
    ) -> Instance:
        """Starts an instance (``resources``: cpu_cores, memory_mb, disk_gb, gpu_count); returns once SSH answers."""
        body: Dict[str, Any] = {}
        if language is not None:
            body["language"] = language
        if resources is not None:
            body["resources"] = {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): v for k, v in resources.items()}
        if ttl is not None:
            body["ttl"] = ttl
        if auto_stop is not None:
            body["autoStop"] = auto_stop
        if network is not None:
            body["network"] = network
        if snapshot_id is not None:
            body["snapshotId"] = snapshot_id
        return Instance.from_json(self._t.request("POST", "/v1/instances", body, timeout=self._t.timeout + 30).body)

    def get(self, instance_id: str) -> Instance:
        return Instance.from_json(self._t.request("GET", f"/v1/instances/{_seg(instance_id)}").body)

    def list(self) -> List[Instance]:
        return [Instance.from_json(d) for d in self._t.request("GET", "/v1/instances").body.get("instances", [])]

    def stop(self, instance_id: str) -> Instance:
        """Stops it and removes everything of it (idempotent)."""
        return Instance.from_json(self._post(instance_id, "stop"))

    def pause(self, instance_id: str) -> Instance:
        return Instance.from_json(self._post(instance_id, "pause"))

    def resume(self, instance_id: str) -> Instance:
        return Instance.from_json(self._post(instance_id, "resume"))

    def get_ssh_info(self, instance_id: str, rotate_key: bool = False) -> SshInfo:
        return SshInfo.from_json(self._post(instance_id, "ssh", {"rotateKey": True} if rotate_key else {}))

    def expose(self, instance_id: str, name: str, port: int, strip_prefix: Optional[bool] = None) -> Exposure:
        """Exposes a port on an origin of its own: ``url`` is
        ``http://<id>-<name>.<FAAS_EXPOSE_DOMAIN>:<gateway port>/`` (HTTP and WebSocket), for the
        owner's key or the returned ``token`` (``?faas_token=``, then a cookie for that host)."""
        body: Dict[str, Any] = {"name": name, "port": port}
        if strip_prefix is not None:
            body["stripPrefix"] = strip_prefix
        return Exposure.from_json(self._post(instance_id, "expose", body))

    def exposures(self, instance_id: str) -> List[Exposure]:
        return [Exposure.from_json(d) for d in self._t.request("GET", f"/v1/instances/{_seg(instance_id)}/exposures").body.get("exposures", [])]

    def unexpose(self, instance_id: str, name: str) -> None:
        self._t.request("DELETE", f"/v1/instances/{_seg(instance_id)}/exposures/{_seg(name)}")

    def exec(self, instance_id: str, command: Union[str, Sequence[str]], stdin: Optional[str] = None, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None, timeout_ms: Optional[int] = None) -> InstanceExecResult:
        """Runs a command in the instance (a string runs under ``bash -lc``)."""
        body: Dict[str, Any] = {"command": command if isinstance(command, str) else list(command)}
        if stdin is not None:
            body["stdin"] = stdin
        if env is not None:
            body["env"] = dict(env)
        if cwd is not None:
            body["cwd"] = cwd
        if timeout_ms is not None:
            body["timeoutMs"] = timeout_ms
        d = self._post(instance_id, "exec", body, timeout=self._t.timeout + (timeout_ms or 0) / 1000)
        return InstanceExecResult(d["stdout"], d["stderr"], int(d["exitCode"]), bool(d["timedOut"]), bool(d["truncated"]))

    def launch_jupyter(self, instance_id: str) -> Dict[str, str]:
        return dict(self._post(instance_id, "jupyter", timeout=self._t.timeout + 60))

    def launch_vnc(self, instance_id: str) -> Dict[str, str]:
        return dict(self._post(instance_id, "vnc", timeout=self._t.timeout + 60))

    def launch_vscode(self, instance_id: str) -> Dict[str, str]:
        return dict(self._post(instance_id, "vscode", timeout=self._t.timeout + 60))

    def create_port_forward(self, instance_id: str, local_port: int, remote_port: int, host: str = "127.0.0.1") -> PortForward:
        """Listens on ``local_port`` (0: any free one) and tunnels each connection to ``remote_port`` in the instance."""
        self.get(instance_id)  # a clear error now rather than on the first connection
        ws = re.sub(r"^http", "ws", self._t.endpoint)
        return PortForward(f"{ws}/v1/instances/{_seg(instance_id)}/tunnel?port={int(remote_port)}", self._t.auth_header(), local_port, remote_port, host)

    # -- files ----------------------------------------------------------------------------------

    def _raw(self, method: str, path: str, body: Any, content_type: str) -> http.client.HTTPResponse:
        parts = urlsplit(self._t.endpoint)
        conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_cls(parts.hostname, parts.port, timeout=self._t.timeout)
        conn.request(method, parts.path.rstrip("/") + path, body=body, headers={**self._t.auth_header(), "Content-Type": content_type})
        res = conn.getresponse()
        if res.status >= 300:
            data = res.read()
            conn.close()
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = None
            raise error_from_body(res.status, parsed)
        return res

    def _upload(self, instance_id: str, remote_dir: str, add: Any) -> int:
        with tempfile.TemporaryFile() as spool:
            with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tf:
                add(tf)
            size = spool.tell()
            spool.seek(0)
            res = self._raw("PUT", f"/v1/instances/{_seg(instance_id)}/files?path={_seg(remote_dir)}", spool, "application/x-tar")
            res.read()
            return size

    def list_files(self, instance_id: str, path: str) -> Dict[str, Any]:
        return dict(self._post(instance_id, "files/list", {"path": path}))

    def copy_files(self, instance_id: str, direction: str, local_path: str, remote_path: str) -> Dict[str, int]:
        """Copies a file or tree (binary-safe; modes, times and links kept). The destination path
        is the copy itself; an existing directory there is merged into."""
        if direction == "upload":
            local = os.path.abspath(local_path)
            remote = remote_path.rstrip("/") or "/"
            top = posixpath.basename(remote)
            walked = _walk(local, IgnoreMatcher(), False) if os.path.isdir(local) and not os.path.islink(local) else {}

            def add(tf: tarfile.TarFile) -> None:
                _add_entry(tf, local, top)
                for rel in walked:
                    _add_entry(tf, os.path.join(local, *rel.split("/")), f"{top}/{rel}")

            nbytes = self._upload(instance_id, posixpath.dirname(remote) or ".", add)
            files = sum(1 for m in walked.values() if m["type"] == "file") or (1 if os.path.isfile(local) else 0)
            return {"files": files, "bytes": nbytes}
        if direction != "download":
            raise FaaSError("direction must be 'upload' or 'download'", code="VALIDATION_ERROR", field="direction")
        remote = remote_path.rstrip("/")
        top = posixpath.basename(remote)
        local = os.path.abspath(local_path)
        want = os.path.basename(local)
        res = self._raw("POST", f"/v1/instances/{_seg(instance_id)}/files/archive", json.dumps({"path": remote}), "application/json")

        def rename(n: str) -> Optional[str]:
            if n == top:
                return want
            return f"{want}/{n[len(top) + 1:]}" if n.startswith(top + "/") else None

        files, nbytes = _extract(res, os.path.dirname(local), rename, self_name=want)
        return {"files": files, "bytes": nbytes}

    def sync_files(
        self,
        instance_id: str,
        local_dir: str,
        remote_dir: str,
        exclude: Sequence[str] = (),
        use_gitignore: bool = False,
        dry_run: bool = False,
        bidirectional: bool = False,
        direction: str = "upload",
        state_path: Optional[str] = None,
    ) -> SyncSummary:
        """Syncs a local directory with one in the instance (see the TypeScript SDK's syncFiles)."""
        local_dir = os.path.abspath(local_dir)
        os.makedirs(local_dir, exist_ok=True)
        matcher = IgnoreMatcher()
        matcher.add(exclude)
        if use_gitignore:
            matcher.add([".git/"])
        local = _walk(local_dir, matcher, use_gitignore)
        listing = self.list_files(instance_id, remote_dir)
        if listing.get("exists") and listing.get("type") != "dir":
            raise FaaSError(f"{remote_dir} in the instance is not a directory", code="VALIDATION_ERROR", field="remote_dir")
        remote = {e["path"]: e for e in listing.get("entries", []) if not matcher.ignores(e["path"], e["type"] == "dir")}
        key = hashlib.sha256(f"{self._t.endpoint}\0{instance_id}\0{local_dir}\0{listing['path']}".encode()).hexdigest()[:32]
        state_file = state_path or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "faas", "sync", f"{key}.json")
        base = None
        if bidirectional:
            try:
                with open(state_file, encoding="utf-8") as f:
                    base = json.load(f)
            except (OSError, ValueError):
                base = None
        plan = plan_sync(local, remote, bidirectional, direction, base)
        summary = SyncSummary(
            dry_run=dry_run,
            uploaded=plan["upload"],
            downloaded=plan["download"],
            deleted_remote=plan["deleteRemote"],
            deleted_local=plan["deleteLocal"],
            conflicts=plan["conflicts"],
            bytes_uploaded=sum(local[p]["size"] for p in plan["upload"]),
            bytes_downloaded=sum(remote[p]["size"] for p in plan["download"]),
        )
        if dry_run:
            return summary
        if plan["deleteRemote"]:
            self._post(instance_id, "files/delete", {"path": listing["path"], "entries": plan["deleteRemote"]})
        for p in plan["deleteLocal"]:
            full = os.path.join(local_dir, *p.split("/"))
            shutil.rmtree(full) if os.path.isdir(full) and not os.path.islink(full) else os.remove(full)
        if plan["upload"]:
            self._upload(instance_id, listing["path"], lambda tf: [_add_entry(tf, os.path.join(local_dir, *p.split("/")), p) for p in plan["upload"]])
        if plan["download"]:
            res = self._raw("POST", f"/v1/instances/{_seg(instance_id)}/files/archive", json.dumps({"path": listing["path"], "entries": plan["download"]}), "application/json")
            _extract(res, local_dir)
        if bidirectional:
            os.makedirs(os.path.dirname(state_file), exist_ok=True)
            with open(state_file, "w", encoding="utf-8") as f:
                json.dump(plan["state"], f)
        return summary

