"""SQLite-only engine arguments, and what each becomes on PostgreSQL.

A suite written for SQLite passes arguments PostgreSQL's driver would reject
(``connect_args={"check_same_thread": False}``) or that only make sense for a
file or an in-memory database (``StaticPool``). Each is dropped or mapped with
one note saying so, so the PostgreSQL leg sees the suite's engine as close as
PostgreSQL allows, and the user can see every liberty taken.
"""

from __future__ import annotations

from typing import Any

# dialect keywords only the SQLite dialects accept
SQLITE_DIALECT_ARGS = ("native_datetime",)
# arguments that hand SQLAlchemy a SQLite connection or module
SQLITE_CONNECTION_ARGS = ("creator", "async_creator", "module", "pool")


def for_postgresql(kw: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The engine keywords to use on PostgreSQL, and ``(key, note)`` for each change.

    Everything PostgreSQL understands is kept as the suite passed it (``echo``,
    ``isolation_level``, ``execution_options``, ``json_serializer``, pool sizes...).
    """
    from sqlalchemy.pool import SingletonThreadPool, StaticPool

    out = dict(kw)
    notes: list[tuple[str, str]] = []
    for key in sorted((out.pop("connect_args", None) or {})):
        notes.append((f"connect_args:{key}", f"connect_args={{{key!r}: ...}} is for the SQLite driver; "
                      "not passed to PostgreSQL"))
    for key in SQLITE_DIALECT_ARGS + SQLITE_CONNECTION_ARGS:
        if key in out:
            out.pop(key)
            notes.append((key, f"{key}= is SQLite-specific; PostgreSQL engines are created without it"))
    poolclass = out.get("poolclass")
    if poolclass is not None and isinstance(poolclass, type) and issubclass(poolclass, SingletonThreadPool):
        out.pop("poolclass")
        notes.append(("poolclass:SingletonThreadPool", "poolclass=SingletonThreadPool (one connection per thread, "
                      "SQLite's in-memory default) becomes PostgreSQL's default QueuePool"))
    elif poolclass is not None and isinstance(poolclass, type) and issubclass(poolclass, StaticPool):
        notes.append(("poolclass:StaticPool", "poolclass=StaticPool is kept on PostgreSQL: all sessions share one "
                      "connection, so they see each other's uncommitted rows as they did on the in-memory SQLite"))
    return out, notes


def with_recording_connection(kw: dict[str, Any]) -> dict[str, Any]:
    """The SQLite leg's keywords: unchanged, but connections record the rows the suite fetches.

    ``RecordingSqliteConnection`` is a plain ``sqlite3.Connection`` subclass
    whose cursors keep a reference to what they return, so the comparison sees
    the results; left out when the suite chose its own connection factory.
    """
    connect_args = dict(kw.get("connect_args") or {})
    if "factory" in connect_args or any(k in kw for k in SQLITE_CONNECTION_ARGS):
        return kw
    from dualdb.capture.cursors import RecordingSqliteConnection

    connect_args["factory"] = RecordingSqliteConnection
    return {**kw, "connect_args": connect_args}
