"""Driver cursors that record rows as the application fetches them.

The plugin never fetches a result itself: a cursor subclass on each driver
hands the rows it returns to the statement record the capture attached to it
(``cursor._dualdb_record``), so capture consumes nothing the code under test
still has to read, and records only what the code saw. SQLite gets them
through ``sqlite3.connect(factory=RecordingSqliteConnection)`` (set when the
engine is created), psycopg through the connection's ``cursor_factory``.
"""

from __future__ import annotations

import sqlite3

import psycopg

from dualdb.capture.recorder import StatementRecord


class RecordingCursor:
    """What every recording cursor shares: the record its rows go to."""

    _dualdb_record: StatementRecord | None = None

    def _dualdb_rows(self, rows: list) -> list:
        record = self._dualdb_record
        if record is not None:
            record.take(rows, self)
        return rows


class RecordingSqliteCursor(RecordingCursor, sqlite3.Cursor):
    def fetchone(self):
        row = super().fetchone()
        if self._dualdb_record is not None:  # no row is a result too (``.scalar()`` found nothing)
            self._dualdb_record.take([row] if row is not None else [], self)
        return row

    def fetchmany(self, size: int | None = None):
        rows = super().fetchmany(self.arraysize if size is None else size)
        return self._dualdb_rows(rows)

    def fetchall(self):
        return self._dualdb_rows(super().fetchall())

    def __next__(self):
        row = super().__next__()
        if self._dualdb_record is not None:
            self._dualdb_record.take([row], self)
        return row


class RecordingSqliteConnection(sqlite3.Connection):
    """``sqlite3.connect(factory=...)``: every cursor records what it hands out."""

    def cursor(self, factory=RecordingSqliteCursor):  # noqa: ANN001
        return super().cursor(factory)


class RecordingPsycopgCursor(RecordingCursor, psycopg.Cursor):
    def fetchone(self):
        row = super().fetchone()
        if self._dualdb_record is not None:
            self._dualdb_record.take([row] if row is not None else [], self)
        return row

    def fetchmany(self, size: int = 0):
        return self._dualdb_rows(super().fetchmany(size))

    def fetchall(self):
        return self._dualdb_rows(super().fetchall())

    def __iter__(self):
        for row in super().__iter__():
            if self._dualdb_record is not None:
                self._dualdb_record.take([row], self)
            yield row


class RecordingPsycopgAsyncCursor(RecordingCursor, psycopg.AsyncCursor):
    """psycopg's async cursor, recording the rows it hands to SQLAlchemy's adapter."""

    async def fetchone(self):
        row = await super().fetchone()
        self._dualdb_rows([row] if row is not None else [])
        return row

    async def fetchmany(self, size: int = 0):
        return self._dualdb_rows(await super().fetchmany(size))

    async def fetchall(self):
        return self._dualdb_rows(await super().fetchall())
