"""Run a private, throwaway PostgreSQL server for one pytest process.

Why it looks the way it does:

* ``initdb`` costs about a second, so it runs once per PostgreSQL install: the
  fresh cluster is kept in a cache folder and every run copies it into its own
  short-lived run folder (tens of milliseconds).
* The server listens only on a unix socket inside the private run folder, so
  no port can clash, nothing is reachable from the network, and several pytest
  processes (xdist workers, parallel CI jobs) each get their own server.
* ``initdb`` and ``postgres`` refuse to run as root, and CI runs as root: then
  only the PostgreSQL programs run as an unprivileged user. Python itself keeps
  running as root (the interpreter may live in root's 0700 home).
* Without ICU (every PostgreSQL on PyPI) and without a system ``en_US.UTF-8``,
  the cluster is initialised with an ``en_US.UTF-8`` the plugin builds once
  with ``localedef`` (see ``locales``), so text still sorts as in production.
* Durability is switched off (``fsync``, ``synchronous_commit``,
  ``full_page_writes``): the data is thrown away and tests run faster.
* ``postgres`` is started directly as our child with ``PR_SET_PDEATHSIG`` so it
  dies with pytest even on ``kill -9`` (through ``pg_ctl`` it would survive).
  Every server is recorded in a state folder; the next start reaps what a
  crashed run left behind.
"""

from __future__ import annotations

import atexit
import ctypes
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from dualdb.engines.binaries import PgBinaries, has_icu
from dualdb.engines.locales import COLLATION_NOTE_SETTING, ClusterLocale, cluster_locale

__all__ = [
    "LocalServer",
    "ServerError",
    "default_cache_dir",
    "forget_database",
    "reap_leftovers",
    "record_database",
    "start_server",
]

# Bump when the cached cluster would differ for the same binaries (initdb
# arguments, layout), so stale caches are not reused.
_CACHE_LAYOUT = 1
_INITDB_BASE_ARGS = ("-U", "postgres", "--auth=trust", "-E", "UTF8")
_PORT = 5432  # the socket folder is private, so the default port cannot clash
_READY_TIMEOUT = 15.0
_MAX_SOCKET_PATH = 100  # sun_path is 104 (macOS) / 108 (Linux) bytes with its NUL
_PR_SET_PDEATHSIG = 1
_RUN_PREFIX = "dualdb-run-"
_SCHEMA_PREFIX = "schema-"  # <cluster>/schema-<key>: the cluster with a built schema template, see stop_and_keep
# Preferred accounts for running PostgreSQL when we are root. ``nobody`` comes
# before ``postgres``: a test server's superuser can read and write files as its
# OS user (COPY ... TO), and ``nobody`` owns no real cluster's data.
_SERVICE_USERS = ("dualdb", "nobody", "postgres")


class ServerError(Exception):
    """The local PostgreSQL server could not be prepared or started (one actionable line)."""


@dataclass
class LocalServer:
    """A running private PostgreSQL server; ``stop()`` it, or it stops at interpreter exit."""

    binaries: PgBinaries
    datadir: Path
    sockdir: Path
    port: int
    pid: int
    version: str
    url: str
    run_dir: Path = field(repr=False)
    record: Path = field(repr=False)
    cold: bool = False  # True when this start ran initdb (no cached cluster yet)
    snapshot: Path | None = field(default=None, repr=False)  # the schema cluster this run was copied from
    base_cluster: Path | None = field(default=None, repr=False)  # clusters/<install>: where schema clusters go
    locale: ClusterLocale = field(default_factory=ClusterLocale, repr=False)  # the cluster's default locale
    reaped: list[str] = field(default_factory=list, repr=False)
    timings: dict[str, float] = field(default_factory=dict, repr=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _owner_pid: int = field(default_factory=os.getpid, repr=False)
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Shut the server down and delete its run folder; safe to call twice.

        Only the process that started the server stops it: a forked child that
        exits through ``atexit`` must not take its parent's server down.
        """
        if self._stopped or os.getpid() != self._owner_pid:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        _shutdown(self.pid, self._process)
        _remove_run_dir(self.run_dir)
        self.record.unlink(missing_ok=True)

    def stop_and_keep(self, key: str) -> Path | None:
        """Stop with a clean shutdown and keep the cluster as ``<base>/schema-<key>`` for later runs.

        The caller has dropped every database but the schema template. A fast
        (not immediate) shutdown writes a checkpoint, so the copy starts
        without crash recovery. Keeping is best effort: on failure the next
        run just builds the schema again. Returns the kept folder, if any.
        """
        if self._stopped or os.getpid() != self._owner_pid or self.base_cluster is None:
            self.stop()
            return None
        kept = None
        if _shutdown_clean(self.pid, self._process):
            target = self.base_cluster / f"{_SCHEMA_PREFIX}{key}"
            try:
                _keep_cluster(self.datadir, target)
                kept = target
            except (OSError, ServerError) as exc:
                warnings.warn(f"dualdb: could not keep the schema cluster in {target} ({exc}); "
                              f"the next run builds the schema again.", stacklevel=2)
        self.stop()
        return kept


# --------------------------------------------------------------------------- public entry points


def default_cache_dir() -> Path:
    """``$DUALDB_CACHE_DIR``, else the per-user cache folder (``~/.cache/pytest-dualdb`` on Linux)."""
    override = os.environ.get("DUALDB_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pytest-dualdb"))


def start_server(
    binaries: PgBinaries,
    *,
    cache_dir: Path | None = None,
    timezone: str = "UTC",
    run_root: Path | None = None,
    schema_key: str | None = None,
) -> LocalServer:
    """Start a private server from ``binaries`` and wait until it accepts connections.

    ``cache_dir`` holds the initialised cluster and the run records;
    ``run_root`` is where the run folder (data + socket) is created; keep it
    short, a unix socket path is limited to about 100 bytes (default: see
    ``_default_run_root``). ``schema_key``: copy the cluster kept by
    ``stop_and_keep(schema_key)`` instead of the bare one, when there is one.
    """
    clock = _Clock()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    _ensure_private_dir(cache_dir)
    reaped = reap_leftovers(cache_dir / "runs")
    run_as = _run_as()
    binaries = _usable_binaries(binaries, run_as)
    clock.lap("prepare")
    locale = _cluster_locale(binaries, cache_dir, run_as)
    clock.lap("locale")
    run_dir = _make_run_dir(run_root, run_as)
    record = cache_dir / "runs" / f"{run_dir.name}.json"
    process = None
    try:
        _write_record(record, run_dir=run_dir)
        clock.lap("record")
        cold, snapshot = _prepare_datadir(binaries, cache_dir, run_dir, run_as, locale, schema_key)
        clock.lap("initdb" if cold else "copy")
        process = _launch(binaries, run_dir, run_as, timezone, locale)
        _update_record(record, postmaster_pid=process.pid, version=binaries.version)
        version = _wait_ready(process, run_dir)
        clock.lap("start")
    except BaseException:  # including KeyboardInterrupt: never leave a half-started server behind
        if process is not None:
            _shutdown(process.pid, process)
        _remove_run_dir(run_dir)
        record.unlink(missing_ok=True)
        raise
    sockdir = run_dir / "sock"
    server = LocalServer(
        binaries=binaries,
        datadir=run_dir / "data",
        sockdir=sockdir,
        port=_PORT,
        pid=process.pid,
        version=version,
        url=f"postgresql+psycopg://postgres@/postgres?host={quote(str(sockdir), safe='/')}&port={_PORT}",
        run_dir=run_dir,
        record=record,
        cold=cold,
        snapshot=snapshot,
        base_cluster=_cluster_dir(cache_dir, binaries, locale),
        locale=locale,
        reaped=reaped,
        timings=clock.laps,
        _process=process,
    )
    atexit.register(server.stop)
    return server


def record_database(server: LocalServer, name: str) -> None:
    """Note a database created on ``server`` so a reaper knows what this run made."""
    data = _read_record(server.record) or {}
    names = list(dict.fromkeys([*data.get("databases", []), name]))
    _update_record(server.record, databases=names)


def forget_database(server: LocalServer, name: str) -> None:
    """Undo ``record_database`` once the database has been dropped."""
    data = _read_record(server.record) or {}
    _update_record(server.record, databases=[n for n in data.get("databases", []) if n != name])


def reap_leftovers(state_dir: Path | None = None) -> list[str]:
    """Clean up after runs whose pytest process died without stopping its server.

    For every record whose owner is gone: kill its postmaster if it is still
    alive (after checking the pid still is that postmaster), delete its run
    folder and the record. Returns one human-readable line per action.
    Records are claimed by an atomic rename, so concurrent reapers never
    handle the same one twice.
    """
    state_dir = Path(state_dir) if state_dir is not None else default_cache_dir() / "runs"
    if not state_dir.is_dir():
        return []
    lines: list[str] = []
    for path in sorted(state_dir.iterdir()):
        claimed = _claim_if_orphaned(path)
        if claimed is None:
            continue
        lines.extend(_reap_record(_read_record(claimed) or {}))
        claimed.unlink(missing_ok=True)
    return lines


# --------------------------------------------------------------------------- who runs PostgreSQL


@dataclass(frozen=True)
class _RunAs:
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
def _run_as() -> _RunAs:
    """Pick the account; create a ``dualdb`` system user only when no fitting one exists."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return _RunAs(os.getuid(), os.getgid())
    import pwd

    for name in _SERVICE_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return _RunAs(entry.pw_uid, entry.pw_gid, name)
    return _create_service_user("dualdb")


def _create_service_user(name: str) -> _RunAs:
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
    return _RunAs(entry.pw_uid, entry.pw_gid, name)


# --------------------------------------------------------------------------- binaries the service user can run


@lru_cache(maxsize=None)
def _usable_binaries(binaries: PgBinaries, run_as: _RunAs) -> PgBinaries:
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


def _runs_as(binaries: PgBinaries, run_as: _RunAs) -> bool:
    """Can ``run_as`` execute ``postgres --version``? (Checks the folders, the binary and its libraries.)"""
    try:
        done = subprocess.run(
            [str(binaries.program("postgres")), "--version"],
            capture_output=True,
            env=_child_env(binaries),
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
    dest = _shared_tmp() / f"dualdb-pg-{binaries.version}-{_slug(binaries.origin)}-{digest}"
    if not dest.exists():
        _publish_dir(dest, lambda tmp: _copy_install(sources, base, tmp), mode=0o755)
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


def _shared_tmp() -> Path:
    """A temp folder that survives reboots when possible (``/var/tmp``), so the copy is made once."""
    for candidate in ("/var/tmp", tempfile.gettempdir()):
        if os.path.isdir(candidate) and os.access(candidate, os.W_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


# --------------------------------------------------------------------------- the cluster's locale


def _cluster_locale(binaries: PgBinaries, cache_dir: Path, run_as: _RunAs) -> ClusterLocale:
    """C for builds with ICU (each database gets ``en-US-x-icu``), else ``en_US.UTF-8`` where it can be had."""
    if has_icu(binaries):
        return ClusterLocale()
    return cluster_locale(_locale_home(cache_dir, run_as))


def _locale_home(cache_dir: Path, run_as: _RunAs) -> Path:
    """``<cache>/locales`` when the server's user can reach it, else ``/var/tmp/dualdb-locales-<uid>``.

    The server loads the locale in every backend, so its user must read it.
    As root, the cache sits in root's 0700 home: rather than loosening
    permissions there, the locale goes to a root-owned, world-readable folder,
    as the binaries copy does.
    """
    home = cache_dir / "locales"
    if _traversable_by(cache_dir, run_as):
        return home
    return _shared_tmp() / f"dualdb-locales-{os.geteuid()}"


def _traversable_by(folder: Path, run_as: _RunAs) -> bool:
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


# --------------------------------------------------------------------------- the cached cluster


def _prepare_datadir(
    binaries: PgBinaries, cache_dir: Path, run_dir: Path, run_as: _RunAs, locale: ClusterLocale,
    schema_key: str | None = None,
) -> tuple[bool, Path | None]:
    """Fill ``run_dir/data`` from the kept schema cluster, the cached cluster, or initdb (and cache it).

    Returns (initdb ran, the schema cluster copied or None).
    """
    datadir = run_dir / "data"
    snapshot = _copy_schema_cluster(_cluster_dir(cache_dir, binaries, locale), schema_key, datadir, run_as)
    if snapshot is not None:
        os.chmod(datadir, 0o700)
        return False, snapshot
    cached = _cached_cluster(cache_dir, binaries, locale)
    if cached is not None:
        _copy_tree(cached, datadir, run_as)
        cold = False
    else:
        _initdb(binaries, datadir, run_as, locale)
        _cache_cluster(datadir, cache_dir, binaries, locale)
        cold = True
    os.chmod(datadir, 0o700)  # postgres refuses a data folder others can read
    return cold, None


def _copy_schema_cluster(base: Path, key: str | None, datadir: Path, run_as: _RunAs) -> Path | None:
    """Copy ``<base>/schema-<key>/data`` to ``datadir``; None (and nothing left behind) when absent or it failed.

    A copy can fail when a concurrent run prunes that cluster mid-copy: the
    run then starts from the bare cluster and builds its schema.
    """
    if key is None:
        return None
    kept = base / f"{_SCHEMA_PREFIX}{key}"
    if not (kept / "data" / "PG_VERSION").is_file():
        return None
    try:
        _copy_tree(kept / "data", datadir, run_as)
    except (OSError, ServerError, subprocess.CalledProcessError):
        shutil.rmtree(datadir, ignore_errors=True)
        return None
    try:
        os.utime(kept)  # least recently used goes first
    except OSError:
        pass
    return kept


def _keep_cluster(datadir: Path, target: Path) -> None:
    """Publish a cleanly stopped data folder as ``target/data`` (replacing an older one), keep the newest few."""
    from dualdb.engines.schema_cache import KEEP, prune, publish_replacing

    publish_replacing(target, lambda tmp: _copy_tree(datadir, tmp / "data", None))
    prune(target.parent, _SCHEMA_PREFIX, KEEP)


def _initdb_args(locale: ClusterLocale) -> tuple[str, ...]:
    """initdb's settings; the locale is always explicit (initdb would inherit ``LANG``)."""
    return (*_INITDB_BASE_ARGS, f"--locale={locale.name}")


def _cluster_dir(cache_dir: Path, binaries: PgBinaries, locale: ClusterLocale) -> Path:
    """One cached cluster per install, initdb settings and locale, e.g. ``clusters/pg15.18-pg_config-1a2b3c4d5e``.

    The locale's ``ident`` is in the key, so a cluster initialised with C
    (the locale could not be built then) is not reused once it can be; a
    C cluster keeps the key it always had.
    """
    key: list[Any] = [_CACHE_LAYOUT, binaries.version, binaries.origin, str(binaries.bindir), _initdb_args(locale)]
    if locale.ident != "C":
        key.append(locale.ident)
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:10]
    return cache_dir / "clusters" / f"pg{binaries.version}-{_slug(binaries.origin)}-{digest}"


def _cached_cluster(cache_dir: Path, binaries: PgBinaries, locale: ClusterLocale) -> Path | None:
    data = _cluster_dir(cache_dir, binaries, locale) / "data"
    return data if (data / "PG_VERSION").is_file() else None


def _cache_cluster(datadir: Path, cache_dir: Path, binaries: PgBinaries, locale: ClusterLocale) -> None:
    """Publish a freshly initialised cluster (before it ever ran) for later runs.

    Failing to cache only costs the next run an initdb, so it warns instead of failing.
    """
    target = _cluster_dir(cache_dir, binaries, locale)

    def fill(tmp: Path) -> None:
        _copy_tree(datadir, tmp / "data", None)
        meta = {"version": binaries.version, "origin": binaries.origin, "bindir": str(binaries.bindir),
                "initdb": list(_initdb_args(locale)), "locale": locale.ident, "created": _now()}
        (tmp / "cluster.json").write_text(json.dumps(meta, indent=2))

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _publish_dir(target, fill, mode=0o700)
    except (OSError, ServerError) as exc:
        warnings.warn(f"dualdb: could not cache the initialised cluster in {target} ({exc}); "
                      f"every run will pay initdb. Set DUALDB_CACHE_DIR to a writable folder.", stacklevel=2)


def _publish_dir(target: Path, fill: Callable[[Path], None], *, mode: int) -> None:
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


def _initdb(binaries: PgBinaries, datadir: Path, run_as: _RunAs, locale: ClusterLocale) -> None:
    args = [str(binaries.program("initdb")), "-D", str(datadir), *_initdb_args(locale), *_initdb_extras(binaries)]
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=_child_env(binaries, locale),
            cwd=datadir.parent,
            timeout=300,
            **run_as.popen_kwargs(),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServerError(f"initdb from {binaries.bindir} could not run ({exc}); check the install "
                          f"or point dualdb_pg_binaries at another one.") from exc
    if done.returncode != 0:
        raise ServerError(f"initdb failed (exit {done.returncode}): {_tail(done.stderr or done.stdout)} "
                          f"— check the install in {binaries.bindir} or point dualdb_pg_binaries at another one.")


@lru_cache(maxsize=None)
def _initdb_extras(binaries: PgBinaries) -> tuple[str, ...]:
    """Speed-ups the installed initdb supports: skip fsync, and 1 MB WAL segments (a smaller copy per run)."""
    try:
        help_text = subprocess.run([str(binaries.program("initdb")), "--help"], capture_output=True,
                                   text=True, env=_child_env(binaries), timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    wanted = {"--no-sync": "--no-sync", "--no-instructions": "--no-instructions", "--wal-segsize": "--wal-segsize=1"}
    return tuple(flag for option, flag in wanted.items() if option in help_text)


# --------------------------------------------------------------------------- run folder and postmaster


def _make_run_dir(run_root: Path | None, run_as: _RunAs) -> Path:
    """A fresh private folder holding ``data/`` and ``sock/``, owned by the service user."""
    root = Path(run_root) if run_root is not None else _default_run_root(run_as)
    run_dir = Path(tempfile.mkdtemp(prefix=_RUN_PREFIX, dir=_run_parent(root)))
    socket_path = run_dir / "sock" / f".s.PGSQL.{_PORT}"
    if len(str(socket_path).encode()) > _MAX_SOCKET_PATH:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise ServerError(f"The socket path {socket_path} is longer than unix sockets allow "
                          f"({_MAX_SOCKET_PATH} bytes); pass a shorter run folder (run_root) such as /var/tmp.")
    (run_dir / "sock").mkdir(mode=0o700)
    run_as.chown(run_dir)
    run_as.chown(run_dir / "sock")
    return run_dir


def _run_parent(root: Path) -> Path:
    """``<root>/dualdb-<uid>``: our own folder for run folders, flagged to spread them over the disk.

    Each run creates ~1000 files and the previous run just deleted ~1000. On
    ext4 without a journal (common on CI VMs, measured here) the inode
    allocator then scans past every recently deleted inode of the block group:
    a 30 ms copy became 0.6-1 s. With the ``T`` (top directory) attribute on
    this parent, ext4 places each run folder in a fresh block group and the
    copy stays at ~30 ms. Falls back to ``root`` itself if the folder is not
    safely ours (someone else could swap files in a folder they own).
    """
    parent = root / f"dualdb-{os.geteuid() if hasattr(os, 'geteuid') else 'user'}"
    try:
        parent.mkdir(mode=0o711)  # the service user must traverse it to reach its run folder
        _set_topdir_flag(parent)
    except FileExistsError:
        pass
    except OSError:
        return root
    st = parent.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return root
    return parent


def _set_topdir_flag(path: Path) -> None:
    """``chattr +T``: best effort, only meaningful on ext2/3/4.

    The ioctl numbers are ``_IOR/_IOW('f', 1/2, long)`` of the generic Linux
    ioctl layout with an 8-byte long, hence the list of machines; the kernel
    reads and writes an ``int`` at the start of the buffer.
    """
    if not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64", "riscv64", "s390x"):
        return
    import array
    import fcntl

    fs_ioc_getflags, fs_ioc_setflags, fs_topdir_fl = 0x80086601, 0x40086602, 0x00020000
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        flags = array.array("i", [0, 0])
        fcntl.ioctl(fd, fs_ioc_getflags, flags, True)
        flags[0] |= fs_topdir_fl
        fcntl.ioctl(fd, fs_ioc_setflags, flags)
    except OSError:
        pass  # not ext*, or not allowed: run folders are merely slower to fill
    finally:
        os.close(fd)


def _default_run_root(run_as: _RunAs) -> Path:
    """Where run folders go: ``$TMPDIR`` if set and short, else ``/var/tmp``, else ``/tmp``.

    ``/var/tmp`` before ``/tmp``: it is disk-backed, so a test database never
    eats RAM as it would on a tmpfs ``/tmp``, and it sees far less file churn
    from other programs. Churn matters on ext4 without a journal (see
    ``_run_parent``): back-to-back warm starts measured here ran 70-840 ms in
    ``/tmp`` (busy with pytest's own tmp_path folders) and 66-190 ms in
    ``/var/tmp``. ``$TMPDIR`` is ignored when switching users: it may sit in
    a home folder the service user cannot enter. Paths stay short for the
    unix socket.
    """
    candidates = ["/var/tmp", "/tmp", tempfile.gettempdir()]
    if os.environ.get("TMPDIR") and not run_as.switches:
        candidates.insert(0, os.environ["TMPDIR"])
    for candidate in candidates:
        if len(candidate) <= 40 and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


def _server_settings(timezone: str, locale: ClusterLocale) -> list[str]:
    """Throwaway-server settings, passed on the command line so the cached cluster stays generic.

    When the server has to sort bytewise, it carries the reason as a custom
    setting: whoever connects (an xdist worker too) can tell the user why.
    """
    settings = {
        "listen_addresses": "",  # unix socket only
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "TimeZone": timezone,
        "max_connections": "100",
        "shared_buffers": "32MB",
        "logging_collector": "off",
    }
    if locale.fix:
        settings[COLLATION_NOTE_SETTING] = locale.fix
    return [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]


def _launch(
    binaries: PgBinaries, run_dir: Path, run_as: _RunAs, timezone: str, locale: ClusterLocale
) -> subprocess.Popen[bytes]:
    """Start ``postgres`` as our direct child (not via pg_ctl) so it can die with us."""
    args = [str(binaries.program("postgres")), "-D", str(run_dir / "data"), "-k", str(run_dir / "sock"),
            "-p", str(_PORT), *_server_settings(timezone, locale)]
    with open(run_dir / "postgres.log", "ab") as log:
        try:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_child_env(binaries, locale),
                cwd=run_dir,
                start_new_session=True,  # a terminal Ctrl-C reaches pytest, which then stops us cleanly
                preexec_fn=_die_with_parent(),
                **run_as.popen_kwargs(),
            )
        except OSError as exc:
            raise ServerError(f"Could not run {args[0]} ({exc}); check the install or set dualdb_pg_binaries.") from exc


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel send SIGQUIT (immediate shutdown) when pytest dies.

    CPython calls ``preexec_fn`` after ``setgroups/setregid/setreuid``; that
    order matters because the kernel clears the death signal when credentials
    change. The signal fires when the *thread* that forked exits, so it is only
    armed when starting from the main thread.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGQUIT), 0, 0, 0)
        if os.getppid() != parent:  # parent died before the signal was armed
            os._exit(1)

    return arm


def _wait_ready(process: subprocess.Popen[bytes], run_dir: Path) -> str:
    """Poll a psycopg connection on the socket; return ``server_version``."""
    import psycopg

    socket_file = run_dir / "sock" / f".s.PGSQL.{_PORT}"
    deadline = time.monotonic() + _READY_TIMEOUT
    last_error = "no socket yet"
    while True:
        code = process.poll()
        if code is not None:
            raise ServerError(f"PostgreSQL exited with code {code} while starting: {_log_tail(run_dir)}")
        if socket_file.exists():
            try:
                with psycopg.connect(host=str(socket_file.parent), port=_PORT, user="postgres",
                                     dbname="postgres", connect_timeout=5, autocommit=True) as conn:
                    return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            except psycopg.OperationalError as exc:  # e.g. "the database system is starting up"
                last_error = str(exc).strip().splitlines()[-1]
        if time.monotonic() > deadline:
            raise ServerError(f"PostgreSQL did not accept connections within {_READY_TIMEOUT:.0f} s "
                              f"({last_error}); log: {_log_tail(run_dir)}")
        time.sleep(0.005)


def _shutdown_clean(pid: int, process: subprocess.Popen[bytes] | None, grace: float = 30.0) -> bool:
    """Fast shutdown (SIGINT: disconnect everyone, checkpoint, exit); True when it exited in time."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    if not _wait_gone(pid, process, grace):
        return False
    return process is None or process.returncode == 0


def _shutdown(pid: int, process: subprocess.Popen[bytes] | None) -> None:
    """Immediate shutdown (SIGQUIT), then SIGKILL if it hangs.

    Every cluster stopped here is a throwaway copy deleted right after, so
    the checkpoint of a fast shutdown would only be written to be deleted.
    """
    if process is not None and process.poll() is not None:
        return  # already gone (a clean shutdown): its pid may belong to someone else by now
    for sig, grace in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        if _wait_gone(pid, process, grace):
            break
    if process is not None and process.poll() is None:
        try:
            process.wait(1)
        except subprocess.TimeoutExpired:
            pass


def _wait_gone(pid: int, process: subprocess.Popen[bytes] | None, grace: float) -> bool:
    if process is not None:
        try:
            process.wait(grace)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + grace
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _remove_run_dir(run_dir: Path) -> None:
    """Delete a run folder, but only one that looks like ours (a corrupt record must not aim elsewhere)."""
    if run_dir.is_absolute() and run_dir.name.startswith(_RUN_PREFIX) and run_dir.is_dir():
        shutil.rmtree(run_dir, ignore_errors=True)


def _child_env(binaries: PgBinaries, locale: ClusterLocale | None = None) -> dict[str, str]:
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


# --------------------------------------------------------------------------- run records and reaping


def _write_record(path: Path, *, run_dir: Path) -> None:
    """Written before anything is started, so even a crash mid-start leaves a record to reap."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "owner_pid": os.getpid(),
        "owner_started": _process_started(os.getpid()),
        "postmaster_pid": None,
        "run_dir": str(run_dir),
        "databases": [],
        "started_at": _now(),
    }
    _atomic_write_json(path, data)


def _update_record(path: Path, **changes: Any) -> None:
    data = _read_record(path)
    if data is not None:
        data.update(changes)
        _atomic_write_json(path, data)


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _claim_if_orphaned(path: Path) -> Path | None:
    """Rename an orphaned record to ``<name>.reaping-<our pid>`` and return the new path.

    Orphaned: a ``.json`` record whose owner is dead, or a claim whose reaper died midway.
    """
    if path.suffix == ".json" and not path.name.startswith("."):
        data = _read_record(path)
        if data is not None and _alive(data.get("owner_pid"), data.get("owner_started")):
            return None
    else:
        match = re.search(r"\.reaping-(\d+)$", path.name)
        if match is None or _alive(int(match.group(1)), None):
            return None
    base = path.name.split(".reaping-")[0]
    claimed = path.with_name(f"{base}.reaping-{os.getpid()}")
    try:
        os.rename(path, claimed)
    except FileNotFoundError:  # another reaper was faster
        return None
    return claimed


def _reap_record(data: dict[str, Any]) -> list[str]:
    lines = []
    owner = data.get("owner_pid")
    run_dir = Path(data.get("run_dir") or "/nonexistent")
    pid = data.get("postmaster_pid")
    if isinstance(pid, int) and _is_postmaster_of(pid, run_dir / "data"):
        _shutdown(pid, None)
        _kill_children(pid)
        lines.append(f"stopped leftover PostgreSQL (pid {pid}) of dead pytest process {owner}")
    if run_dir.is_dir():
        _remove_run_dir(run_dir)
        lines.append(f"removed leftover run folder {run_dir} of dead pytest process {owner}")
    return lines


def _is_postmaster_of(pid: int, datadir: Path) -> bool:
    """True only if ``pid`` is a live postgres serving ``datadir``: pids get reused."""
    argv = _cmdline(pid)
    return bool(argv) and "postgres" in os.path.basename(argv[0]) and str(datadir) in argv


def _kill_children(pid: int) -> None:
    """SIGKILL backends a SIGKILLed postmaster may have left (they would exit on their own, slowly)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if entry.name.isdigit() and _parent_of(int(entry.name)) == pid:
            argv = _cmdline(int(entry.name))
            if argv and argv[0].startswith("postgres"):
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except OSError:
                    pass


def _cmdline(pid: int) -> list[str]:
    """argv of a live process (empty for zombies and missing processes)."""
    if Path("/proc/self").exists():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return []
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.split()


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (field 3 onward)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def _process_started(pid: int) -> int | None:
    """Start time in clock ticks since boot: with the pid, it identifies a process despite pid reuse."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _running(pid: int) -> bool:
    """Exists and is not a zombie (a reparented postmaster may stay a zombie if init does not reap)."""
    fields = _stat_fields(pid)
    if fields is not None:
        return fields[0] != "Z"
    if Path("/proc/self").exists():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(pid: Any, started: Any) -> bool:
    if not isinstance(pid, int) or not _running(pid):
        return False
    return started is None or _process_started(pid) in (None, started)


# --------------------------------------------------------------------------- small helpers


class _Clock:
    """Named laps of ``start_server``, reported in ``LocalServer.timings`` (benchmarks use them)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


def _copy_tree(src: Path, dst: Path, owner: _RunAs | None) -> None:
    """Copy a data folder, owned by the copier then handed to ``owner``.

    GNU ``cp`` is about three times faster than ``shutil.copytree`` on a
    thousand small files, and this copy is most of a warm start.
    """
    if sys.platform.startswith("linux") and shutil.which("cp"):
        done = subprocess.run(["cp", "-dR", "--preserve=mode,timestamps", str(src), str(dst)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ServerError(f"Copying the cached cluster {src} to {dst} failed: {_tail(done.stderr)}")
    else:
        shutil.copytree(src, dst, symlinks=True)
    if owner is not None and owner.switches:
        _chown_tree(dst, owner)


def _chown_tree(path: Path, owner: _RunAs) -> None:
    if shutil.which("chown"):
        subprocess.run(["chown", "-R", f"{owner.uid}:{owner.gid}", str(path)], check=True, capture_output=True)
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, owner.uid, owner.gid)
        for name in files:
            os.lchown(os.path.join(root, name), owner.uid, owner.gid)


def _ensure_private_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ServerError(f"Cannot create the dualdb cache folder {path} ({exc}); "
                          f"set DUALDB_CACHE_DIR to a writable folder.") from exc


def _log_tail(run_dir: Path, lines: int = 5) -> str:
    try:
        return _tail((run_dir / "postgres.log").read_text(errors="replace"), lines)
    except OSError:
        return "(no log)"


def _tail(text: str, lines: int = 5) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
