"""Statement capture on the suite's own engines, and SQLite's ``PRAGMA`` left out on PostgreSQL.

The capture is the plugin's usual one (``capture.events.StatementCapture``), with two
differences that come from watching engines the plugin did not build:

* the dialects' own catalog queries (``has_table`` behind ``create_all``:
  ``PRAGMA table_info`` on SQLite, ``pg_catalog`` on PostgreSQL) are not the
  application's statements and differ by nature: they are not recorded;
* on PostgreSQL, ``PRAGMA ...`` sent by the application (typically a
  ``connect`` listener switching on ``foreign_keys``) is skipped by the driver
  cursor instead of failing with a syntax error. The cursor class is passed as
  ``cursor_factory`` when the engine is created, so it is in place before any
  listener, also a class-level ``@event.listens_for(Engine, "connect")``, runs.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from dualdb.capture.cursors import RecordingPsycopgAsyncCursor, RecordingPsycopgCursor
from dualdb.capture.events import AsyncStatementCapture, StatementCapture

_CATALOG = re.compile(r"\b(pg_catalog|information_schema|sqlite_master|sqlite_schema|sqlite_temp_master)\b", re.I)
_PRAGMA = re.compile(r"^\s*PRAGMA\b", re.I)
SKIPPED: dict[str, None] = {}  # PRAGMA statements skipped in this process, in order (the notes)


def _is_pragma(query: Any) -> bool:
    if isinstance(query, bytes):
        query = query.decode(errors="replace")
    if isinstance(query, str) and _PRAGMA.match(query):
        SKIPPED.setdefault(" ".join(query.split())[:120], None)
        return True
    return False


class PragmaSkippingCursor(RecordingPsycopgCursor):
    """psycopg's cursor for redirected engines: records rows, ignores SQLite's ``PRAGMA``."""

    def execute(self, query, params=None, **kw):  # noqa: ANN001, ANN201
        if _is_pragma(query):
            return self
        return super().execute(query, params, **kw)

    def executemany(self, query, params_seq, **kw):  # noqa: ANN001, ANN201
        if _is_pragma(query):
            return None
        return super().executemany(query, params_seq, **kw)


class PragmaSkippingAsyncCursor(RecordingPsycopgAsyncCursor):
    """The async twin of ``PragmaSkippingCursor``."""

    async def execute(self, query, params=None, **kw):  # noqa: ANN001, ANN201
        if _is_pragma(query):
            return self
        return await super().execute(query, params, **kw)

    async def executemany(self, query, params_seq, **kw):  # noqa: ANN001, ANN201
        if _is_pragma(query):
            return None
        return await super().executemany(query, params_seq, **kw)


class WriteTracker:
    """Whether the suite rolled back rows it had inserted on PostgreSQL (its own isolation).

    PostgreSQL sequences ignore ROLLBACK: after a rolled-back test, the next
    test's new rows get higher ids than on SQLite. A leg that inserts after
    that carries a harness note, which the explanation catalog turns into
    "this comes from the suite's isolation" instead of an application bug.
    """

    def __init__(self) -> None:
        self.pending = False  # an INSERT since the last COMMIT
        self.rolled_back = False  # some earlier transaction rolled inserted rows back

    def saw(self, statement: str, leg: Any) -> None:
        """An INSERT on PostgreSQL; after an earlier rolled-back one, the leg says ids may differ."""
        if statement[:12].lstrip()[:6].upper() == "INSERT":
            if self.rolled_back and not self.pending:
                leg.note_harness(ROLLED_BACK_SEQUENCES_NOTE)
            self.pending = True

    def commit(self, *_: Any) -> None:
        self.pending = False

    def rollback(self, *_: Any) -> None:
        if self.pending:
            self.rolled_back = True
        self.pending = False


ROLLED_BACK_SEQUENCES_NOTE = (
    "redirect: an earlier test inserted rows and the suite rolled them back (its own transaction-per-test "
    "isolation); PostgreSQL sequences ignore ROLLBACK, so new rows here get higher ids than on SQLite"
)


class _RedirectMixin:
    """What both capture classes do differently on a suite's engine."""

    cursor_class: type = RecordingPsycopgCursor
    tracker: WriteTracker | None = None

    def _watch(self, engine: Any, tracker: WriteTracker | None) -> None:
        from sqlalchemy import event

        self.tracker = tracker
        if tracker is not None:
            for name, fn in (("commit", tracker.commit), ("rollback", tracker.rollback),
                             ("rollback_savepoint", tracker.rollback)):
                event.listen(engine, name, fn)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.leg is None or _CATALOG.search(statement) or _PRAGMA.match(statement):
            return
        if self.tracker is not None:
            self.tracker.saw(statement, self.leg)
        super()._before(conn, cursor, statement, parameters, context, executemany)


class RedirectCapture(_RedirectMixin, StatementCapture):
    def __init__(self, engine: Any, tracker: WriteTracker | None = None):
        super().__init__(engine)
        self._watch(engine, tracker)

    def _on_connect(self, dbapi_conn, _record) -> None:  # noqa: ANN001
        if isinstance(dbapi_conn, psycopg.Connection) and not issubclass(dbapi_conn.cursor_factory, RecordingPsycopgCursor):
            dbapi_conn.cursor_factory = RecordingPsycopgCursor


class RedirectAsyncCapture(_RedirectMixin, AsyncStatementCapture):
    def __init__(self, engine: Any, tracker: WriteTracker | None = None):
        super().__init__(engine)
        self._watch(engine, tracker)

    def _on_connect(self, dbapi_conn, _record) -> None:  # noqa: ANN001
        driver = getattr(dbapi_conn, "driver_connection", None)
        if isinstance(driver, psycopg.AsyncConnection) and not issubclass(
            driver.cursor_factory, RecordingPsycopgAsyncCursor
        ):
            driver.cursor_factory = RecordingPsycopgAsyncCursor


def capture_for(engine: Any, tracker: WriteTracker | None = None) -> StatementCapture:
    """The capture for one of the suite's engines (sync, or an async engine's ``sync_engine``)."""
    if getattr(engine.dialect, "is_async", False):
        return RedirectAsyncCapture(engine, tracker)
    return RedirectCapture(engine, tracker)
