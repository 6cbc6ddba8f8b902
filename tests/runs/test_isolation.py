"""Rollback isolation and several sessions per test, on both real engines."""

from __future__ import annotations

from support.models import MODELS

ROLLBACK_TESTS = '''
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from models import User, Post


@pytest.mark.parametrize("n", range(50))
def test_commits(db_session, n):
    db_session.add_all([User(name=f"u{n}-{i}") for i in range(3)])
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(User)) == 3


@pytest.mark.parametrize("n", range(50))
def test_raises(db_session, n):
    db_session.add(User(name=f"r{n}"))
    db_session.commit()
    db_session.add(User(id=1, name="duplicate"))
    with pytest.raises(IntegrityError):
        db_session.commit()
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize("n", range(50))
def test_nested_savepoints(db_session, n):
    db_session.add(User(name="outer"))
    with db_session.begin_nested():
        db_session.add(User(name="inner"))
        with db_session.begin_nested():
            db_session.add(User(name="innermost"))
    nested = db_session.begin_nested()
    db_session.add(User(name="discarded"))
    nested.rollback()
    db_session.commit()
    assert sorted(db_session.scalars(select(User.name))) == ["inner", "innermost", "outer"]


@pytest.mark.parametrize("n", range(49))
def test_connection_level(db_connection, n):
    db_connection.execute(text("INSERT INTO users (name, active) VALUES ('c', true)"))
    assert db_connection.execute(text("SELECT count(*) FROM users")).scalar() == 1


def test_zz_nothing_survived(db_connection):
    assert db_connection.execute(text("SELECT count(*) FROM users")).scalar() == 0
    assert db_connection.execute(text("SELECT count(*) FROM posts")).scalar() == 0
'''


def test_two_hundred_tests_leave_zero_rows_on_either_engine(inner):
    inner.project(MODELS, test_rollback=ROLLBACK_TESTS)
    result = inner.run("--dual-db", "-p", "no:randomly")
    result.assert_outcomes(passed=400)
    assert {verdict for verdict, _ in inner.verdicts().values()} == {"same"}


SESSIONS_TESTS = '''
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from models import User


def names(session):
    return sorted(session.scalars(select(User.name)))


def test_a_reads_b_commits_a_closes(dualdb_sessionmaker, observe):
    a = dualdb_sessionmaker()
    assert names(a) == []
    b = dualdb_sessionmaker()
    b.add(User(name="from-b"))
    b.commit()
    a.close()
    c = dualdb_sessionmaker()
    observe("after", names(c))
    assert names(c) == ["from-b"]


def test_a_writes_b_commits_a_rolls_back(dualdb_sessionmaker, observe):
    a = dualdb_sessionmaker()
    a.add(User(name="from-a"))
    a.flush()
    b = dualdb_sessionmaker()
    b.add(User(name="from-b"))
    b.commit()
    a.rollback()
    survivors = names(dualdb_sessionmaker())
    observe("after", survivors)
    assert "from-b" in survivors  # a commit survives another session's rollback


def test_rollback_undoes_only_own_work(dualdb_sessionmaker):
    b = dualdb_sessionmaker()
    b.add(User(name="committed"))
    b.commit()
    a = dualdb_sessionmaker()
    a.add(User(name="uncommitted"))
    a.flush()
    a.rollback()
    assert names(dualdb_sessionmaker()) == ["committed"]


def test_commit_visible_to_other_open_session(dualdb_sessionmaker):
    a = dualdb_sessionmaker()
    assert names(a) == []
    b = dualdb_sessionmaker()
    b.add(User(name="x"))
    b.commit()
    assert names(a) == ["x"]


def test_three_levels_of_nesting(dualdb_sessionmaker):
    a = dualdb_sessionmaker()
    names(a)
    b = dualdb_sessionmaker()
    names(b)
    c = dualdb_sessionmaker()
    c.add(User(name="from-c"))
    c.commit()
    b.add(User(name="from-b"))
    b.commit()
    a.close()
    b.close()
    c.close()
    assert names(dualdb_sessionmaker()) == ["from-b", "from-c"]


def test_session_that_raises_mid_flush(dualdb_sessionmaker):
    good = dualdb_sessionmaker()
    good.add(User(name="first"))
    good.commit()
    bad = dualdb_sessionmaker()
    bad.scalars(select(User)).one().name = None  # NOT NULL on both engines (an UPDATE: no sequence used)
    with pytest.raises(IntegrityError):
        bad.commit()
    bad.rollback()
    bad.add(User(name="after-error"))
    bad.commit()
    assert names(dualdb_sessionmaker()) == ["after-error", "first"]


def test_everything_undone_at_end(dualdb_sessionmaker):
    assert names(dualdb_sessionmaker()) == []
'''


def test_several_sessions_per_test(inner):
    inner.project(MODELS, test_sessions=SESSIONS_TESTS)
    result = inner.run("--dual-db", "-p", "no:randomly")
    result.assert_outcomes(passed=14)
    verdicts = inner.verdicts()
    assert {v for v, _ in verdicts.values()} == {"same"}, verdicts
    entry = inner.entry("test_a_writes_b_commits_a_rolls_back")
    assert any("kept both" in note for note in entry["harness_notes"])
    assert entry["legs"]["sqlite"]["observations"] == [{"label": "after", "value": ["from-a", "from-b"]}]
    assert inner.entry("test_rollback_undoes_only_own_work")["harness_notes"] == []
