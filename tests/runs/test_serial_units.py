"""A serial dual run in units: each unit's SQLite legs, then its PostgreSQL legs (run.pairing.serial_order)."""

from __future__ import annotations

import re

from support.models import MODELS


def test_units_run_each_engine_in_turn_and_compare_every_pair(inner, monkeypatch):
    monkeypatch.setattr("dualdb.run.pairing.SERIAL_TESTS_PER_UNIT", 2)
    inner.project(
        MODELS,
        conftest="""
        import pytest

        SETUPS = []

        @pytest.fixture(scope="session")
        def app(db_engine):  # a user's session fixture on the backend: set up once per unit and engine
            SETUPS.append(db_engine.dialect.name)
            return db_engine

        def pytest_sessionfinish(session):
            session.config._app_setups = list(SETUPS)
            print("app setups:", ",".join(SETUPS))
        """,
        test_a="""
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_x(app, db_session, n):
            pass

        def test_plain():
            pass
        """,
        test_b="""
        def test_y(app, db_session):
            pass
        """,
    )
    result = inner.run("--dual-db", "-v", "-s")
    result.assert_outcomes(passed=9)
    ran = re.findall(r"^(test_\w\.py::\S+) PASSED", result.stdout.str(), re.M)
    assert ran == [
        "test_a.py::test_x[0-sqlite]", "test_a.py::test_x[1-sqlite]",
        "test_a.py::test_x[0-postgresql]", "test_a.py::test_x[1-postgresql]",
        "test_a.py::test_x[2-sqlite]", "test_b.py::test_y[sqlite]",
        "test_a.py::test_x[2-postgresql]", "test_b.py::test_y[postgresql]",
        "test_a.py::test_plain",  # after the PostgreSQL legs, where pytest's own order has it
    ]
    assert "app setups: sqlite,postgresql,sqlite,postgresql" in result.stdout.str()
    assert inner.verdicts() == {name: ("same", None) for name in ("test_x[0]", "test_x[1]", "test_x[2]", "test_y")}
