"""Every failure a user can cause stops the run at start with one actionable line."""

from __future__ import annotations

import time

import pytest
from support.models import MODELS

DB_TEST = "def test_a(db_session):\n    pass\n"


def _one_clear_error(result: pytest.RunResult, *fragments: str) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    err = result.stderr.str()
    lines = [line for line in err.splitlines() if line.startswith("ERROR: pytest-dualdb:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in err and "Traceback" not in result.stdout.str()
    return lines[0]


def test_malformed_url(inner, monkeypatch):
    monkeypatch.delenv("DUALDB_PG_URL")
    inner.project(MODELS, test_a=DB_TEST)
    result = inner.run("--dual-db", "--dualdb-pg-url", "not a url")
    _one_clear_error(result, "is not a database URL", "postgresql://")


def test_url_of_another_database(inner, monkeypatch):
    monkeypatch.delenv("DUALDB_PG_URL")
    inner.project(MODELS, test_a=DB_TEST)
    result = inner.run("--dual-db", "--dualdb-pg-url", "mysql://u:p@localhost/db")
    _one_clear_error(result, "'mysql'", "must be a PostgreSQL URL")


def test_unreachable_server_fails_fast(inner, monkeypatch):
    monkeypatch.setenv("DUALDB_PG_URL", "postgresql://u:secretpw@127.0.0.1:1/nothing")
    inner.project(MODELS, test_a=DB_TEST)
    started = time.monotonic()
    result = inner.run("--dual-db")
    elapsed = time.monotonic() - started
    line = _one_clear_error(result, "cannot connect to PostgreSQL", "127.0.0.1", "--dualdb-pg-url")
    assert "secretpw" not in line
    assert elapsed < 5


def test_role_without_createdb(inner, pg_server, pg_admin, monkeypatch):
    with pg_admin.connect() as conn:
        conn.exec_driver_sql("DROP ROLE IF EXISTS dualdb_nocreate")
        conn.exec_driver_sql("CREATE ROLE dualdb_nocreate LOGIN NOCREATEDB")
    monkeypatch.setenv("DUALDB_PG_URL", pg_server.url.replace("postgres@", "dualdb_nocreate@"))
    inner.project(MODELS, test_a=DB_TEST)
    _one_clear_error(inner.run("--dual-db"), "may not create databases", "CREATEDB")


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("nosuchmodule:Base", "cannot import module 'nosuchmodule'"),
        ("models:Nope", "has no attribute 'Nope'"),
        ("models", "is not `module:attribute`"),
        ("models:User.name", "not a MetaData or a declarative base"),
    ],
)
def test_bad_metadata(inner, spec, fragment):
    inner.pytester.makepyfile(models=MODELS)
    inner.project(ini=f"dualdb_metadata = {spec}", test_a=DB_TEST)
    _one_clear_error(inner.run("--dual-db"), "dualdb_metadata", fragment)


def test_metadata_error_without_dual_db_too(inner):
    inner.project(ini="dualdb_metadata = nosuchmodule:Base", test_a=DB_TEST)
    _one_clear_error(inner.run(), "cannot import module")


def test_no_postgresql_binaries(inner, monkeypatch, tmp_path):
    monkeypatch.delenv("DUALDB_PG_URL")
    monkeypatch.setenv("DUALDB_PG_BINARIES", str(tmp_path / "nothing-here"))
    inner.project(MODELS, test_a=DB_TEST)
    line = _one_clear_error(inner.run("--dual-db"), "nothing-here")
    assert "--dualdb-pg-url" in line or "DUALDB_PG_BINARIES" in line


def test_bad_ini_values(inner):
    inner.project(MODELS, ini="dualdb_backend = oracle", test_a=DB_TEST)
    result = inner.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "dualdb_backend = 'oracle' is not a backend" in result.stderr.str()


def test_bad_known_marker_category(inner):
    inner.project(
        MODELS,
        test_a="""
        import pytest

        @pytest.mark.dualdb_known(reason="x", category="colation")
        def test_a(db_session):
            pass
        """,
    )
    result = inner.run("--dual-db")
    assert "unknown category" in result.stdout.str() + result.stderr.str()


def test_non_database_run_needs_no_server(inner, monkeypatch):
    monkeypatch.setenv("DUALDB_PG_URL", "postgresql://u@127.0.0.1:1/nothing")
    inner.project(MODELS, test_a="def test_plain():\n    pass\n")
    inner.run("--dual-db").assert_outcomes(passed=1)


def test_table_that_cannot_be_created_fails_only_its_tests_on_that_leg(inner):
    inner.project(
        """
from sqlalchemy import Integer, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Tagged(Base):
    __tablename__ = "tagged"
    id: Mapped[int] = mapped_column(primary_key=True)
    tags: Mapped[list] = mapped_column(ARRAY(String))


class Plain(Base):
    __tablename__ = "plain"
    id: Mapped[int] = mapped_column(primary_key=True)
""",
        test_t="""
        from models import Tagged, Plain

        def test_tags(db_session):
            db_session.add(Tagged(tags=["a", "b"]))
            db_session.commit()

        def test_plain(db_session):
            db_session.add(Plain())
            db_session.commit()
        """,
    )
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=3, failed=1)
    assert inner.verdicts() == {"test_tags": ("diverged", "outcome"), "test_plain": ("same", None)}
    sqlite_leg = inner.entry("test_tags")["legs"]["sqlite"]
    assert "table 'tagged' could not be created on sqlite" in sqlite_leg["error"]["message"]
    assert inner.entry("test_tags")["category"] == "arrays"


def test_xdist_bad_setup_is_one_clear_line_not_a_worker_crash(inner, monkeypatch):
    monkeypatch.setenv("DUALDB_PG_URL", "postgresql://u:pw@127.0.0.1:1/nothing")
    inner.project(MODELS, test_a=DB_TEST)
    result = inner.run("--dual-db", "-n", "2", subprocess=True)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "ERROR: pytest-dualdb: cannot connect to PostgreSQL" in err
    assert "INTERNALERROR" not in result.stdout.str() + err
