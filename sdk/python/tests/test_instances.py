"""Persistent instances through the Python SDK, against the real gateway (and its devbox image).

One instance for the module, stopped at the end: lifecycle, SSH with the stock client, an
exposed URL, a port forward, file copy and sync, pause/resume, and another key's 404.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
import http.client
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest

from faas_sdk import ConflictError, FaaSClient, Instance, NotFoundError, ResourceUnavailableError
from faas_sdk.exceptions import FaaSError


@pytest.fixture(scope="module")
def inst(client: FaaSClient) -> Iterator[Instance]:
    i = client.instances.start(resources={"disk_gb": 0.25}, ttl=600)
    try:
        yield i
    finally:
        client.instances.stop(i.id)


def test_start_get_list_stop_state(client: FaaSClient, client2: FaaSClient, inst: Instance) -> None:
    assert inst.status == "running"
    assert inst.resources["diskGb"] == 0.25
    assert client.instances.get(inst.id).status == "running"
    assert inst.id in [i.id for i in client.instances.list()]
    with pytest.raises(NotFoundError):
        client2.instances.get(inst.id)
    with pytest.raises(NotFoundError):
        client2.instances.get_ssh_info(inst.id)
    assert inst.id not in [i.id for i in client2.instances.list()]
    with pytest.raises(ResourceUnavailableError) as e:
        client.instances.start(network=True)
    assert e.value.field == "network"


def test_ssh_with_the_stock_client(client: FaaSClient, inst: Instance, tmp_path: Path) -> None:
    info = client.instances.get_ssh_info(inst.id)
    assert info.private_key and info.private_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert client.instances.get_ssh_info(inst.id).private_key is None  # given once
    key = tmp_path / "key"
    key.write_text(info.private_key)
    key.chmod(0o600)
    known = tmp_path / "known_hosts"
    known.write_text(f"[{info.host}]:{info.port} {info.host_key}\n")
    out = subprocess.run(
        ["ssh", "-i", str(key), "-p", str(info.port), "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes", f"{info.username}@{info.host}", "echo hi $(id -u)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hi 65534\n"


def test_exec_expose_and_port_forward(client: FaaSClient, inst: Instance) -> None:
    r = client.instances.exec(inst.id, "mkdir -p ~/www && echo py-hello > ~/www/a.txt && (setsid nohup python3 -m http.server 8100 --bind 127.0.0.1 --directory ~/www >/dev/null 2>&1 &) && for i in $(seq 100); do python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8100))\" 2>/dev/null && break; sleep 0.05; done; echo ok")
    assert (r.exit_code, r.stdout) == (0, "ok\n")
    e = client.instances.expose(inst.id, "pyweb", 8100)
    u = urllib.parse.urlsplit(e.url)
    # Its own origin: a host name of its own under localhost, on the gateway's port.
    assert (u.scheme, u.hostname, u.port, u.path) == ("http", f"{inst.id}-pyweb.localhost", urllib.parse.urlsplit(os.environ["FAAS_ENDPOINT"]).port, "/") and e.token
    # *.localhost is loopback (browsers and curl know it; the system resolver may not).
    conn = http.client.HTTPConnection("127.0.0.1", u.port, timeout=30)
    conn.request("GET", f"/a.txt?faas_token={e.token}", headers={"Host": u.netloc})
    res = conn.getresponse()
    assert (res.status, res.read()) == (200, b"py-hello\n")
    assert res.getheader("Set-Cookie") == f"faas_token={e.token}; Path=/; HttpOnly; SameSite=Lax"
    conn.request("GET", "/a.txt", headers={"Host": u.netloc})
    res = conn.getresponse()
    assert res.status == 401
    res.read()
    conn.close()
    with client.instances.create_port_forward(inst.id, 0, 8100) as fwd:
        with socket.create_connection(("127.0.0.1", fwd.local_port), timeout=30) as s:
            s.sendall(b"GET /a.txt HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        assert data.startswith(b"HTTP/1.0 200") and data.endswith(b"py-hello\n")


def test_copy_and_sync(client: FaaSClient, inst: Instance, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    blob = os.urandom(100_000) + b"\x00\xff"
    (src / "blob.bin").write_bytes(blob)
    (src / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    (src / "tool.sh").chmod(0o755)
    (src / "sub" / "notes.txt").write_text("notes\n")
    up = client.instances.copy_files(inst.id, "upload", str(src), "pytree")
    assert up["files"] == 3
    assert client.instances.exec(inst.id, "~/pytree/tool.sh && stat -c %a ~/pytree/tool.sh").stdout == "tool\n755\n"
    back = tmp_path / "back"
    down = client.instances.copy_files(inst.id, "download", str(back), "/home/sandbox/pytree")
    assert down["files"] == 3
    assert (back / "blob.bin").read_bytes() == blob
    assert stat.S_IMODE((back / "tool.sh").stat().st_mode) == 0o755
    assert (back / "sub" / "notes.txt").read_text() == "notes\n"

    # One way with an exclude, then a deletion (dry run first); then two-way.
    (src / "skip.log").write_text("x")
    s1 = client.instances.sync_files(inst.id, str(src), "pysync", exclude=["*.log"])
    assert sorted(s1.uploaded) == ["blob.bin", "sub", "sub/notes.txt", "tool.sh"]
    (src / "tool.sh").unlink()
    dry = client.instances.sync_files(inst.id, str(src), "pysync", exclude=["*.log"], dry_run=True)
    assert dry.deleted_remote == ["tool.sh"]
    assert "tool.sh" in client.instances.exec(inst.id, "ls ~/pysync").stdout
    client.instances.sync_files(inst.id, str(src), "pysync", exclude=["*.log"])
    assert client.instances.exec(inst.id, "ls ~/pysync").stdout == "blob.bin\nsub\n"
    state = str(tmp_path / "state.json")
    client.instances.sync_files(inst.id, str(src), "pysync", exclude=["*.log"], bidirectional=True, state_path=state)
    client.instances.exec(inst.id, "echo remote > ~/pysync/new.txt && rm ~/pysync/sub/notes.txt")
    two = client.instances.sync_files(inst.id, str(src), "pysync", exclude=["*.log"], bidirectional=True, state_path=state)
    assert two.downloaded == ["new.txt"] and two.deleted_local == ["sub/notes.txt"]
    assert (src / "new.txt").read_text() == "remote\n" and not (src / "sub" / "notes.txt").exists()



def test_downloads_from_a_hostile_instance(client: FaaSClient, inst: Instance, tmp_path: Path) -> None:
    """Code in the instance aims links at the caller's disk and makes the copied path a link:
    copy_files / sync_files write nothing outside the local target and never make it a link."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("untouched")
    script = "\n".join(
        [
            "set -e",
            "mkdir -p ~/pyhs/tree/d",
            f"ln -s '{outside}' ~/pyhs/tree/abs",
            "ln -s ../outside ~/pyhs/tree/up",
            "echo hi > ~/pyhs/tree/d/x",
            f"ln -s '{outside}' ~/pyhs/evil",
        ]
    )
    r = client.instances.exec(inst.id, script)
    assert r.exit_code == 0, r.stderr

    def untouched() -> None:
        assert sorted(p.name for p in outside.iterdir()) == ["secret"]
        assert (outside / "secret").read_text() == "untouched"

    local = tmp_path / "copy"
    local.mkdir()
    (local / "mine").write_text("keep me")
    with pytest.raises(FaaSError, match="replace the target by a symbolic link"):
        client.instances.copy_files(inst.id, "download", str(local), "/home/sandbox/pyhs/evil")
    assert local.is_dir() and not local.is_symlink() and (local / "mine").read_text() == "keep me"
    untouched()

    synced = tmp_path / "synced"
    s = client.instances.sync_files(inst.id, str(synced), "/home/sandbox/pyhs/tree", direction="download")
    assert sorted(s.downloaded) == ["abs", "d", "d/x", "up"]
    assert os.readlink(synced / "abs") == str(outside) and os.readlink(synced / "up") == "../outside"
    # The instance turns the directory into a link to the caller's disk with a file beside.
    assert client.instances.exec(inst.id, f"rm -rf ~/pyhs/tree/d && ln -s '{outside}' ~/pyhs/tree/d").exit_code == 0
    client.instances.sync_files(inst.id, str(synced), "/home/sandbox/pyhs/tree", direction="download")
    assert os.readlink(synced / "d") == str(outside)
    assert synced.is_dir() and not synced.is_symlink()
    untouched()

def test_pause_and_resume(client: FaaSClient, inst: Instance) -> None:
    client.instances.exec(inst.id, "setsid nohup sh -c 'i=0; while :; do i=$((i+1)); echo $i > /sandbox/tmp/n.new; mv /sandbox/tmp/n.new /sandbox/tmp/n; sleep 0.01; done' >/dev/null 2>&1 & echo $! > /sandbox/tmp/n.pid")
    time.sleep(0.3)
    read = lambda: int(client.instances.exec(inst.id, "cat /sandbox/tmp/n").stdout)  # noqa: E731
    before = read()
    assert client.instances.pause(inst.id).status == "paused"
    with pytest.raises(ConflictError):
        client.instances.exec(inst.id, "true")
    time.sleep(0.5)
    assert client.instances.resume(inst.id).status == "running"
    after = read()
    assert before <= after < before + 15  # it did not count while paused
    time.sleep(0.3)
    assert read() > after
    client.instances.exec(inst.id, "kill $(cat /sandbox/tmp/n.pid)")
