"""PostgreSQL sequence state: where each sequence stands, back to its start, back to where it stood.

Sequences ignore ROLLBACK, so on PostgreSQL ids drift between tests (and between
Hypothesis examples) while SQLite, whose rowids roll back, restarts at 1: every id
would be a false divergence. Two ways to put them back, one per user:

- ``reset``: every sequence to its start value, as a fresh schema has it. Per test
  (``engines/isolation.py``, ``db_async_connection``) and when the ``dual`` fixture
  opens its connection. The statement is built once per schema and reused (listing
  sequences costs more than resetting them).
- ``positions`` / ``restore``: a snapshot of every sequence's position, and later
  ``setval`` on each one that moved since. Per example and per call of the ``dual``
  fixture (``dual/runner.py``), whose savepoints undo rows but not ids.

SQLite has nothing to do here: callers only call these on PostgreSQL connections.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

_START_VALUES_SQL = (
    "/* dualdb */ SELECT format('%%I.%%I', schemaname, sequencename), start_value FROM pg_sequences "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
)
_POSITIONS_SQL = (
    "/* dualdb */ SELECT format('%%I.%%I', schemaname, sequencename), last_value FROM pg_sequences"
)
_SETVAL_SQL = "/* dualdb */ SELECT setval(%(name)s::regclass, %(value)s::bigint, true)"
_UNUSED_SQL = (
    "/* dualdb */ SELECT setval(%(name)s::regclass, start_value, false) FROM pg_sequences "
    "WHERE format('%%I.%%I', schemaname, sequencename) = %(key)s::text"
)


def reset_statement(conn: Connection) -> str:
    """One statement that puts every sequence of the schema back to its start value.

    Empty when there are no sequences.
    """
    rows = conn.exec_driver_sql(_START_VALUES_SQL).all()
    if not rows:
        return ""
    calls = ", ".join(f"setval('{_literal(name)}', {int(start)}, false)" for name, start in rows)
    return f"/* dualdb */ SELECT {calls}"


def reset(conn: Connection, statement: str | None = None) -> str:
    """Put every sequence back to its start value; returns the statement for reuse.

    ``statement`` is what an earlier call returned for this schema (``None``
    builds it). ``setval`` is not undone by a rollback.
    """
    if statement is None:
        statement = reset_statement(conn)
    if statement:
        conn.exec_driver_sql(statement)
    return statement


def positions(conn: Connection) -> dict[str, Any]:
    """Every sequence's ``last_value`` by qualified name (``None``: not used since its start)."""
    return dict(conn.exec_driver_sql(_POSITIONS_SQL).fetchall())


def restore(conn: Connection, before: dict[str, Any]) -> None:
    """Put back every sequence that moved since ``before = positions(conn)``."""
    for name, value in positions(conn).items():
        if name in before and before[name] != value:
            if before[name] is None:
                conn.exec_driver_sql(_UNUSED_SQL, {"name": name, "key": name})
            else:
                conn.exec_driver_sql(_SETVAL_SQL, {"name": name, "value": before[name]})


def _literal(name: str) -> str:
    """A qualified name inside a quoted literal of a statement sent without parameters."""
    return name.replace("'", "''").replace("%", "%%")
