"""Our own server, started early: in a thread from ``pytest_configure`` while pytest collects and the
SQLite side is built; the ``Provisioner`` takes it at the run's first PostgreSQL need.

Starting it (the binaries probe, copying the kept cluster, ``postgres`` accepting connections) is
mostly waiting on other processes, so it overlaps the main thread's imports and collection.

Which kept cluster to start from depends on the schema key, which needs the project's models, not
imported yet at configure time: the thread starts from the key this project used last time
(``<cache>/projects/<digest of rootdir and ini file>``). When the models then name another kept
cluster, the run stops that server and starts the right one: what every run paid before.

The thread lives until the server is stopped (``release``): the kernel sends PostgreSQL its
die-with-pytest signal when the *thread* that started it ends (``process.KeeperThread``).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from dualdb.engines.server.files import default_cache_dir
from dualdb.engines.server.process import KeeperThread

if TYPE_CHECKING:
    from dualdb.engines.server.local import LocalServer


def start_local(pg_binaries: str | None, timezone: str, key: str | None) -> tuple[LocalServer, list[str]]:
    """Find the binaries, reap what killed runs left, start a private server from the cluster kept for
    ``key``; returns it and the reaper's lines. Raises ``BackendError`` with the one-line reason."""
    from dualdb.engines.server.binaries import find_binaries
    from dualdb.engines.server.ledger import reap_leftovers
    from dualdb.engines.server.local import start_server
    from dualdb.errors import BackendError, BinariesNotFound, ServerError

    try:
        binaries = find_binaries(pg_binaries)
    except BinariesNotFound as exc:
        raise BackendError(str(exc)) from None
    lines = reap_leftovers()
    try:
        server = start_server(binaries, timezone=timezone, schema_key=key)
    except ServerError as exc:
        raise BackendError(f"could not start a local PostgreSQL: {exc}") from None
    return server, lines


def _project_file(project: str) -> Path:
    return default_cache_dir() / "projects" / hashlib.sha256(project.encode()).hexdigest()[:16]


class EarlyServer:
    """A ``start_local`` running in a thread of its own; ``take`` it, or ``discard`` it."""

    def __init__(self, pg_binaries: str | None, timezone: str, project: str, rebuild: bool):
        self._project = _project_file(project)
        self.key = None if rebuild else self._last_key()
        self._ready = threading.Event()
        self._released = threading.Event()
        self._result: tuple[LocalServer, list[str]] | None = None
        self._error: BaseException | None = None
        self._taken = False
        self._thread = KeeperThread(target=self._run, args=(pg_binaries, timezone), name="dualdb-server",
                                    daemon=True)
        self._thread.start()
        atexit.register(self.discard)  # pytest never got to unconfigure: still no server nor folder left

    def _last_key(self) -> str | None:
        try:
            return self._project.read_text().strip() or None
        except OSError:
            return None

    def _run(self, pg_binaries: str | None, timezone: str) -> None:
        try:
            self._result = start_local(pg_binaries, timezone, self.key)
        except BaseException as exc:  # handed to the main thread by take()
            self._error = exc
        finally:
            self._ready.set()
        self._released.wait()

    def take(self, key: str | None) -> tuple[LocalServer | None, list[str]]:
        """Wait for the start; the server when it is the one ``start_server(schema_key=key)`` would give
        now (else stopped, and None), with the reaper's lines. Raises the start's ``BackendError``."""
        self._ready.wait()
        self._taken = True
        atexit.unregister(self.discard)
        if self._error is not None:
            self.release()
            raise self._error
        server, lines = self._result  # type: ignore[misc]
        if key is not None and key != self.key:
            self._remember(key)
        if self._fits(server, key):
            return server, lines
        server.stop()
        self.release()
        return None, lines

    def _fits(self, server: LocalServer, key: str | None) -> bool:
        if key == self.key:
            return True
        if server.snapshot is not None or server.base_cluster is None:
            return False  # it holds another schema's template
        from dualdb.engines.server.cluster import has_schema_cluster

        return key is None or not has_schema_cluster(server.base_cluster, key)  # a bare copy either way

    def _remember(self, key: str) -> None:
        """The key the next run of this project starts from (best effort: only costs a restart)."""
        try:
            self._project.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._project.with_name(f".{self._project.name}.{os.getpid()}.tmp")
            tmp.write_text(key)
            os.replace(tmp, self._project)
        except OSError:
            pass

    def release(self) -> None:
        """The server this thread started is stopped: let the thread end."""
        self._released.set()

    def discard(self) -> None:
        """The run needed no PostgreSQL (or never got to it): stop the server, if it started; safe twice."""
        if self._taken:
            return
        self._taken = True
        atexit.unregister(self.discard)
        self._ready.wait()
        if self._result is not None:
            self._result[0].stop()
        self.release()
