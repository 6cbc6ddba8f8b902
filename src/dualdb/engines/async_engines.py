"""The async twins of the two backends: engines and rolled-back connections.

Plain Python (no pytest): ``async_fixtures`` turns these into fixtures.

* SQLite: ``sqlite+aiosqlite`` on the *same file* as the sync leg, with the
  same SAVEPOINT-safe recipe (driver transactions off, SQLAlchemy emits
  ``BEGIN``) applied on ``async_engine.sync_engine``, the same PRAGMAs and
  busy timeout.
* PostgreSQL: ``postgresql+psycopg`` (SQLAlchemy picks psycopg's async mode
  for ``create_async_engine``) on the same throwaway database, with the same
  session ``TimeZone`` and lock timeout.

Statements are captured like the sync legs' (``capture.events.AsyncStatementCapture``,
installed by ``engines.instrument`` on ``sync_engine``). Rows too: SQLAlchemy's
async adapters fetch every row of a result right after executing it, from the
driver cursor, so the recording cursor sits there — psycopg's ``AsyncCursor``
through ``cursor_factory``, and the stdlib ``sqlite3`` cursor that aiosqlite
drives in its thread. (Unlike a sync leg, an async leg therefore records all
rows of a result, not only those the application read; both legs of an async
test behave the same way.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from dualdb.engines.provision import Backend
from dualdb.capture.cursors import RecordingSqliteConnection
from dualdb.config import Settings
from dualdb.engines.isolation import reset_sequences_before_rollback
from dualdb.errors import AsyncDriverMissing

def make_async_engine(backend: Backend, settings: Settings) -> AsyncEngine:
    """An ``AsyncEngine`` on the same database as ``backend.engine``."""
    _check_drivers(backend.name)
    if backend.name == "sqlite":
        from dualdb.engines import sqlite as sqlite_backend

        path = backend.engine.url.database
        engine = create_async_engine(
            f"sqlite+aiosqlite:///{path}",
            connect_args={
                "check_same_thread": False,
                "factory": RecordingSqliteConnection,
                "timeout": max(settings.lock_timeout_ms, 1) / 1000,
            },
        )
        if settings.sqlite_pragmas:
            sqlite_backend._apply_pragmas(engine.sync_engine, settings.sqlite_pragmas)
        sqlite_backend._apply_savepoint_recipe(engine.sync_engine)
        return engine
    options = f"-c TimeZone={settings.pg_timezone}"
    if settings.lock_timeout_ms:
        options += f" -c lock_timeout={int(settings.lock_timeout_ms)}"
    url = backend.engine.url.set(drivername="postgresql+psycopg")
    return create_async_engine(url, connect_args={"options": options}, pool_size=5, max_overflow=20)


def _check_drivers(backend: str) -> None:
    missing = []
    try:
        import greenlet  # noqa: F401
    except ImportError:
        missing.append("greenlet")
    if backend == "sqlite":
        try:
            import aiosqlite  # noqa: F401
        except ImportError:
            missing.append("aiosqlite")
    if missing:
        raise AsyncDriverMissing(
            f"the async fixtures need {' and '.join(missing)}: pip install 'pytest-dualdb[async]'"
        )


def dispose_all(engines: list[AsyncEngine]) -> None:
    """Close the pooled connections of ``engines`` (from sync code, at the end of the run).

    Pooled async connections outlive the event loop of the test that opened
    them; both drivers accept being closed from a fresh loop. aiosqlite's
    worker threads are not daemons, so this must happen or pytest hangs at exit.
    """
    if not engines:
        return

    async def _dispose() -> None:
        for engine in engines:
            await engine.dispose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_dispose())
        return
    worker = threading.Thread(target=asyncio.run, args=(_dispose(),))  # a loop is running here
    worker.start()
    worker.join()


# -- isolation -------------------------------------------------------------------------


@asynccontextmanager
async def rolled_back_async_connection(engine: AsyncEngine, backend: Backend) -> AsyncIterator[tuple[AsyncConnection, Any]]:
    """An ``AsyncConnection`` inside an outer transaction that is always rolled back.

    The async twin of ``isolation.rolled_back_connection``, with the same
    invariant: a test that wrote puts the PostgreSQL sequences back to their
    start before its rollback (sequences ignore ROLLBACK), so the next test —
    sync or async — gets the ids SQLite gives. The sync model's savepoint
    tracker is attached, so several sessions on the connection behave alike.
    Yields ``(connection, tracker)``; ``tracker.notes`` are harness notes.
    """
    tracker, key = _new_tracker()
    conn = await engine.connect()
    try:
        if tracker is not None:
            conn.sync_connection.info[key] = tracker
        outer = await conn.begin()
        try:
            yield conn, tracker
        finally:
            conn.sync_connection.info.pop(key, None)
            if backend.name == "postgresql" and getattr(tracker, "any_write", True):
                await conn.run_sync(reset_sequences_before_rollback, backend)
            if outer.is_active:
                await outer.rollback()
            elif conn.in_transaction():
                await conn.rollback()
    finally:
        if conn.sync_connection is not None:
            conn.sync_connection.info.pop(key, None)
        await conn.close()


def _new_tracker() -> tuple[Any, str]:
    """The sync model's savepoint tracker and the ``Connection.info`` key it lives under."""
    try:
        from dualdb.engines.isolation import TRACKER_KEY, SavepointTracker
    except ImportError:  # an isolation model without savepoint tracking
        return None, "dualdb_savepoints"
    return SavepointTracker(), TRACKER_KEY


SESSION_DEFAULTS = {"join_transaction_mode": "create_savepoint", "expire_on_commit": False}


def savepoint_async_session(connection: AsyncConnection, **kwargs: Any) -> AsyncSession:
    """An ``AsyncSession`` whose commits are savepoint releases inside the test's transaction.

    ``expire_on_commit=False`` like virtually every async application's own
    ``async_sessionmaker``: after ``commit()`` an expired attribute would need
    implicit IO, which async SQLAlchemy forbids (``MissingGreenlet``).
    """
    for key, value in SESSION_DEFAULTS.items():
        kwargs.setdefault(key, value)
    return AsyncSession(bind=connection, **kwargs)


class AsyncTestSessionmaker(async_sessionmaker):
    """An ``async_sessionmaker`` on the test's connection that closes what it made at the end."""

    __test__ = False  # not a pytest test class

    def __init__(self, connection: AsyncConnection, **kwargs: Any):
        for key, value in SESSION_DEFAULTS.items():
            kwargs.setdefault(key, value)
        super().__init__(bind=connection, **kwargs)
        import weakref

        self._made: weakref.WeakSet = weakref.WeakSet()

    def __call__(self, **local_kw: Any) -> AsyncSession:
        session = super().__call__(**local_kw)
        self._made.add(session)
        return session

    async def close_all(self) -> None:
        for session in list(self._made):
            await session.close()
