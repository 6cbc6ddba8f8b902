"""engines.instrument: what each kind of engine gets, on real SQLite engines."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from dualdb.capture.events import AsyncStatementCapture, StatementCapture
from dualdb.capture.recorder import LegRecorder
from dualdb.engines import sqlite as sqlite_backend
from dualdb.engines.instrument import instrument
from dualdb.engines.isolation import TRACKER_KEY, SavepointTracker
from dualdb.engines.provision import Backend
from dualdb.engines.schema import SchemaState


def backend_on(engine):  # noqa: ANN001, ANN201
    """A backend whose schema says table ``gone`` could not be created."""
    return Backend(name="sqlite", engine=engine, url=str(engine.url), version=sqlite_backend.version(),
                   schema=SchemaState(failed={"gone": "near 'x': syntax error"}))


def test_a_main_engine_gets_capture_savepoint_tracking_and_notes(tmp_path):
    engine = sqlite_backend.make_engine(tmp_path / "main.db")
    capture = instrument(engine, backend_on(engine))
    assert type(capture) is StatementCapture
    leg = LegRecorder("sqlite")
    capture.start(leg)
    with engine.connect() as conn:
        conn.info[TRACKER_KEY] = tracker = SavepointTracker()
        conn.begin()
        conn.begin_nested()  # tracked: the tracker sees the savepoint
        assert [frame.name for frame in tracker.frames] == [conn.get_nested_transaction()._savepoint]
        with pytest.raises(OperationalError) as raised:
            conn.execute(text("SELECT * FROM gone"))
    capture.stop()
    assert "dualdb: table 'gone' could not be created on sqlite: near 'x': syntax error" in raised.value.__notes__
    (statement,) = leg.statement_records()
    assert statement.sql == "SELECT * FROM gone" and statement.error.type == "OperationalError"
    engine.dispose()


def test_without_capture_nothing_is_recorded_and_notes_still_come(tmp_path):
    engine = sqlite_backend.make_engine(tmp_path / "plain.db")
    assert instrument(engine, backend_on(engine), capture=False) is None
    with engine.connect() as conn, pytest.raises(OperationalError) as raised:
        conn.execute(text("SELECT * FROM gone"))
    assert any("could not be created on sqlite" in note for note in raised.value.__notes__)
    engine.dispose()


def test_an_engine_without_notes_raises_the_applications_error(tmp_path):
    engine = sqlite_backend.make_engine(tmp_path / "fresh.db", isolated=False)
    capture = instrument(engine, backend_on(engine), savepoints=False, notes=False)
    with engine.connect() as conn, pytest.raises(OperationalError) as raised:
        conn.execute(text("SELECT * FROM gone"))
    assert not getattr(raised.value, "__notes__", None)
    assert isinstance(capture, StatementCapture)
    engine.dispose()


def test_an_async_engine_gets_the_async_capture_on_its_sync_engine(tmp_path):
    pytest.importorskip("aiosqlite")
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'async.db'}")
    capture = instrument(engine, backend_on(engine.sync_engine))
    assert type(capture) is AsyncStatementCapture and capture.engine is engine.sync_engine
    leg = LegRecorder("sqlite")
    capture.start(leg)

    async def go() -> BaseException:
        async with engine.connect() as conn:
            try:
                await conn.execute(text("SELECT * FROM gone"))
            except OperationalError as exc:
                return exc
        raise AssertionError("the query should fail")

    async def run() -> BaseException:
        try:
            return await go()
        finally:
            await engine.dispose()

    error = asyncio.run(run())
    capture.stop()
    assert any("could not be created on sqlite" in note for note in error.__notes__)
    assert [s.sql for s in leg.statement_records()] == ["SELECT * FROM gone"]


def test_a_custom_capture_is_used_as_given(tmp_path):
    engine = sqlite_backend.make_engine(tmp_path / "custom.db")
    made = []

    def factory(e):  # noqa: ANN001, ANN202
        made.append(e)
        return StatementCapture(e)

    capture = instrument(engine, capture=factory, savepoints=False, notes=False)
    assert made == [engine] and capture.engine is engine
    engine.dispose()


def test_notes_need_the_backend(tmp_path):
    engine = sqlite_backend.make_engine(tmp_path / "x.db")
    with pytest.raises(ValueError, match="backend"):
        instrument(engine, capture=False)
    engine.dispose()
