"""Files of contexts and snapshots: copies, tars in and out (untar writes nothing outside its
destination), manifests and content hashes, and the three-way merge of branches' changes."""

import base64
import hashlib
import os
import shutil
import stat


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def copy_tree(src, dst):
    shutil.copytree(src, dst, symlinks=True)


def tar_paths(root, paths, recursive):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for p in paths:
            full = os.path.join(root, p)
            if os.path.lexists(full):
                tar.add(full, arcname=p, recursive=recursive)
    return base64.b64encode(buf.getvalue()).decode()


def untar(data, dest):
    """Unpacks a tar (from a context or the host's store) into dest, keeping modes and
    symlinks as they are, and writing nothing outside dest: names are relative without '..',
    and no path is followed through a symlink (parents are checked, files opened O_NOFOLLOW)."""
    import io
    import tarfile

    root = os.path.realpath(dest)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(data)), mode="r") as tar:
        for m in tar.getmembers():
            name = os.path.normpath(m.name)
            if name.startswith("/") or name == ".." or name.startswith("../") or name in (".", ""):
                raise ValueError("unsafe path in archive: %r" % m.name)
            target = os.path.join(root, name)
            parent = os.path.dirname(target)
            # every existing ancestor inside dest must be a real directory, not a link
            p = parent
            while p != root and p.startswith(root + "/"):
                if os.path.islink(p):
                    raise ValueError("path goes through a symlink: %r" % m.name)
                p = os.path.dirname(p)
            os.makedirs(parent, exist_ok=True)
            if m.isdir():
                if os.path.lexists(target) and not os.path.isdir(target) or os.path.islink(target):
                    remove(target)
                os.makedirs(target, exist_ok=True)
                os.chmod(target, m.mode & 0o7777)
            elif m.issym():
                remove(target)
                os.symlink(m.linkname, target)
            elif m.isfile():
                remove(target)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, m.mode & 0o7777)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(tar.extractfile(m), out)
                os.chmod(target, m.mode & 0o7777)
                os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)
            # other kinds (devices, fifos, hard links) are not carried


def tree_manifest(root):
    """path -> [kind, mode, sha256] for every entry under root: what a merge compares."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        for name in dirnames + sorted(filenames):
            p = os.path.join(dirpath, name)
            r = name if rel == "." else rel + "/" + name
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                out[r] = ["dir", stat.S_IMODE(st.st_mode), ""]
            elif stat.S_ISLNK(st.st_mode):
                out[r] = ["link", 0o777, hashlib.sha256(os.readlink(p).encode()).hexdigest()]
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                out[r] = ["file", stat.S_IMODE(st.st_mode), h.hexdigest()]
    return out


def content_hash(manifest):
    """A digest of the file tree: paths, kinds, modes and contents (not times)."""
    h = hashlib.sha256()
    for path in sorted(manifest):
        kind, mode, digest = manifest[path]
        h.update(("%s\0%s\0%o\0%s\n" % (path, kind, mode, digest)).encode())
    return h.hexdigest()


def tree_bytes(root):
    total = 0
    for dirpath, _d, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def diff_manifests(base, now):
    """path -> new entry, or None where the path was deleted."""
    changes = {}
    for path, entry in now.items():
        if base.get(path) != entry:
            changes[path] = entry
    for path in base:
        if path not in now:
            changes[path] = None
    return changes
