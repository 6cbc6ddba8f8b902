"""Paired mode (``dual``) through pytest: the fixture, the Hypothesis health check and the report
entry, in two inner pytest runs (the logic itself is tested on real engines in tests/engines/test_paired.py)."""

from __future__ import annotations

from dualdb.dual.results import HYPOTHESIS_EXAMPLE_NOTES

DUAL_TESTS = '''
import pytest
from hypothesis import Phase, given, settings, strategies as st
from sqlalchemy import select, text
from dualdb.hypothesis import text_values
from models import User

FAST = settings(database=None, deadline=None, phases=[Phase.explicit, Phase.generate, Phase.shrink])


def names_in_order(session, names):
    session.add_all(User(name=n) for n in names)
    session.flush()
    return session.scalars(select(User.name).order_by(User.name)).all()


@FAST
@given(names=st.lists(text_values(max_size=5), max_size=5))
def test_ordering(dual, names):
    dual.assert_same(names_in_order, names)


def divide(session, x):
    return session.execute(text("SELECT 1 / :x"), {"x": x}).scalar()


@FAST
@given(x=st.integers(-5, 5))
def test_division(dual, x):
    dual.assert_same(divide, x)


def add_and_count(session, n):
    session.add_all(User(name=str(i)) for i in range(n))
    session.commit()
    return session.scalars(select(User.id).order_by(User.id)).all()


@FAST
@given(n=st.integers(0, 3))
def test_counting(dual, n):
    assert dual.assert_same(add_and_count, n).postgresql == list(range(1, n + 1))


def test_after_the_others_nothing_is_left(dual):
    assert dual.assert_same(add_and_count, 0).sqlite == []


@FAST
@given(x=st.integers())
def test_another_function_scoped_fixture_keeps_the_health_check(dual, tmp_path, x):
    pass
'''


def test_dual_fixture_works_without_dual_db(inner, models_source, linguistic):
    inner.project(models_source, test_d=DUAL_TESTS)
    result = inner.run("-q")
    # test_ordering diverges only where PostgreSQL sorts text linguistically (not on the pip wheel)
    result.assert_outcomes(passed=2, failed=3) if linguistic else result.assert_outcomes(passed=3, failed=2)
    out = result.stdout.str()
    assert ("test_ordering - dualdb.errors.DivergenceError" in out) == linguistic
    assert "FailedHealthCheck" in out and "uses a function-scoped fixture" in out
    assert not (inner.pytester.path / "reports" / "dualdb.json").exists()


def test_dual_test_is_one_report_entry_with_the_minimal_example(inner, models_source, linguistic):
    inner.project(models_source, test_d=DUAL_TESTS)
    result = inner.run("--dual-db", "-v")
    result.assert_outcomes(passed=2, failed=3) if linguistic else result.assert_outcomes(passed=3, failed=2)
    assert "[sqlite]" not in result.stdout.str()
    report = inner.report()
    entries = {t["nodeid"].split("::")[-1]: t for t in report["tests"]}
    assert set(entries) >= {"test_ordering", "test_division", "test_counting", "test_after_the_others_nothing_is_left"}
    check_division_and_counting(entries)
    ordering = entries["test_ordering"]
    if not linguistic:  # bytewise text on both engines: nothing to find
        assert (ordering["verdict"], ordering["first_difference"]) == ("same", None)
        return
    assert (ordering["verdict"], ordering["kind"]) == ("diverged", "value")
    first = ordering["first_difference"]
    assert first["source"] == "hypothesis"
    shrunk = first["example"]["args"][0]
    assert len(shrunk) == 2 and all(len(s) <= 1 for s in shrunk)
    assert first["values"]["sqlite"] != first["values"]["postgresql"]
    assert sorted(first["values"]["sqlite"]) == sorted(first["values"]["postgresql"])
    assert first["example"]["hypothesis"].startswith(HYPOTHESIS_EXAMPLE_NOTES)
    assert "ORDER BY" in first["sql"]["postgresql"]
    assert ordering["category"] is not None  # went through the explanation rules
    for name in ("sqlite", "postgresql"):
        leg = ordering["legs"][name]
        assert leg["outcome"] == "passed" and leg["observations"][0]["value"] == first["values"][name]
        assert any("ORDER BY" in s["sql"] for s in leg["statements"])


def check_division_and_counting(entries: dict) -> None:
    division = entries["test_division"]
    assert (division["verdict"], division["kind"]) == ("diverged", "outcome")
    assert division["first_difference"]["example"]["args"] == [0]
    assert division["legs"]["sqlite"]["outcome"] == "passed"
    assert division["legs"]["postgresql"]["outcome"] == "failed"

    assert entries["test_counting"]["verdict"] == "same"
    assert entries["test_after_the_others_nothing_is_left"]["verdict"] == "same"
