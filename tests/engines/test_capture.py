"""Statement capture on real SQLite and PostgreSQL engines: what is recorded, and its bounds."""

from __future__ import annotations

import sys

import datetime as dt
import json

import pytest
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, desc, func, insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from dualdb.engines import postgres, sequences
from dualdb.engines import sqlite as sqlite_backend
from dualdb.capture.events import StatementCapture
from dualdb.capture.recorder import LegRecorder
from dualdb.harness_notes import FROZEN_NOW_NOTE
from dualdb.sql import has_top_level_order_by, is_harness_sql, statement_shape


def statement_dicts(leg: LegRecorder) -> list[dict]:
    """The leg's statements in the report's JSON shape."""
    return [s.to_dict() for s in leg.statement_records()]


# This file's own model, not tests/support/models.py: one table with every column kind the capture
# tests record (unique name, JSON, a naive and a server-stamped DateTime).
class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "cap_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    flag: Mapped[bool] = mapped_column(Boolean, default=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    stamped: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    qty: Mapped[int] = mapped_column(Integer, default=0)


@pytest.fixture(scope="module")
def engines(tmp_path_factory, pg_url):  # noqa: ANN001
    """The two engines as the plugin builds them, each with its ``StatementCapture``."""
    sqlite_engine = sqlite_backend.make_engine(tmp_path_factory.mktemp("capture") / "cap.db")
    admin = postgres.admin_engine(postgres.parse_url(pg_url))
    name = postgres.new_database_name()
    postgres.create_database(admin, name, "C")
    pg_engine = postgres.make_engine(postgres.parse_url(pg_url).set(database=name))
    out = {}
    for backend, engine in (("sqlite", sqlite_engine), ("postgresql", pg_engine)):
        Base.metadata.create_all(engine)
        out[backend] = (engine, StatementCapture(engine))
    yield out
    sqlite_engine.dispose()
    pg_engine.dispose()
    postgres.drop_database(admin, name)
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def run(request, engines):  # noqa: ANN001
    """``run(fn, **limits)``: call ``fn(session)`` in a rolled-back transaction, captured; returns the leg."""
    backend = request.param
    engine, capture = engines[backend]

    def go(fn, **limits):
        leg = LegRecorder(backend, **limits)
        capture.start(leg)
        conn = engine.connect()
        if backend == "postgresql":
            sequences.reset(conn)
            conn.commit()
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            fn(session)
        finally:
            session.close()
            outer.rollback()
            conn.close()
            leg.finish()
            capture.stop()
        return leg

    go.backend = backend
    return go


def sql_of(leg):
    return [s["sql"] for s in statement_dicts(leg)]


def test_rows_are_recorded_as_the_application_fetches_them(run):
    got = {}

    def fn(session):
        session.add_all([Item(name=f"item {i}") for i in range(5)])
        session.flush()
        result = session.execute(select(Item.name).order_by(Item.name))
        got["first"] = result.fetchone()
        got["rest"] = result.fetchall()

    leg = run(fn)
    assert got["first"] == ("item 0",) and len(got["rest"]) == 4  # nothing consumed behind the app's back
    selects = [s for s in statement_dicts(leg) if s["sql"].startswith("SELECT")]
    assert selects[0]["rows"] == [[f"item {i}"] for i in range(5)]
    assert selects[0]["order_keys"] == [0] and selects[0]["columns"] == ["name"]


def test_harness_and_transaction_sql_is_not_captured(run):
    def fn(session):
        session.connection().exec_driver_sql("/* dualdb */ SELECT 1").all()
        with session.begin_nested():
            session.add(Item(name="x"))
        session.commit()

    statements = sql_of(run(fn))
    assert not any(is_harness_sql(sql) for sql in statements)
    assert len(statements) == 1 and statements[0].startswith("INSERT")


def test_values_are_what_the_application_received(run):
    def fn(session):
        session.add(Item(name="x", flag=False, data={"b": [1, 2], "a": None}, at=dt.datetime(2024, 3, 1, 9, 30)))
        session.flush()
        session.execute(select(Item.flag, Item.data, Item.at, Item.stamped)).all()

    leg = run(fn)
    rows = [s for s in statement_dicts(leg) if s["sql"].startswith("SELECT")][0]["rows"]
    # SQLite's raw 0 / JSON text / datetime text went through SQLAlchemy's result processors;
    # the clock value keeps its awareness (its fraction is compared where the test observes it)
    assert rows == [[False, {"a": None, "b": [1, 2]}, {"$dt": "2024-03-01T09:30:00"},
                     {"$masked": "clock", "aware": False}]]


def test_parameters_are_the_applications_values_on_both_engines(run):
    def fn(session):
        session.execute(select(Item.id).where(Item.name == "x", Item.at > dt.datetime(2024, 1, 1), Item.flag.is_(True)))

    stmt = statement_dicts(run(fn))[0]
    assert stmt["params"] == [{"$dt": "2024-01-01T00:00:00"}, "x"]  # the same on both engines


def test_errors_are_recorded_with_the_engines_code(run):
    def fn(session):
        session.add(Item(name="dup"))
        session.flush()
        with pytest.raises(IntegrityError):
            with session.begin_nested():
                session.add(Item(name="dup"))
        with pytest.raises(StatementError):  # fails in a bind processor on SQLite only
            session.execute(insert(Item).values(name="y", at="2024-03-01 10:00"))
            raise StatementError("postgresql accepted the string", None, None, None)

    leg = run(fn)
    errors = [s["error"] for s in statement_dicts(leg) if s["error"]]
    if run.backend == "sqlite" and sys.version_info < (3, 11):
        assert "code" not in errors[0]  # sqlite3 exposes error names from Python 3.11 on
    else:
        expected = "SQLITE_CONSTRAINT_UNIQUE" if run.backend == "sqlite" else "23505"
        assert errors[0]["code"] == expected
    if run.backend == "sqlite":
        assert errors[1]["type"] == "TypeError" and "SQLite DateTime type" in errors[1]["message"]


def test_sqlite_inserts_keep_lastrowid_postgresql_returns_ids(run):
    def fn(session):
        session.add(Item(name="a"))
        session.flush()

    stmt = statement_dicts(run(fn))[0]
    assert stmt["rows"][0][0] == 1  # RETURNING the id and the server default, on both engines

    def no_server_default(session):
        session.execute(insert(Item).values(name="b", stamped=dt.datetime(2024, 1, 1)))

    stmt = statement_dicts(run(no_server_default))[0]
    if run.backend == "sqlite":  # SQLAlchemy reads the new id from the cursor
        assert stmt["rows"] is None and stmt["lastrowid"] == 1 and stmt["rowcount"] == 1
    else:  # ... and uses RETURNING on PostgreSQL
        assert stmt["rows"] == [[1]]


def test_memory_is_bounded_per_leg(run):
    def fn(session):
        session.execute(insert(Item), [{"name": f"n{i:03d}"} for i in range(120)])
        for _ in range(8):
            session.execute(select(Item.id, Item.name)).all()

    leg = run(fn, max_statements=5, max_rows=30, max_cells=100)
    dicts = statement_dicts(leg)
    assert len(dicts) == 5 and leg.dropped_statements == 4
    first, second = dicts[1], dicts[2]
    assert len(first["rows"]) == 30 and first["fetched"] == 120 and first["digested_rows"] == 90
    assert len(second["rows"]) == 20  # the leg's value budget (100 values) ran out
    assert first["set_digest"] == second["set_digest"]  # the same rows, whatever part was kept
    assert all(s["digest"] for s in dicts[1:])
    assert all(r.kept is None for r in leg.statements)  # raw rows freed once rendered


def test_a_fetched_json_document_mutated_later_is_recorded_as_fetched(run):
    def fn(session):
        session.add(Item(name="x", data={"n": 1}))
        session.flush()
        session.expire_all()
        row = session.execute(select(Item.data)).one()
        row[0]["n"] = 99  # the application mutates what it got (psycopg hands out the dict)

    rows = [s for s in statement_dicts(run(fn)) if s["sql"].startswith("SELECT")][0]["rows"]
    assert rows == [[{"n": 1}]]


def test_frozen_clock_is_a_harness_note_on_postgresql(run):
    def fn(session):
        for name in ("a", "b"):
            session.add(Item(name=name))
            session.flush()
        session.execute(select(Item.name).order_by(Item.stamped)).all()

    notes = run(fn).harness_notes
    assert (FROZEN_NOW_NOTE in notes) == (run.backend == "postgresql")


def test_an_order_by_key_named_by_string_is_described_like_the_column(run):
    """``order_by("at")`` sorts on the selected column ``at``: its position and its type and
    nullability (which the NULL-placement explanation reads) are the column's, as for
    ``order_by(Item.at)``. (Two unwrap loops used to disagree here: the positions resolved the
    name, the ORDER BY description stopped at the name and said ``NullType``, not nullable.)"""

    def fn(session):
        session.add_all([Item(name="a"), Item(name="b", at=dt.datetime(2024, 1, 1))])
        session.flush()
        for key in (Item.at, "at", Item.at.desc().nulls_last(), desc("at")):
            session.execute(select(Item.name, Item.at).order_by(key)).all()

    selects = [s for s in statement_dicts(run(fn)) if s["sql"].startswith("SELECT")]
    assert len(selects) == 4
    for statement in selects:
        assert statement["order_keys"] == [1], statement["sql"]
        assert statement["order_by"] == [["DateTime", True]], statement["sql"]


def test_text_queries_without_types_keep_the_drivers_values(run):
    def fn(session):
        session.add(Item(name="x"))
        session.flush()
        session.execute(text("SELECT flag, data FROM cap_items")).all()

    rows = [s for s in statement_dicts(run(fn)) if s["sql"].startswith("SELECT")][0]["rows"]
    if run.backend == "sqlite":
        assert rows == [[1, "{}"]]  # SQLite has no boolean and stores JSON as text: a real difference
    else:
        assert rows == [[True, {}]]
    assert json.dumps(rows)


@pytest.mark.parametrize(
    ("sql", "ordered"),
    [
        ("SELECT a FROM t ORDER BY a", True),
        ("SELECT a FROM (SELECT a FROM t ORDER BY a) AS s", False),
        ("SELECT row_number() OVER (ORDER BY a) FROM t", False),
        ("SELECT 'ORDER BY' FROM t", False),
        ("SELECT a FROM t ORDER BY a LIMIT 1", True),
    ],
)
def test_top_level_order_by(sql, ordered):
    assert has_top_level_order_by(sql) is ordered


def test_statement_shape_ignores_dialect_spelling():
    assert statement_shape('SELECT "users".id FROM "users" JOIN posts ON 1') == "SELECT posts,users"
    assert statement_shape("INSERT INTO users (a) VALUES (%(a)s::VARCHAR) RETURNING users.id") == "INSERT users"
