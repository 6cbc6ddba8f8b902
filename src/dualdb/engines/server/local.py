"""A running private PostgreSQL server (``LocalServer``) and ``start_server``, which puts the pieces together.

``start_server`` reaps what killed runs left (``ledger``), picks who runs
PostgreSQL (``run_as``), fills a run folder from the cached cluster
(``cluster``), launches ``postgres`` and waits until it accepts connections
(``process``).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from dualdb.errors import ServerError
from dualdb.engines.server.binaries import PgBinaries
from dualdb.engines.server.cluster import choose_locale, cluster_dir, keep_cluster, prepare_datadir, schema_cluster
from dualdb.engines.server.files import default_cache_dir
from dualdb.engines.server.ledger import reap_leftovers, update_record, write_record
from dualdb.engines.server.locales import ClusterLocale
from dualdb.engines.server.process import (
    PORT,
    discard_run_dir,
    launch,
    make_run_dir,
    reap_trash,
    remove_run_dir,
    shutdown,
    shutdown_clean,
    wait_ready,
)
from dualdb.engines.server.run_as import pick_run_as, usable_binaries



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
        shutdown(self.pid, self._process)
        discard_run_dir(self.run_dir)
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
        if shutdown_clean(self.pid, self._process):
            target = schema_cluster(self.base_cluster, key)
            try:
                keep_cluster(self.datadir, target)
                kept = target
            except (OSError, ServerError) as exc:
                warnings.warn(f"dualdb: could not keep the schema cluster in {target} ({exc}); "
                              f"the next run builds the schema again.", stacklevel=2)
        self.stop()
        return kept


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
    run_as = pick_run_as()
    binaries = usable_binaries(binaries, run_as)
    clock.lap("prepare")
    locale = choose_locale(binaries, cache_dir, run_as)
    clock.lap("locale")
    run_dir = make_run_dir(run_root, run_as)
    reap_trash(run_dir.parent)
    record = cache_dir / "runs" / f"{run_dir.name}.json"
    process = None
    try:
        write_record(record, run_dir=run_dir)
        clock.lap("record")
        cold, snapshot = prepare_datadir(binaries, cache_dir, run_dir, run_as, locale, schema_key)
        clock.lap("initdb" if cold else "copy")
        process = launch(binaries, run_dir, run_as, timezone, locale)
        update_record(record, postmaster_pid=process.pid, version=binaries.version)
        version = wait_ready(process, run_dir)
        clock.lap("start")
    except BaseException:  # including KeyboardInterrupt: never leave a half-started server behind
        if process is not None:
            shutdown(process.pid, process)
        remove_run_dir(run_dir)
        record.unlink(missing_ok=True)
        raise
    sockdir = run_dir / "sock"
    server = LocalServer(
        binaries=binaries,
        datadir=run_dir / "data",
        sockdir=sockdir,
        port=PORT,
        pid=process.pid,
        version=version,
        url=f"postgresql+psycopg://postgres@/postgres?host={quote(str(sockdir), safe='/')}&port={PORT}",
        run_dir=run_dir,
        record=record,
        cold=cold,
        snapshot=snapshot,
        base_cluster=cluster_dir(cache_dir, binaries, locale),
        locale=locale,
        reaped=reaped,
        timings=clock.laps,
        _process=process,
    )
    atexit.register(server.stop)
    return server


class _Clock:
    """Named laps of ``start_server``, reported in ``LocalServer.timings`` (benchmarks use them)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


def _ensure_private_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ServerError(f"Cannot create the dualdb cache folder {path} ({exc}); "
                          f"set DUALDB_CACHE_DIR to a writable folder.") from exc
