"""The SDK's tar extraction (copy_files / sync_files downloads) against hostile archives made
with tarfile. Offline: the archive is the attacker, the local disk the target."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from faas_sdk.exceptions import FaaSError
from faas_sdk.instances import _extract


def make_tar(*entries: dict) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = e.get("type", tarfile.REGTYPE)
            ti.linkname = e.get("linkname", "")
            ti.mode = e.get("mode", 0o644)
            ti.mtime = e.get("mtime", 1700000000)
            ti.devmajor, ti.devminor = e.get("dev", (0, 0))
            data = e.get("data", b"")
            ti.size = len(data) if ti.type == tarfile.REGTYPE else 0
            tf.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)
    buf.seek(0)
    return buf


@pytest.fixture()
def box(tmp_path: Path) -> Any:
    target = tmp_path / "target"
    outside = tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("untouched")
    outside.chmod(0o755)

    class Box:
        def __init__(self) -> None:
            self.work, self.target, self.outside = tmp_path, target, outside

        def extract(self, *entries: dict, rename: Optional[Callable[[str], Optional[str]]] = None, self_name: Optional[str] = None) -> Any:
            return _extract(make_tar(*entries), str(self.target), rename, self_name=self_name)

        def contained(self) -> None:
            assert self.target.is_dir() and not self.target.is_symlink()
            assert sorted(p.name for p in self.outside.iterdir()) == ["secret"]
            assert (self.outside / "secret").read_text() == "untouched"
            assert stat.S_IMODE(self.outside.stat().st_mode) == 0o755
            assert sorted(p.name for p in self.work.iterdir()) == ["outside", "target"]

    return Box()


SYM, DIR, LNK = tarfile.SYMTYPE, tarfile.DIRTYPE, tarfile.LNKTYPE


def test_refuses_a_dotdot_that_is_the_target_itself(box: Any) -> None:
    with pytest.raises(FaaSError, match="refusing tar entry 'a/..'"):
        box.extract({"name": "a/..", "type": SYM, "linkname": str(box.outside)}, {"name": "x", "data": b"pwned"})
    box.contained()
    with pytest.raises(FaaSError, match="refusing"):
        box.extract({"name": "a/../", "type": DIR, "mode": 0o777})
    assert stat.S_IMODE(box.target.stat().st_mode) != 0o777


@pytest.mark.parametrize("name", ["../x", "a/../../x", "ABS", "/etc/../ABS"])
def test_refuses_parent_and_absolute_paths(box: Any, name: str) -> None:
    name = name.replace("/ABS", str(box.outside / "x")).replace("ABS", str(box.outside / "x"))
    with pytest.raises(FaaSError, match="refusing tar entry"):
        box.extract({"name": name, "data": b"pwned"})
    box.contained()


def test_never_writes_through_a_link_made_earlier_in_the_archive(box: Any) -> None:
    with pytest.raises(FaaSError, match="symbolic link"):
        box.extract({"name": "l", "type": SYM, "linkname": str(box.outside)}, {"name": "l/x", "data": b"pwned"})
    assert os.readlink(box.target / "l") == str(box.outside)
    box.contained()
    (box.target / "l").unlink()
    with pytest.raises(FaaSError, match="symbolic link"):
        box.extract({"name": "d", "type": DIR}, {"name": "d/up", "type": SYM, "linkname": "../../outside"}, {"name": "d/up/sub", "type": DIR, "mode": 0o777})
    box.contained()


def test_never_writes_through_a_link_already_there(box: Any) -> None:
    os.symlink(box.outside, box.target / "l")
    with pytest.raises(FaaSError, match="symbolic link"):
        box.extract({"name": "l/secret", "data": b"pwned"})
    box.contained()
    os.symlink(box.outside / "secret", box.target / "f")
    box.extract({"name": "f", "data": b"mine"})
    assert (box.target / "f").read_text() == "mine" and not (box.target / "f").is_symlink()
    box.contained()


def test_refuses_a_link_named_like_the_copy_itself(box: Any) -> None:
    def rename(n: str) -> Optional[str]:
        return "copy" if n == "src" else "copy/" + n[4:] if n.startswith("src/") else None

    with pytest.raises(FaaSError, match="replace the target by a symbolic link"):
        box.extract({"name": "src", "type": SYM, "linkname": str(box.outside)}, {"name": "src/x", "data": b"pwned"}, rename=rename, self_name="copy")
    assert not os.path.lexists(box.target / "copy")
    box.contained()
    with pytest.raises(FaaSError, match="refusing"):
        box.extract({"name": "src/..", "type": SYM, "linkname": str(box.outside)}, rename=rename, self_name="copy")
    box.contained()


def test_skips_hard_links_and_devices_and_replaces_existing_hard_links(box: Any) -> None:
    box.extract(
        {"name": "h", "type": LNK, "linkname": str(box.outside / "secret")},
        {"name": "h2", "type": LNK, "linkname": "../outside/secret"},
        {"name": "null", "type": tarfile.CHRTYPE, "dev": (1, 3)},
        {"name": "blk", "type": tarfile.BLKTYPE, "dev": (8, 0)},
        {"name": "fifo", "type": tarfile.FIFOTYPE},
        {"name": "ok", "data": b"fine"},
    )
    assert sorted(p.name for p in box.target.iterdir()) == ["ok"]
    box.contained()
    os.link(box.outside / "secret", box.target / "hl")
    box.extract({"name": "hl", "data": b"pwned"})
    assert (box.target / "hl").read_text() == "pwned"
    box.contained()


def test_refuses_duplicates_that_turn_a_directory_into_a_link(box: Any) -> None:
    with pytest.raises(FaaSError, match="second entry"):
        box.extract({"name": "d", "type": DIR, "mode": 0o700}, {"name": "d", "type": SYM, "linkname": str(box.outside)}, {"name": "d/x", "data": b"pwned"})
    box.contained()
    with pytest.raises(FaaSError, match="directory this archive wrote into"):
        box.extract({"name": "e/f", "data": b"x"}, {"name": "e", "type": SYM, "linkname": str(box.outside)}, {"name": "e/g", "data": b"pwned"})
    assert (box.target / "e").is_dir() and not (box.target / "e").is_symlink()
    box.contained()
    with pytest.raises(FaaSError, match="not a directory"):
        box.extract({"name": "g", "data": b"x"}, {"name": "g/h", "data": b"y"})
    box.contained()


def test_drops_setuid_bits(box: Any) -> None:
    box.extract({"name": "s", "data": b"#!/bin/sh", "mode": 0o6755})
    assert stat.S_IMODE((box.target / "s").stat().st_mode) == 0o755


def test_unpacks_an_ordinary_archive(box: Any) -> None:
    files, nbytes = box.extract(
        {"name": "dir", "type": DIR, "mode": 0o750, "mtime": 1600000000},
        {"name": "dir/a.txt", "data": b"hello", "mode": 0o640, "mtime": 1650000000},
        {"name": "dir/sub", "type": DIR, "mode": 0o755, "mtime": 1610000000},
        {"name": "dir/sub/b.bin", "data": bytes(range(256)), "mode": 0o755},
        {"name": "dir/link", "type": SYM, "linkname": "a.txt"},
        {"name": "dir/abs", "type": SYM, "linkname": "/etc/passwd"},
        {"name": "./top.txt", "data": b"top"},
    )
    t = box.target
    assert (files, nbytes) == (3, 5 + 256 + 3)
    assert (t / "dir/a.txt").read_bytes() == b"hello"
    assert stat.S_IMODE((t / "dir/a.txt").stat().st_mode) == 0o640
    assert (t / "dir/a.txt").stat().st_mtime == 1650000000
    assert stat.S_IMODE((t / "dir").stat().st_mode) == 0o750
    assert (t / "dir").stat().st_mtime == 1600000000
    assert (t / "dir/sub").stat().st_mtime == 1610000000
    assert (t / "dir/sub/b.bin").read_bytes() == bytes(range(256))
    assert os.readlink(t / "dir/link") == "a.txt"
    assert os.readlink(t / "dir/abs") == "/etc/passwd"
    assert (t / "top.txt").read_text() == "top"
    box.contained()
