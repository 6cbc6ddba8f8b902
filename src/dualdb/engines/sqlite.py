"""The SQLite leg: a database file per run (per xdist worker) through the stdlib driver.

The engine follows SQLAlchemy's documented pysqlite recipe: the driver's own
transaction handling is switched off (``isolation_level=None``) and SQLAlchemy
emits ``BEGIN`` itself. Without it, pysqlite (Python < 3.12, default mode)
commits on a SAVEPOINT release, so a test's ``commit()`` would escape the outer
rollback and rows would leak between tests.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from dualdb.capture.cursors import RecordingSqliteConnection


def make_engine(
    path: Path,
    pragmas: tuple[tuple[str, str], ...] = (),
    *,
    isolated: bool = True,
    busy_timeout_ms: int = 5000,
    recording: bool = True,
) -> Engine:
    """An engine on the SQLite file ``path``.

    ``isolated=True`` applies the SAVEPOINT-safe recipe used for rolled-back
    tests; ``isolated=False`` gives a plain engine as ``create_engine(url)``
    would (for ``db_fresh_engine``, where nothing wraps the test). Connections
    may be used from other threads (FastAPI's TestClient runs the app in one).
    """
    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={
            "check_same_thread": False,
            # cursors that record fetched rows, for comparison; only needed in a dual run
            "factory": RecordingSqliteConnection if recording else sqlite3.Connection,
            "timeout": busy_timeout_ms / 1000,
        },
    )
    if pragmas:
        _apply_pragmas(engine, pragmas)
    if isolated:
        _apply_savepoint_recipe(engine)
    return engine


def _apply_pragmas(engine: Engine, pragmas: tuple[tuple[str, str], ...]) -> None:
    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_conn, _record):  # noqa: ANN001 - DBAPI objects
        cursor = dbapi_conn.cursor()
        try:
            for name, value in pragmas:
                cursor.execute(f"PRAGMA {name}={value}")
        finally:
            cursor.close()


def _apply_savepoint_recipe(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _emit_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN")


def version() -> str:
    """The SQLite library version the stdlib driver links against."""
    return sqlite3.sqlite_version
