"""Paired mode (``dual``): isolation per example, finding and shrinking, one-sided errors, the report.

The logic (``dualdb.dual.runner.Paired``) is tested directly on real SQLite and
PostgreSQL engines; the fixture, the Hypothesis health check and the report
entry through two inner pytest runs in tests/runs/test_paired_runs.py.
"""

from __future__ import annotations

from typing import Optional

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from sqlalchemy import ForeignKey, String, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dualdb.engines.provision import Provisioner
from dualdb.config import Settings
from dualdb.contrib.strategies import rows, text_values
from dualdb.dual.display import side_by_side
from dualdb.dual.results import HYPOTHESIS_EXAMPLE_NOTES, Raised
from dualdb.errors import DivergenceError
from dualdb.dual.runner import Paired

QUICK = settings(
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


# This file's own models, not tests/support/models.py: Note's nullable tag and Reply's unset foreign
# key are what the isolation and rows() tests below need.
class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "paired_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(20))
    tag: Mapped[Optional[str]] = mapped_column(String(10))


class Reply(Base):
    __tablename__ = "paired_replies"
    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("paired_notes.id"))


@pytest.fixture(scope="module")
def backends(pg_url):  # noqa: ANN001
    provisioner = Provisioner(Settings(pg_url=pg_url), lambda: [Base.metadata], worker="paired")
    try:
        yield {name: provisioner.get(name) for name in ("sqlite", "postgresql")}
    finally:
        provisioner.close()


@pytest.fixture
def dual(backends):  # noqa: ANN001
    paired = Paired(backends)
    yield paired
    paired.close()


def add_notes(session, bodies, commit=True):  # noqa: ANN001
    session.add_all(Note(body=b) for b in bodies)
    if commit:
        session.commit()
    else:
        session.flush()


def note_rows(session):  # noqa: ANN001
    return session.execute(select(Note.id, Note.body).order_by(Note.id)).all()


def bodies_in_order(session, bodies):  # noqa: ANN001
    add_notes(session, bodies, commit=False)
    return session.scalars(select(Note.body).order_by(Note.body)).all()


# -- isolation ---------------------------------------------------------------------------


def test_examples_are_isolated_rows_and_ids(dual):
    """Every example starts empty on both engines, with ids from 1 (sequences put back)."""

    @settings(QUICK, max_examples=60)
    @given(bodies=st.lists(st.sampled_from(["a", "b", "c"]), max_size=4), discarded=st.integers(0, 2))
    def prop(bodies, discarded):
        dual.run(add_notes, ["tmp"] * discarded, False)  # uncommitted: gone when the call ends
        dual.run(add_notes, bodies)  # committed: stays for the rest of the example
        result = dual.assert_same(note_rows)
        expected = [(i + 1, b) for i, b in enumerate(bodies)]
        assert [tuple(r) for r in result.sqlite] == expected
        assert [tuple(r) for r in result.postgresql] == expected

    prop()
    assert dual.examples >= 30


def test_nothing_leaks_between_tests(backends):
    first = Paired(backends)
    first.run(add_notes, ["kept?"])
    assert first.run(note_rows).same
    first.close()
    second = Paired(backends)
    try:
        result = second.assert_same(note_rows)
        assert result.sqlite == [] and result.postgresql == []
    finally:
        second.close()
    for backend in backends.values():
        with backend.engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Note)) == 0


def test_explicit_example_block_isolates_outside_hypothesis(dual):
    for bodies in (["x", "y"], ["z"]):
        with dual.example():
            dual.run(add_notes, bodies)
            assert [r.body for r in dual.run(note_rows).postgresql] == bodies
    assert dual.run(note_rows).sqlite == []


# -- finding and shrinking -------------------------------------------------------------------


def test_known_divergence_is_found_and_shrunk(dual, needs_linguistic):
    """Text ordering (bytewise vs ICU) shrinks to two strings of at most one character."""

    @settings(QUICK, derandomize=True)
    @given(bodies=st.lists(text_values(max_size=8), max_size=6))
    def prop(bodies):
        dual.assert_same(bodies_in_order, bodies)

    with pytest.raises(DivergenceError) as info:
        prop()
    error = info.value
    (shrunk,) = error.result.args
    assert len(shrunk) == 2 and all(len(s) <= 1 for s in shrunk), shrunk
    assert error.kind == "value"
    assert sorted(error.result.sqlite) == sorted(error.result.postgresql)
    assert error.result.normalized["sqlite"] != error.result.normalized["postgresql"]
    message = str(error)
    assert "sqlite" in message and "postgresql" in message and "!" in message
    assert any(str(n).startswith(HYPOTHESIS_EXAMPLE_NOTES) for n in getattr(error, "__notes__", []))


def test_stuck_shrinks_are_simplified_further(dual, needs_linguistic):
    """Two changes at once (drop an 'a', plain 'A' for 'Å') reach what Hypothesis alone can miss."""
    result = dual.run(bodies_in_order, ["aa", "Å"])
    assert result.difference() == "value"
    simpler = dual._simplify(bodies_in_order, result, "value", ordered=True)
    (bodies,) = simpler.args
    assert len(bodies) == 2 and all(len(b) <= 1 for b in bodies), bodies
    assert simpler.difference() == "value"
    assert dual.run(note_rows).sqlite == []  # the trial calls left nothing behind


def test_known_equal_property_passes_200_examples(dual):
    """Exact equality on text is portable: 200 examples of fault-line text find nothing."""

    def lookup(session, bodies, term):  # noqa: ANN001
        add_notes(session, bodies, commit=False)
        return session.scalars(select(Note.id).where(Note.body == term).order_by(Note.id)).all()

    @settings(QUICK, max_examples=200)
    @given(bodies=st.lists(text_values(max_size=8), max_size=4), term=text_values(max_size=8))
    def prop(bodies, term):
        dual.assert_same(lookup, bodies, bodies[0] if bodies else term)
        dual.assert_same(lookup, bodies, term)

    prop()
    assert dual.examples >= 200


def test_unordered_comparison_treats_results_as_multisets(dual, needs_linguistic):
    def unordered(session):  # noqa: ANN001
        add_notes(session, ["b", "B", "a"], commit=False)
        return session.scalars(select(Note.body).order_by(Note.body)).all()

    with pytest.raises(DivergenceError, match="ordered=False"):
        dual.assert_same(unordered)
    dual.assert_same(unordered, ordered=False)


# -- exceptions ------------------------------------------------------------------------------


def divide(session, x):  # noqa: ANN001
    return session.execute(text("SELECT 1 / :x"), {"x": x}).scalar()


def test_one_sided_exception_is_a_difference_not_a_crash(dual):
    result = dual.run(divide, 0)  # SQLite: NULL; PostgreSQL: division by zero
    assert result.sqlite is None
    assert isinstance(result.postgresql, Raised) and result.postgresql.database
    assert result.difference() == "outcome"
    with pytest.raises(DivergenceError) as info:
        dual.assert_same(divide, 0)
    assert info.value.kind == "outcome"
    assert "raised" in str(info.value)
    # PostgreSQL's aborted transaction was rolled back with the call: the pair still works
    assert dual.assert_same(divide, 2).sqlite == 0


def test_one_sided_exception_inside_hypothesis_is_found_and_shrunk(dual):
    @QUICK
    @given(x=st.integers(-1000, 1000))
    def prop(x):
        dual.assert_same(divide, x)

    with pytest.raises(DivergenceError) as info:
        prop()
    assert info.value.result.args == (0,)
    assert info.value.kind == "outcome"


def test_same_database_error_on_both_is_agreement_and_same_python_error_is_reraised(dual):
    def duplicate_pk(session):  # noqa: ANN001
        session.add_all([Note(id=1, body="a"), Note(id=1, body="b")])
        session.flush()

    result = dual.assert_same(duplicate_pk)
    assert isinstance(result.sqlite, Raised) and result.sqlite == result.postgresql
    assert result.sqlite.type == "IntegrityError"

    def broken(session):  # noqa: ANN001
        return {}["missing"]

    with pytest.raises(KeyError):
        dual.assert_same(broken)


def test_different_errors_are_an_error_divergence(dual):
    def fail_differently(session):  # noqa: ANN001
        if session.bind.dialect.name == "sqlite":
            raise KeyError("sqlite")
        raise ValueError("postgresql")

    with pytest.raises(DivergenceError) as info:
        dual.assert_same(fail_differently)
    assert info.value.kind == "error"


# -- arguments and rendering -------------------------------------------------------------------


def test_generated_instances_are_copied_per_engine(dual):
    @settings(QUICK, max_examples=20)
    @given(note=rows(Note))
    def prop(note):
        def insert(session, obj):  # noqa: ANN001
            session.add(obj)
            session.commit()
            return session.scalars(select(Note)).all()

        result = dual.assert_same(insert, note)
        assert result.normalized["sqlite"][0]["body"] == note.body

    prop()


def test_rows_refuse_an_unset_foreign_key():
    with pytest.raises(TypeError, match="note_id"):
        rows(Reply)
    assert find(rows(Reply, note_id=1), lambda reply: True).note_id == 1


def test_side_by_side_marks_differences_and_shows_invisible_characters():
    rendered = side_by_side(["a", "e\u0301 "], ["a", "é "])
    lines = rendered.splitlines()
    assert lines[0].split() == ["sqlite", "|", "postgresql"]
    marked = [line for line in lines if line.lstrip().startswith("!")]
    assert len(marked) == 1 and "\\u0301" in marked[0] and '"é "' in marked[0]
