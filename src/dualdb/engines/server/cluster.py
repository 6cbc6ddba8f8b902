"""The cluster a run's server starts from: the kept schema cluster, the cached bare one, or initdb.

``initdb`` costs about a second, so it runs once per PostgreSQL install,
settings and locale: the fresh cluster is kept in the cache folder and every
run copies it into its own short-lived run folder (tens of milliseconds). A
run that built the project's schema template keeps its stopped cluster as
``schema-<key>`` next to it, and later runs with that key copy that instead.
Without ICU (every PostgreSQL on PyPI) and without a system ``en_US.UTF-8``,
the cluster is initialised with an ``en_US.UTF-8`` the plugin builds once with
``localedef`` (see ``locales``), so text still sorts as in production.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from dualdb.errors import ServerError
from dualdb.engines.server.binaries import PgBinaries, has_icu
from dualdb.engines.server.files import copy_tree, now, publish_dir, shared_tmp, slug, tail
from dualdb.engines.server.locales import ClusterLocale, cluster_locale
from dualdb.engines.server.run_as import RunAs, child_env, traversable_by

# Bump when the cached cluster would differ for the same binaries (initdb
# arguments, layout), so stale caches are not reused.
_CACHE_LAYOUT = 1
_INITDB_BASE_ARGS = ("-U", "postgres", "--auth=trust", "-E", "UTF8")
_SCHEMA_PREFIX = "schema-"  # <cluster>/schema-<key>: the cluster with a built schema template, see keep_cluster


def choose_locale(binaries: PgBinaries, cache_dir: Path, run_as: RunAs) -> ClusterLocale:
    """C for builds with ICU (each database gets ``en-US-x-icu``), else ``en_US.UTF-8`` where it can be had."""
    if has_icu(binaries):
        return ClusterLocale()
    return cluster_locale(_locale_home(cache_dir, run_as))


def _locale_home(cache_dir: Path, run_as: RunAs) -> Path:
    """``<cache>/locales`` when the server's user can reach it, else ``/var/tmp/dualdb-locales-<uid>``.

    The server loads the locale in every backend, so its user must read it.
    As root, the cache sits in root's 0700 home: rather than loosening
    permissions there, the locale goes to a root-owned, world-readable folder,
    as the binaries copy does.
    """
    home = cache_dir / "locales"
    if traversable_by(cache_dir, run_as):
        return home
    return shared_tmp() / f"dualdb-locales-{os.geteuid()}"


def prepare_datadir(
    binaries: PgBinaries, cache_dir: Path, run_dir: Path, run_as: RunAs, locale: ClusterLocale,
    schema_key: str | None = None,
) -> tuple[bool, Path | None]:
    """Fill ``run_dir/data`` from the kept schema cluster, the cached cluster, or initdb (and cache it).

    Returns (initdb ran, the schema cluster copied or None).
    """
    datadir = run_dir / "data"
    snapshot = _copy_schema_cluster(cluster_dir(cache_dir, binaries, locale), schema_key, datadir, run_as)
    if snapshot is not None:
        os.chmod(datadir, 0o700)
        return False, snapshot
    cached = _cached_cluster(cache_dir, binaries, locale)
    if cached is not None:
        copy_tree(cached, datadir, run_as)
        cold = False
    else:
        _initdb(binaries, datadir, run_as, locale)
        _cache_cluster(datadir, cache_dir, binaries, locale)
        cold = True
    os.chmod(datadir, 0o700)  # postgres refuses a data folder others can read
    return cold, None


def _copy_schema_cluster(base: Path, key: str | None, datadir: Path, run_as: RunAs) -> Path | None:
    """Copy ``<base>/schema-<key>/data`` to ``datadir``; None (and nothing left behind) when absent or it failed.

    A copy can fail when a concurrent run prunes that cluster mid-copy: the
    run then starts from the bare cluster and builds its schema.
    """
    if key is None:
        return None
    kept = schema_cluster(base, key)
    if not has_schema_cluster(base, key):
        return None
    try:
        copy_tree(kept / "data", datadir, run_as)
    except (OSError, ServerError, subprocess.CalledProcessError):
        shutil.rmtree(datadir, ignore_errors=True)
        return None
    try:
        os.utime(kept)  # least recently used goes first
    except OSError:
        pass
    return kept


def has_schema_cluster(base: Path, key: str) -> bool:
    """Is a cluster kept for schema ``key`` (``keep_cluster``)?"""
    return (schema_cluster(base, key) / "data" / "PG_VERSION").is_file()


def schema_cluster(base: Path, key: str) -> Path:
    """Where the cluster kept for schema ``key`` lives: ``<base>/schema-<key>``."""
    return base / f"{_SCHEMA_PREFIX}{key}"


def keep_cluster(datadir: Path, target: Path) -> None:
    """Publish a cleanly stopped data folder as ``target/data`` (replacing an older one), keep the newest few."""
    from dualdb.engines.schema_cache import KEEP, prune, publish_replacing

    publish_replacing(target, lambda tmp: copy_tree(datadir, tmp / "data", None))
    prune(target.parent, _SCHEMA_PREFIX, KEEP)


def _initdb_args(locale: ClusterLocale) -> tuple[str, ...]:
    """initdb's settings; the locale is always explicit (initdb would inherit ``LANG``)."""
    return (*_INITDB_BASE_ARGS, f"--locale={locale.name}")


def cluster_dir(cache_dir: Path, binaries: PgBinaries, locale: ClusterLocale) -> Path:
    """One cached cluster per install, initdb settings and locale, e.g. ``clusters/pg15.18-pg_config-1a2b3c4d5e``.

    The locale's ``ident`` is in the key, so a cluster initialised with C
    (the locale could not be built then) is not reused once it can be; a
    C cluster keeps the key it always had.
    """
    key: list[Any] = [_CACHE_LAYOUT, binaries.version, binaries.origin, str(binaries.bindir), _initdb_args(locale)]
    if locale.ident != "C":
        key.append(locale.ident)
    digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:10]
    return cache_dir / "clusters" / f"pg{binaries.version}-{slug(binaries.origin)}-{digest}"


def _cached_cluster(cache_dir: Path, binaries: PgBinaries, locale: ClusterLocale) -> Path | None:
    data = cluster_dir(cache_dir, binaries, locale) / "data"
    return data if (data / "PG_VERSION").is_file() else None


def _cache_cluster(datadir: Path, cache_dir: Path, binaries: PgBinaries, locale: ClusterLocale) -> None:
    """Publish a freshly initialised cluster (before it ever ran) for later runs.

    Failing to cache only costs the next run an initdb, so it warns instead of failing.
    """
    target = cluster_dir(cache_dir, binaries, locale)

    def fill(tmp: Path) -> None:
        copy_tree(datadir, tmp / "data", None)
        meta = {"version": binaries.version, "origin": binaries.origin, "bindir": str(binaries.bindir),
                "initdb": list(_initdb_args(locale)), "locale": locale.ident, "created": now()}
        (tmp / "cluster.json").write_text(json.dumps(meta, indent=2))

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        publish_dir(target, fill, mode=0o700)
    except (OSError, ServerError) as exc:
        warnings.warn(f"dualdb: could not cache the initialised cluster in {target} ({exc}); "
                      f"every run will pay initdb. Set DUALDB_CACHE_DIR to a writable folder.", stacklevel=2)


def _initdb(binaries: PgBinaries, datadir: Path, run_as: RunAs, locale: ClusterLocale) -> None:
    args = [str(binaries.program("initdb")), "-D", str(datadir), *_initdb_args(locale), *_initdb_extras(binaries)]
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=child_env(binaries, locale),
            cwd=datadir.parent,
            timeout=300,
            **run_as.popen_kwargs(),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServerError(f"initdb from {binaries.bindir} could not run ({exc}); check the install "
                          f"or point dualdb_pg_binaries at another one.") from exc
    if done.returncode != 0:
        raise ServerError(f"initdb failed (exit {done.returncode}): {tail(done.stderr or done.stdout)} "
                          f"— check the install in {binaries.bindir} or point dualdb_pg_binaries at another one.")


@lru_cache(maxsize=None)
def _initdb_extras(binaries: PgBinaries) -> tuple[str, ...]:
    """Speed-ups the installed initdb supports: skip fsync, and 1 MB WAL segments (a smaller copy per run)."""
    try:
        help_text = subprocess.run([str(binaries.program("initdb")), "--help"], capture_output=True,
                                   text=True, env=child_env(binaries), timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    wanted = {"--no-sync": "--no-sync", "--no-instructions": "--no-instructions", "--wal-segsize": "--wal-segsize=1"}
    return tuple(flag for option, flag in wanted.items() if option in help_text)
