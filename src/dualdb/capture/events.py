"""SQLAlchemy engine events that feed the leg running on an engine.

``StatementCapture`` listens to an engine for the whole run: before each
statement it asks ``statement_info`` what the statement is, opens a
``StatementRecord`` on the leg (with the application's parameters; a batched
write's rows through ``batch_params``) and hands it to the recording cursor;
after it, it keeps the row count (and SQLite's ``lastrowid``); on an error, the
engine's error. ``AsyncStatementCapture`` does the same on an async engine's
``sync_engine``, where the recording cursor sits under SQLAlchemy's adapter.
Which engines get a capture is decided in ``engines.instrument``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from dualdb.capture.cursors import (
    RecordingCursor,
    RecordingPsycopgAsyncCursor,
    RecordingPsycopgCursor,
    RecordingSqliteCursor,
)
from dualdb.capture.recorder import BatchRows, LegRecorder
from dualdb.capture.statement_info import statement_info
from dualdb.records import error_record
from dualdb.sql import WRITE_VERBS


_BATCH_KEY = re.compile(r"__(\d+)$")


def batch_params(context: Any, compiled_params: list, parameters: Any) -> list:
    """The application's values (one dict per row) of the rows this execution of a batch sends.

    An ORM flush of several new rows is one statement per row on SQLite and one
    multi-row ``INSERT … VALUES`` on PostgreSQL ("insertmanyvalues"), whose
    driver parameters are renamed (``name__0``, ``name__1``) and already
    bind-processed. The rows as the application passed them are the same on
    both engines, which is what lets values the legs sent differently be
    learnt (``compare.learn_differing_inputs``) however the dialect batched them.
    """
    if isinstance(parameters, (list, tuple)) and parameters and isinstance(parameters[0], (list, tuple, Mapping)):
        return BatchRows(compiled_params)  # cursor.executemany(): every row at once
    if isinstance(parameters, Mapping):  # pyformat: name__0, name__1 ...
        numbers = {int(m.group(1)) for key in parameters if (m := _BATCH_KEY.search(str(key)))}
        count = max(numbers) + 1 if numbers else 1
    elif isinstance(parameters, (list, tuple)):  # qmark: one flat tuple of every row's values
        count = max(1, len(parameters) // max(1, len(compiled_params[0])))
    else:
        count = 1
    start = context.__dict__.get("_dualdb_batch_position", 0)
    context.__dict__["_dualdb_batch_position"] = start + count
    return BatchRows(compiled_params[start:start + count])


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
        if leg is None:
            return
        compiled = getattr(context, "compiled", None)
        info = statement_info(statement, compiled)
        if info.harness:
            return
        params = parameters
        if compiled is not None:
            compiled_params = context.compiled_parameters
            if len(compiled_params) == 1 and not executemany:
                params = compiled_params[0]
            elif len(compiled_params) > 1:
                params = batch_params(context, compiled_params, parameters)
        record = leg.new_statement(statement, info, params)
        if isinstance(cursor, RecordingCursor):
            cursor._dualdb_record = record

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.leg is None:
            return
        record = getattr(cursor, "_dualdb_record", None)
        if record is not None and record.info.verb in WRITE_VERBS and cursor.description is None:
            # (psycopg builds ``description`` on each access: only writes are asked; with
            # RETURNING the rows are the result and the driver's count is not final yet)
            count = cursor.rowcount
            record.rowcount = count if count is not None and count >= 0 else None
            if not executemany and record.info.verb == "INSERT" and cursor.__class__ is RecordingSqliteCursor:
                # SQLAlchemy reads a new row's id from lastrowid on SQLite where
                # PostgreSQL uses RETURNING: keep it so the ids can be compared
                record.lastrowid = cursor.lastrowid

    def _on_error(self, context) -> None:  # noqa: ANN001
        leg = self.leg
        if leg is None:
            return
        statement = context.statement or ""
        execution = context.execution_context
        record = getattr(getattr(execution, "cursor", None), "_dualdb_record", None)
        if record is None or record.leg is not leg:
            # the cursor is not reachable from the context (some async adapters): the
            # failing statement is normally the last one this leg recorded
            last = leg.statements[-1] if leg.statements else None
            if last is not None and last.error is None and statement and last.sql == statement[: len(last.sql)]:
                record = last
        if record is None or record.leg is not leg or (statement and record.sql != statement[: len(record.sql)]):
            # the statement failed before reaching the driver (e.g. in a bind processor)
            if not statement:
                return
            info = statement_info(statement, getattr(execution, "compiled", None))
            if info.harness:
                return
            record = leg.new_statement(statement, info, context.parameters)
            if record is None:
                return
        if record.error is None:
            record.error = error_record(context.original_exception)

    def start(self, leg: LegRecorder) -> None:
        leg.bind(self.engine.dialect)
        self.leg = leg

    def stop(self) -> None:
        self.leg = None


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


def _driver_cursor(cursor: Any) -> RecordingCursor | None:
    """The recording cursor under SQLAlchemy's async adapter (and aiosqlite's wrapper)."""
    for _ in range(3):
        if isinstance(cursor, RecordingCursor):
            return cursor
        cursor = getattr(cursor, "_cursor", None)
        if cursor is None:
            return None
    return cursor if isinstance(cursor, RecordingCursor) else None
