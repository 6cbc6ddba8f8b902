"""The async twins of the two backends: engines, capture and rolled-back connections.

Plain Python (no pytest): ``async_fixtures`` turns these into fixtures.

* SQLite: ``sqlite+aiosqlite`` on the *same file* as the sync leg, with the
  same SAVEPOINT-safe recipe (driver transactions off, SQLAlchemy emits
  ``BEGIN``) applied on ``async_engine.sync_engine``, the same PRAGMAs and
  busy timeout.
* PostgreSQL: ``postgresql+psycopg`` (SQLAlchemy picks psycopg's async mode
  for ``create_async_engine``) on the same throwaway database, with the same
  session ``TimeZone`` and lock timeout.

Statements are captured like the sync legs' (SQLAlchemy events on
``sync_engine``). Rows too: SQLAlchemy's async adapters fetch every row of a
result right after executing it, from the driver cursor, so the recording
cursor sits there — psycopg's ``AsyncCursor`` through ``cursor_factory``, and
the stdlib ``sqlite3`` cursor that aiosqlite drives in its thread. (Unlike a
sync leg, an async leg therefore records all rows of a result, not only those
the application read; both legs of an async test behave the same way.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from dualdb.engines.provision import Backend
from dualdb.capture import WRITE_VERBS, RecordingSqliteConnection, StatementCapture, _RecordingMixin
from dualdb.config import Settings
from dualdb.engines.isolation import reset_sequences_before_rollback

class AsyncDriverMissing(RuntimeError):
    """An async driver (or greenlet) is not installed: the message says what to install."""


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


# -- statement capture -----------------------------------------------------------------


class RecordingPsycopgAsyncCursor(_RecordingMixin, psycopg.AsyncCursor):
    """psycopg's async cursor, recording the rows it hands to SQLAlchemy's adapter."""

    async def fetchone(self):
        row = await super().fetchone()
        self._dualdb_rows([row] if row is not None else [])
        return row

    async def fetchmany(self, size: int = 0):
        return self._dualdb_rows(await super().fetchmany(size))

    async def fetchall(self):
        return self._dualdb_rows(await super().fetchall())


class AsyncStatementCapture(StatementCapture):
    """``StatementCapture`` for an async engine's ``sync_engine``.

    The cursor SQLAlchemy's events see is the async adapter (which cannot
    carry attributes); the recording cursor is the driver's one underneath
    it, so every event is handed that one instead.
    """

    def _on_connect(self, dbapi_conn, _record) -> None:  # noqa: ANN001
        driver = getattr(dbapi_conn, "driver_connection", None)
        if isinstance(driver, psycopg.AsyncConnection):
            driver.cursor_factory = RecordingPsycopgAsyncCursor

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        driver = _driver_cursor(cursor)
        leg = self.leg
        count = len(leg.statements) if leg is not None else 0
        super()._before(conn, driver or cursor, statement, parameters, context, executemany)
        if driver is None and leg is not None and len(leg.statements) > count:
            context._dualdb_record = leg.statements[-1]  # no driver cursor to carry it: see _after

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        driver = _driver_cursor(cursor)
        if driver is None:
            _record_from_adapter(getattr(context, "_dualdb_record", None), cursor, executemany)
        super()._after(conn, driver or cursor, statement, parameters, context, executemany)

    def _on_error(self, context) -> None:  # noqa: ANN001
        execution = getattr(context, "execution_context", None)
        cursor = getattr(context, "cursor", None) or getattr(execution, "cursor", None)
        driver = _driver_cursor(cursor) if cursor is not None else None
        if driver is None:
            super()._on_error(context)
            return
        view = _Override(context, cursor=driver)
        if execution is not None:
            view.execution_context = _Override(execution, cursor=driver)
        super()._on_error(view)

    def start(self, leg) -> None:  # noqa: ANN001
        if getattr(leg, "dialect", None) is None:  # the sync engine's capture binds it first
            super().start(leg)
        self.leg = leg


def _record_from_adapter(record: Any, adapter: Any, executemany: bool) -> None:
    """SQLAlchemy 2.0's aiosqlite adapter runs each statement on a driver cursor it doesn't keep,
    and has already fetched every row into its own buffer: record them from there."""
    if record is None:
        return
    if adapter.description is not None:
        rows = getattr(adapter, "_rows", None)
        if rows:
            record.take(list(rows), adapter)
        return
    if record.info.verb in WRITE_VERBS:
        count = getattr(adapter, "rowcount", None)
        record.rowcount = count if count is not None and count >= 0 else None
        if not executemany and record.info.verb == "INSERT" and getattr(adapter, "lastrowid", None) is not None:
            record.lastrowid = adapter.lastrowid


class _Override:
    """``obj`` with some attributes replaced (the exception context, seen with the driver's cursor)."""

    def __init__(self, obj: Any, **attrs: Any):
        self._obj = obj
        self.__dict__.update(attrs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._obj, name)


def _driver_cursor(cursor: Any) -> _RecordingMixin | None:
    """The recording cursor under SQLAlchemy's async adapter (and aiosqlite's wrapper)."""
    for _ in range(3):
        if isinstance(cursor, _RecordingMixin):
            return cursor
        cursor = getattr(cursor, "_cursor", None)
        if cursor is None:
            return None
    return cursor if isinstance(cursor, _RecordingMixin) else None


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
