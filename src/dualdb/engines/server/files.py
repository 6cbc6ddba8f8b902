"""The folders and files of the server package: the cache folder, atomic publishing, tree copies.

Plus the two small texts every error message here is made of (``tail`` of a
program's output, ``slug`` of a name) and the timestamp records carry.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from dualdb.errors import ServerError

if TYPE_CHECKING:
    from dualdb.engines.server.run_as import RunAs


def default_cache_dir() -> Path:
    """``$DUALDB_CACHE_DIR``, else the per-user cache folder (``~/.cache/pytest-dualdb`` on Linux)."""
    override = os.environ.get("DUALDB_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pytest-dualdb"))


def file_identity(path: Path) -> list[Any] | None:
    """What changes when a file is replaced or upgraded in place: path, inode, size, mtime, mode, owner;
    for a folder, who may enter it (its mtime moves with every file created in it)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if os.path.isdir(path):
        return [str(path), st.st_mode, st.st_uid, st.st_gid]
    return [str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_gid]


def cached_probe(kind: str, key: list[Any], probe: Callable[[], Any], *, keep: Callable[[Any], bool] = bool) -> Any:
    """``probe()`` (a subprocess asking a program something), remembered in ``<cache>/probes.json`` under
    ``kind`` and ``key`` (``file_identity`` of what it ran, so an upgraded install is probed again).
    Only answers ``keep`` accepts are remembered; the cache is best effort."""
    path = default_cache_dir() / "probes.json"
    name = f"{kind}:{hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:24]}"
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if name in known:
        return known[name]
    value = probe()
    if keep(value):
        if len(known) >= 64:  # installs come and go: start over rather than grow
            known = {}
        known[name] = value
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known))
            os.replace(tmp, path)
        except OSError:
            pass
    return value


def shared_tmp() -> Path:
    """A temp folder that survives reboots when possible (``/var/tmp``), so the copy is made once."""
    for candidate in ("/var/tmp", tempfile.gettempdir()):
        if os.path.isdir(candidate) and os.access(candidate, os.W_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


def publish_dir(target: Path, fill: Callable[[Path], None], *, mode: int) -> None:
    """Create ``target`` atomically: fill a temp sibling, then rename. A concurrent winner is kept."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        fill(tmp)
        os.chmod(tmp, mode)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a lost race: a real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def copy_tree(src: Path, dst: Path, owner: RunAs | None) -> None:
    """Copy a data folder, owned by the copier then handed to ``owner``.

    GNU ``cp`` is about three times faster than ``shutil.copytree`` on a
    thousand small files, and this copy is most of a warm start.
    """
    if sys.platform.startswith("linux") and shutil.which("cp"):
        done = subprocess.run(["cp", "-dR", "--preserve=mode,timestamps", str(src), str(dst)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ServerError(f"Copying the cached cluster {src} to {dst} failed: {tail(done.stderr)}")
    else:
        shutil.copytree(src, dst, symlinks=True)
    if owner is not None and owner.switches:
        _chown_tree(dst, owner)


def _chown_tree(path: Path, owner: RunAs) -> None:
    if shutil.which("chown"):
        subprocess.run(["chown", "-R", f"{owner.uid}:{owner.gid}", str(path)], check=True, capture_output=True)
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, owner.uid, owner.gid)
        for name in files:
            os.lchown(os.path.join(root, name), owner.uid, owner.gid)


def tail(text: str, lines: int = 5) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
