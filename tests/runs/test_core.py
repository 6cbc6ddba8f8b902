"""Core plugin behaviour, through real inner pytest runs on SQLite and PostgreSQL."""

from __future__ import annotations

from support.databases import database_names
from support.models import MODELS


def test_database_tests_run_once_per_backend_and_others_once(inner):
    inner.project(
        MODELS,
        test_x="""
        import pytest

        def test_plain():
            pass

        def test_db(db_session):
            pass

        @pytest.mark.parametrize("n", [1, 2])
        def test_param(db_connection, n):
            pass

        @pytest.fixture
        def user_fixture(db_session):
            return db_session

        def test_indirect(user_fixture):
            pass
        """,
    )
    result = inner.run("--dual-db", "-v")
    result.assert_outcomes(passed=9)
    out = result.stdout.str()
    for nodeid in (
        "test_x.py::test_plain PASSED",
        "test_x.py::test_db[sqlite] PASSED",
        "test_x.py::test_db[postgresql] PASSED",
        "test_x.py::test_param[1-sqlite] PASSED",
        "test_x.py::test_param[2-postgresql] PASSED",
        "test_x.py::test_indirect[postgresql] PASSED",
    ):
        assert nodeid in out
    assert "test_plain[" not in out
    verdicts = inner.verdicts()
    assert set(verdicts) == {"test_db", "test_param[1]", "test_param[2]", "test_indirect"}


def test_without_dual_db_tests_run_once_on_default_backend(inner):
    inner.project(
        MODELS,
        test_x="""
        def test_db(dualdb_backend, db_session):
            assert dualdb_backend.name == "sqlite"
        """,
    )
    result = inner.run("-v")
    result.assert_outcomes(passed=1)
    assert "test_db PASSED" in result.stdout.str()


def test_dualdb_backend_ini_selects_postgresql(inner):
    inner.project(
        MODELS,
        ini="dualdb_backend = postgresql",
        test_x="""
        def test_db(dualdb_backend, db_session):
            assert dualdb_backend.name == "postgresql"
            assert db_session.bind.dialect.name == "postgresql"
        """,
    )
    inner.run().assert_outcomes(passed=1)


def test_verdict_kinds(inner):
    inner.project(
        MODELS,
        test_v="""
        import pytest
        from sqlalchemy import select, text
        from models import User

        def test_same(db_session, observe):
            db_session.add(User(name="x"))
            db_session.commit()
            observe("count", db_session.query(User).count())

        def test_outcome(db_session):
            db_session.add(User(name="Alice"))
            db_session.commit()
            assert db_session.scalars(select(User).where(User.name.like("alice"))).all()

        def test_error(db_connection, dualdb_backend):
            if dualdb_backend.name == "sqlite":
                raise KeyError("sqlite")
            raise ValueError("postgresql")

        def test_failed_both(db_session):
            assert db_session.query(User).count() == 99

        def test_value(db_session, observe):
            db_session.add_all([User(name="b"), User(name="B"), User(name="a")])
            db_session.commit()
            observe("names", db_session.scalars(select(User.name).where(User.name.like("b%")).order_by(User.name)).all())

        @pytest.mark.dualdb_known(reason="collation differs, accepted", category="collation")
        def test_known(db_session, observe):
            db_session.add_all([User(name="b"), User(name="B")])
            observe("names", db_session.scalars(select(User.name).where(User.name.like("b%")).order_by(User.name)).all())

        def test_skipped(db_session, dualdb_backend):
            pytest.skip("not today")
        """,
    )
    inner.run("--dual-db")
    assert inner.verdicts() == {
        "test_same": ("same", None),
        "test_outcome": ("diverged", "outcome"),
        "test_error": ("diverged", "error"),
        "test_failed_both": ("failed_both", None),
        "test_value": ("diverged", "value"),
        "test_known": ("known", "value"),
        "test_skipped": ("skipped", None),
    }
    report = inner.report()
    assert report["summary"] == {
        "tests": 7, "same": 1, "diverged": 3, "known": 1, "failed_both": 1, "skipped": 1,
    }
    known = inner.entry("test_known")
    assert known["category"] == "collation"
    outcome = inner.entry("test_outcome")
    assert outcome["legs"]["sqlite"]["outcome"] == "passed"
    assert outcome["legs"]["postgresql"]["outcome"] == "failed"
    assert outcome["legs"]["postgresql"]["error"]["type"] == "AssertionError"
    error = inner.entry("test_error")
    assert error["legs"]["sqlite"]["error"] == {"type": "KeyError", "message": "'sqlite'"}
    value = inner.entry("test_value")
    assert value["first_difference"]["source"] == "observation"
    assert value["first_difference"]["values"] == {"sqlite": ["B", "b"], "postgresql": ["b"]}


def test_report_schema_is_complete_for_every_test(inner):
    inner.project(
        MODELS,
        test_s="""
        def test_a(db_session, observe):
            observe("x", 1)

        def test_b(db_connection):
            assert False
        """,
    )
    inner.run("--dual-db")
    report = inner.report()
    assert report["schema"] == "dualdb-report/1"
    assert set(report["backends"]) == {"sqlite", "postgresql"}
    assert {"version", "url"} <= set(report["backends"]["sqlite"])
    assert {"version", "url", "collation"} <= set(report["backends"]["postgresql"])
    assert set(report["summary"]) == {"tests", "same", "diverged", "known", "failed_both", "skipped"}
    for test in report["tests"]:
        assert {"nodeid", "verdict", "kind", "category", "legs", "first_difference", "explanation"} <= set(test)
        assert "[" not in test["nodeid"]
        for leg in test["legs"].values():
            assert {"outcome", "error", "observations", "statements"} <= set(leg)
            assert leg["outcome"] in ("passed", "failed", "error", "skipped")


def test_password_is_masked_in_report(inner, pg_server, pg_admin, monkeypatch):
    with pg_admin.connect() as conn:
        conn.exec_driver_sql("DROP ROLE IF EXISTS dualdb_secret_user")
        conn.exec_driver_sql("CREATE ROLE dualdb_secret_user LOGIN CREATEDB PASSWORD 's3cr3t-pw'")
    url = pg_server.url.replace("postgres@", "dualdb_secret_user:s3cr3t-pw@")
    monkeypatch.setenv("DUALDB_PG_URL", url)
    inner.project(MODELS, test_m="def test_a(db_session):\n    pass\n")
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=2)
    text = (inner.pytester.path / "reports" / "dualdb.json").read_text()
    assert "s3cr3t-pw" not in text
    assert "***" in inner.report()["backends"]["postgresql"]["url"]
    assert "s3cr3t-pw" not in result.stdout.str()


def test_strict_mode_exit_code(inner):
    inner.project(
        MODELS,
        test_s="""
        import pytest
        from sqlalchemy import select
        from models import User

        @pytest.mark.dualdb_known(reason="accepted")
        def test_known(db_session, observe):
            db_session.add_all([User(name="b"), User(name="B")])
            observe("names", db_session.scalars(select(User.name).where(User.name.like("b%")).order_by(User.name)).all())
        """,
    )
    assert inner.run("--dual-db", "--dualdb-strict").ret == 0
    inner.pytester.makepyfile(
        test_t="""
        from sqlalchemy import select
        from models import User

        def test_new(db_session, observe):
            db_session.add_all([User(name="b"), User(name="B")])
            observe("names", db_session.scalars(select(User.name).where(User.name.like("b%")).order_by(User.name)).all())
        """
    )
    result = inner.run("--dual-db", "--dualdb-strict")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*--dualdb-strict: 1 divergence(s) not acknowledged*"])
    assert inner.run("--dual-db").ret == 0  # without strict a value divergence does not fail the run


def test_terminal_summary_lists_every_diverged_test(inner):
    inner.project(
        MODELS,
        test_t="""
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_d(dualdb_backend, n):
            assert dualdb_backend.name == "sqlite"
        """,
    )
    result = inner.run("--dual-db")
    out = result.stdout.str()
    assert "pytest-dualdb: SQLite vs PostgreSQL" in out
    for n in range(4):
        assert f"test_t.py::test_d[{n}]" in out
    result.assert_outcomes(passed=4, failed=4)


def test_throwaway_database_dropped_and_nothing_else_touched(inner, pg_admin):
    with pg_admin.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS app_data")
        conn.exec_driver_sql("CREATE DATABASE app_data")
    before = database_names(pg_admin)
    inner.project(
        MODELS,
        test_d="""
        from sqlalchemy import text

        def test_name(db_connection, dualdb_backend):
            name = db_connection.execute(text("SELECT 1")).scalar()
            assert name == 1

        def test_fresh(db_fresh_engine):
            with db_fresh_engine.begin() as conn:
                conn.execute(text("INSERT INTO users (name, active) VALUES ('x', true)"))
        """,
    )
    inner.run("--dual-db").assert_outcomes(passed=4)
    after = database_names(pg_admin)
    assert after == before
    assert "app_data" in after
    assert not {n for n in after if n.startswith("dualdb_")}


def test_sequences_aligned_so_ids_match(inner):
    inner.project(
        MODELS,
        test_ids="""
        import pytest
        from models import User

        @pytest.mark.parametrize("n", range(3))
        def test_ids(db_session, observe, n):
            users = [User(name=f"u{i}") for i in range(3)]
            db_session.add_all(users)
            db_session.commit()
            observe("ids", [u.id for u in users])
            assert [u.id for u in users] == [1, 2, 3]
        """,
    )
    inner.run("--dual-db").assert_outcomes(passed=6)
    assert {v for v in inner.verdicts().values()} == {("same", None)}
