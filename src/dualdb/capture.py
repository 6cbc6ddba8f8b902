"""Per test and leg: what the test executed and saw.

Statements are captured with SQLAlchemy cursor events; rows are captured as
the *application* fetches them, by a cursor subclass on each driver, so the
plugin never consumes a result the code under test still has to read. Memory
is bounded: at most ``max_statements`` statements and ``max_rows`` rows per
statement are kept as values; everything past that only feeds a digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .normalize import Normalizer, canonical_text

HARNESS_MARK = "/* dualdb */"
HARNESS_PREFIXES = (HARNESS_MARK, "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT", "ROLLBACK")


@dataclass
class StatementRecord:
    """One statement: SQL, parameters, and a fingerprint of its result or error."""

    sql: str
    params: Any
    column_types: list[Any] | None = None
    processors: list[Any] | None = None
    rowcount: int | None = None
    rows: list[Any] | None = None
    fetched: int = 0
    digest: Any = None
    error: dict[str, str] | None = None
    ordered: bool = False

    def add_rows(self, rows: list[tuple], normalizer: Normalizer, max_rows: int) -> None:
        if self.rows is None:
            self.rows = []
        types = self.column_types or []
        processors = self.processors or []
        for row in rows:
            values = [
                normalizer(
                    _process(processors[i], v) if i < len(processors) else v,
                    types[i] if i < len(types) else None,
                )
                for i, v in enumerate(row)
            ]
            self.fetched += 1
            if len(self.rows) < max_rows:
                self.rows.append(values)
            else:
                if self.digest is None:
                    self.digest = hashlib.sha1()
                self.digest.update(canonical_text(values).encode())

    def to_dict(self) -> dict[str, Any]:
        digest = self.digest.hexdigest() if hasattr(self.digest, "hexdigest") else self.digest
        return {
            "sql": self.sql,
            "params": self.params,
            "rowcount": self.rowcount,
            "rows": self.rows,
            "fetched": self.fetched,
            "digest": digest,
            "error": self.error,
            "ordered": self.ordered,
        }


@dataclass
class LegRecorder:
    """Everything one leg of one test recorded; the plugin turns it into a report ``Leg``."""

    backend: str
    max_statements: int = 200
    max_rows: int = 50
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    ended: dt.datetime | None = None
    observations: list[dict[str, Any]] = field(default_factory=list)
    statements: list[StatementRecord] = field(default_factory=list)
    dropped_statements: int = 0
    notes: list[str] = field(default_factory=list)
    harness_notes: list[str] = field(default_factory=list)
    outcome: str = "passed"
    error: dict[str, str] | None = None
    normalizer: Normalizer = field(default_factory=Normalizer)

    def __post_init__(self) -> None:
        self.normalizer.clock_window = (self.started, self.started + dt.timedelta(hours=1))
        self._lock = threading.Lock()

    def observe(self, label: str, value: Any) -> None:
        """Record a value to compare across the two legs even when both pass."""
        with self._lock:
            self.observations.append({"label": str(label), "value": self.normalizer(value)})

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def note_harness(self, text: str) -> None:
        """A finding that the isolation itself may have caused (shown next to the verdict)."""
        if text not in self.harness_notes:
            self.harness_notes.append(text)

    def finish(self) -> None:
        self.ended = dt.datetime.now(dt.timezone.utc)

    def new_statement(self, sql: str, params: Any, column_types: list[Any] | None) -> StatementRecord | None:
        with self._lock:
            if len(self.statements) >= self.max_statements:
                self.dropped_statements += 1
                return None
            record = StatementRecord(
                sql=sql,
                params=_params_for_report(params, self.normalizer),
                column_types=column_types,
                ordered=has_top_level_order_by(sql),
            )
            self.statements.append(record)
            return record

    def statement_dicts(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.statements]


def _params_for_report(params: Any, normalizer: Normalizer) -> Any:
    """Parameters as a list of values in placeholder order.

    SQLite gets positional ``?`` tuples and psycopg named ``%(x)s`` dicts for
    the same call; their values, in order, are what must match across legs.
    """
    if isinstance(params, Mapping):
        params = list(params.values())
    elif isinstance(params, (list, tuple)) and params and isinstance(params[0], Mapping):
        params = [list(p.values()) for p in params]
    try:
        return normalizer(params)
    except Exception:  # parameters of exotic types are only evidence
        return repr(params)[:200]


def is_harness_sql(sql: str) -> bool:
    head = sql.lstrip()[:24].upper()
    return head.startswith(HARNESS_PREFIXES)


def has_top_level_order_by(sql: str) -> bool:
    """True when the outermost SELECT ends with an ORDER BY (so row order is meaningful).

    Parentheses are tracked so an ORDER BY inside a subquery or window does not count.
    """
    upper = sql.upper()
    depth = 0
    last_top_level = -1
    i = 0
    in_quote = None
    while i < len(upper):
        ch = upper[i]
        if in_quote:
            if ch == in_quote:
                in_quote = None
        elif ch in "'\"":
            in_quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and upper.startswith("ORDER BY", i):
            last_top_level = i
        i += 1
    return last_top_level >= 0


# -- drivers: cursors that record rows as the application fetches them ----------------


class _RecordingMixin:
    _dualdb_record: StatementRecord | None = None
    _dualdb_leg: LegRecorder | None = None

    def _dualdb_rows(self, rows: list) -> list:
        record, leg = self._dualdb_record, self._dualdb_leg
        if record is not None and leg is not None:
            record.add_rows(rows, leg.normalizer, leg.max_rows)
        return rows


class RecordingSqliteCursor(_RecordingMixin, sqlite3.Cursor):
    def fetchone(self):
        row = super().fetchone()
        if row is not None:
            self._dualdb_rows([row])
        return row

    def fetchmany(self, size: int | None = None):
        rows = super().fetchmany(self.arraysize if size is None else size)
        return self._dualdb_rows(rows)

    def fetchall(self):
        return self._dualdb_rows(super().fetchall())


class RecordingSqliteConnection(sqlite3.Connection):
    """``sqlite3.connect(factory=...)``: every cursor records what it hands out."""

    def cursor(self, factory=RecordingSqliteCursor):  # noqa: ANN001
        return super().cursor(factory)


class RecordingPsycopgCursor(_RecordingMixin, psycopg.Cursor):
    def fetchone(self):
        row = super().fetchone()
        if row is not None:
            self._dualdb_rows([row])
        return row

    def fetchmany(self, size: int = 0):
        return self._dualdb_rows(super().fetchmany(size))

    def fetchall(self):
        return self._dualdb_rows(super().fetchall())


class StatementCapture:
    """Engine events that feed the leg currently running on that engine.

    Listeners stay installed for the whole run (adding and removing them per
    test would cost more than the capture); with no active leg they return at once.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.leg: LegRecorder | None = None
        event.listen(engine, "connect", self._on_connect)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "handle_error", self._on_error)
        self._patch_existing_pool()

    def _patch_existing_pool(self) -> None:
        """Connections opened before capture was installed need the recording cursor too."""
        # New connections get it in _on_connect; pooled ones were opened by schema
        # creation only, so disposing the pool is the simplest way to cover them.
        self.engine.dispose()

    def _on_connect(self, dbapi_conn, _record) -> None:  # noqa: ANN001
        if isinstance(dbapi_conn, psycopg.Connection):
            dbapi_conn.cursor_factory = RecordingPsycopgCursor

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        leg = self.leg
        if leg is None or is_harness_sql(statement):
            return
        types = _column_types(context)
        record = leg.new_statement(statement, parameters, types)
        if record is not None and types:
            record.processors = _result_processors(types, conn.dialect)
        if isinstance(cursor, _RecordingMixin):
            cursor._dualdb_record = record
            cursor._dualdb_leg = leg
        if record is not None:
            conn.info["dualdb_last"] = record

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.leg is None:
            return
        record = conn.info.get("dualdb_last")
        if record is not None and record.sql == statement and cursor.description is None:
            count = cursor.rowcount
            record.rowcount = count if count is not None and count >= 0 else None

    def _on_error(self, context) -> None:  # noqa: ANN001
        leg = self.leg
        if leg is None:
            return
        conn = context.connection
        record = conn.info.get("dualdb_last") if conn is not None else None
        if record is not None and record.error is None and record.sql == context.statement:
            orig = context.original_exception
            # the DBAPI class name SQLAlchemy wraps it in (IntegrityError, ...) is the same
            # on both drivers; psycopg's own subclasses (UniqueViolation) are not
            wrapped = context.sqlalchemy_exception
            name = type(wrapped).__name__ if wrapped is not None else type(orig).__name__
            record.error = {"type": name, "message": first_line(str(orig))}

    def start(self, leg: LegRecorder) -> None:
        self.leg = leg

    def stop(self) -> None:
        self.leg = None


def _column_types(context) -> list[Any] | None:  # noqa: ANN001
    compiled = getattr(context, "compiled", None)
    columns = getattr(compiled, "_result_columns", None)
    if not columns:
        return None
    return [getattr(col, "type", None) if not isinstance(col, tuple) else col[3] for col in columns]


def _result_processors(types: list[Any], dialect: Any) -> list[Any]:
    """The conversions SQLAlchemy applies to raw driver values for these column types.

    Rows are captured raw, as the driver hands them out; comparing them raw
    would flag driver details the application never sees (SQLite returns JSON
    and datetimes as text, PostgreSQL as objects). Applying the same result
    processors compares what the application receives.
    """
    processors = []
    for type_ in types:
        try:
            processors.append(type_.dialect_impl(dialect).result_processor(dialect, None) if type_ is not None else None)
        except Exception:  # an exotic type: compare its raw value
            processors.append(None)
    return processors


def _process(processor: Any, value: Any) -> Any:
    if processor is None or value is None:
        return value
    try:
        return processor(value)
    except Exception:  # e.g. text that is not valid JSON stored in a JSON column on SQLite
        return value


def first_line(text: str) -> str:
    for line in str(text).strip().splitlines():
        if line.strip():
            return line.strip()
    return ""
