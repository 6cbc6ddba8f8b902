"""Who runs the PostgreSQL programs, in which environment, and from which copy of the install.

``initdb`` and ``postgres`` refuse to run as root, and CI runs as root: then
only the PostgreSQL programs run as an unprivileged user. Python itself keeps
running as root (the interpreter may live in root's 0700 home), and when that
user cannot read the install, the programs run from a world-readable copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from dualdb.errors import ServerError
from dualdb.engines.server.binaries import PgBinaries
from dualdb.engines.server.files import publish_dir, shared_tmp, slug
from dualdb.engines.server.locales import ClusterLocale

# Preferred accounts for running PostgreSQL when we are root. ``nobody`` comes
# before ``postgres``: a test server's superuser can read and write files as its
# OS user (COPY ... TO), and ``nobody`` owns no real cluster's data.
_SERVICE_USERS = ("dualdb", "nobody", "postgres")


@dataclass(frozen=True)
class RunAs:
    """The OS account for PostgreSQL programs: ourselves, or an unprivileged user when we are root."""

    uid: int
    gid: int
    name: str | None = None  # None: the current user, no switching

    @property
    def switches(self) -> bool:
        return self.name is not None

    def popen_kwargs(self) -> dict[str, Any]:
        if not self.switches:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: Path) -> None:
        if self.switches:
            os.chown(path, self.uid, self.gid)


@lru_cache(maxsize=1)
def pick_run_as() -> RunAs:
    """Pick the account; create a ``dualdb`` system user only when no fitting one exists."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return RunAs(os.getuid(), os.getgid())
    import pwd

    for name in _SERVICE_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return RunAs(entry.pw_uid, entry.pw_gid, name)
    return _create_service_user("dualdb")


def _create_service_user(name: str) -> RunAs:
    import pwd

    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
            text=True,
        )
        entry = pwd.getpwnam(name)
    except (OSError, subprocess.CalledProcessError, KeyError) as exc:
        raise ServerError(
            f"Running as root, PostgreSQL needs an unprivileged user and none of {', '.join(_SERVICE_USERS)} "
            f"exists, and creating '{name}' failed ({exc}); create one (useradd --system {name}) "
            f"or run pytest as a normal user."
        ) from exc
    return RunAs(entry.pw_uid, entry.pw_gid, name)


def child_env(binaries: PgBinaries, locale: ClusterLocale | None = None) -> dict[str, str]:
    """Our environment minus ``PG*``/locale variables, in the C locale, plus the cluster locale's ``LOCPATH``.

    initdb inherits ``LANG`` and fails when it names a locale that is not
    installed; ``PGDATA``/``PGPORT`` and friends must not redirect our programs,
    nor a user's ``LOCPATH`` hide the locale the plugin built.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_", "LANG")) and k != "LOCPATH"}
    env.update(LC_ALL="C", LANG="C")
    env.update(binaries.env())
    if locale is not None:
        env.update(locale.env())
    return env


def traversable_by(folder: Path, run_as: RunAs) -> bool:
    """Can ``run_as`` enter ``folder`` and every folder above it? (Judged by mode bits.)"""
    if not run_as.switches:
        return True
    for path in (folder, *folder.parents):
        try:
            st = path.stat()
        except OSError:
            return False
        if st.st_uid == run_as.uid:
            bit = stat.S_IXUSR
        elif st.st_gid == run_as.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


@lru_cache(maxsize=None)
def usable_binaries(binaries: PgBinaries, run_as: RunAs) -> PgBinaries:
    """``binaries``, or a world-readable copy when the service user cannot run them.

    A wheel installed under ``/root/.pyenv`` is behind root's 0700 home. We copy
    the install once instead of loosening permissions on the user's folders.
    """
    if not run_as.switches or _runs_as(binaries, run_as):
        return binaries
    copy = _world_readable_copy(binaries)
    if not _runs_as(copy, run_as):
        raise ServerError(
            f"PostgreSQL programs in {binaries.bindir} cannot be run by user '{run_as.name}', even from the copy "
            f"in {copy.bindir}; set dualdb_pg_binaries to a world-readable install, or pass --dualdb-pg-url."
        )
    return copy


def _runs_as(binaries: PgBinaries, run_as: RunAs) -> bool:
    """``_try_as``, a yes remembered per binary, the folders above it and the user (``files.cached_probe``)."""
    from dualdb.engines.server.files import cached_probe, file_identity

    program = binaries.program("postgres")
    identities = [file_identity(path) for path in (program, *program.parents)]
    if identities[0] is None:
        return False
    key = [identities, [file_identity(p) for p in binaries.libdirs], run_as.uid, run_as.gid]
    return bool(cached_probe("runs_as", key, lambda: _try_as(binaries, run_as)))


def _try_as(binaries: PgBinaries, run_as: RunAs) -> bool:
    """Can ``run_as`` execute ``postgres --version``? (Checks the folders, the binary and its libraries.)"""
    try:
        done = subprocess.run(
            [str(binaries.program("postgres")), "--version"],
            capture_output=True,
            env=child_env(binaries),
            cwd="/",
            timeout=30,
            **run_as.popen_kwargs(),
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _world_readable_copy(binaries: PgBinaries) -> PgBinaries:
    """Copy bin/lib/share (and the wheel's ``*.libs``) once to a root-owned, world-readable folder.

    The relative layout is kept, so the binaries' ``$ORIGIN`` RPATH and
    PostgreSQL's relocatable share/lib lookup still work in the copy.
    """
    prefix = binaries.bindir.parent
    sources = [p for p in (prefix / "bin", prefix / "lib", prefix / "share") if p.is_dir()]
    sources += [p for p in binaries.libdirs if p.is_dir()]
    base = Path(os.path.commonpath([str(p) for p in sources]))
    key = "|".join([str(binaries.bindir), *map(str, binaries.libdirs)])  # layout changes with libdirs
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    dest = shared_tmp() / f"dualdb-pg-{binaries.version}-{slug(binaries.origin)}-{digest}"
    if not dest.exists():
        publish_dir(dest, lambda tmp: _copy_install(sources, base, tmp), mode=0o755)
    _check_trusted(dest)

    def moved(path: Path) -> Path:
        return dest / path.relative_to(base)

    return PgBinaries(
        bindir=moved(binaries.bindir),
        version=binaries.version,
        origin=binaries.origin,
        libdirs=tuple(moved(p) for p in binaries.libdirs),
    )


def _copy_install(sources: list[Path], base: Path, tmp: Path) -> None:
    for src in sources:
        target = tmp / src.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, target, symlinks=True)
    for root, dirs, files in os.walk(tmp):
        os.chmod(root, 0o755)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)


def _check_trusted(path: Path) -> None:
    """Refuse a binaries copy someone else could have planted in a shared temp folder."""
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise ServerError(
            f"{path} is not owned by this user or is writable by others; delete it and rerun "
            f"(dualdb copies PostgreSQL programs there when the service user cannot read the originals)."
        )
