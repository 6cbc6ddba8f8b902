"""Schemas built from the project's Alembic migrations, and what differs between engines.

``tests/projects/alembic_divergent``: three revisions; b2 rebuilds ``posts`` in batch
mode and on SQLite silently loses its foreign key, c3 uses ``op.alter_column``
outside batch mode and fails on SQLite. ``tests/projects/alembic_clean``: the same
kind of history written portably (and an env.py that only reads ``sqlalchemy.url``).
"""

from __future__ import annotations

import secrets
import shutil
import textwrap
from pathlib import Path

import sqlalchemy.dialects.postgresql  # noqa: F401 - imported once here, not re-imported after inner runs
from sqlalchemy import create_engine

from dualdb.engines.migrations import Migrations, failure_note

PROJECTS = Path(__file__).parents[1] / "projects"


def copy_project(inner, name: str) -> None:  # noqa: ANN001
    shutil.copytree(PROJECTS / name, inner.pytester.path, dirs_exist_ok=True)


def test_migration_failing_on_sqlite_and_foreign_key_lost_on_sqlite_are_reported(inner):
    copy_project(inner, "alembic_divergent")
    result = inner.run("--dual-db", "-v")
    result.assert_outcomes(passed=6, failed=3)
    assert inner.verdicts() == {
        "test_users": ("same", None),
        "test_orphan_post_rejected": ("diverged", "outcome"),  # the lost foreign key
        "test_tags": ("diverged", "outcome"),  # tags come from c3, which failed on SQLite
        "test_tags_async": ("diverged", "outcome"),
    }
    report = inner.report()
    findings = {(f["kind"], f["backend"], f["revision"]): f for f in report["schema_findings"]}
    assert set(findings) == {("migration", "sqlite", "c3"), ("drift", "sqlite", "b2")}

    failed = findings["migration", "sqlite", "c3"]
    assert failed["name"] == "c3 (tags, and users.name becomes required)"
    assert failed["statement"] == "ALTER TABLE users ALTER COLUMN name SET NOT NULL"
    assert failed["error"].startswith("OperationalError:")
    assert failed["category"] == "sql_syntax"
    assert "batch_alter_table" in failed["fix"]
    assert failed["legs"] == {"sqlite": "failed", "postgresql": "applied"}
    assert failed["location"].startswith("c3_tags.py:")

    lost = findings["drift", "sqlite", "b2"]
    assert lost["name"] == "foreign key posts(author_id) -> users(id)"
    assert lost["category"] == "constraints"
    assert lost["statement"].startswith("CREATE TABLE _alembic_tmp_posts")
    assert "REFERENCES" not in lost["statement"]
    assert "reflect_args" in lost["fix"]

    # the tests that need c3 fail on SQLite only, with a message naming the revision
    for name in ("test_tags", "test_tags_async"):
        legs = inner.entry(name)["legs"]
        assert legs["postgresql"]["outcome"] == "passed"
        assert "no such table: tags" in legs["sqlite"]["error"]["message"]
        assert "Alembic revision c3 (tags, and users.name becomes required)" in legs["sqlite"]["error"]["message"]

    out = result.stdout.str()
    assert "schema: sqlite: migration c3 (tags, and users.name becomes required)" in out
    assert "schema: sqlite: drift foreign key posts(author_id) -> users(id)" in out
    for rendered in ("dualdb.md", "dualdb.html"):
        text = (inner.pytester.path / "reports" / rendered).read_text()
        assert "Schema findings" in text and "posts(author_id)" in text
    # env.py's fileConfig(...) did not disable the loggers pytest's caplog listens to
    assert "test_blog.py::test_logging_survives PASSED" in out


def test_clean_migrations_report_nothing(inner):
    copy_project(inner, "alembic_clean")
    result = inner.run("--dual-db")
    result.assert_outcomes(passed=8)
    report = inner.report()
    assert report["schema_findings"] == []
    assert {t["verdict"] for t in report["tests"]} == {"same"}
    assert "schema:" not in result.stdout.str()
    # its env.py reads only sqlalchemy.url: the migrations ran on the plugin's databases
    assert not (inner.pytester.path / "shop.db").exists()


def test_revision_failing_on_postgresql_only(tmp_path, pg_url, pg_admin):
    """Plain API, no pytest run: a Boolean column defaulting to the integer 0."""
    (tmp_path / "versions").mkdir()
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s\n")
    (tmp_path / "env.py").write_text(
        textwrap.dedent(
            """
            from alembic import context

            context.configure(connection=context.config.attributes["connection"])
            with context.begin_transaction():
                context.run_migrations()
            """
        )
    )
    revisions = {
        "r1": (None, 'op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))'),
        "r2": ("r1", 'op.add_column("t", sa.Column("flag", sa.Boolean, server_default=sa.text("0")))'),
        "r3": ("r2", 'op.create_table("t2", sa.Column("id", sa.Integer, primary_key=True))'),
    }
    for rev, (down, body) in revisions.items():
        (tmp_path / "versions" / f"{rev}.py").write_text(
            f'"""step {rev}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
            f"revision = {rev!r}\ndown_revision = {down!r}\n\n\ndef upgrade():\n    {body}\n"
        )
    name = f"alembic_unit_{secrets.token_hex(4)}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    sqlite_engine = create_engine(f"sqlite:///{tmp_path / 'unit.db'}")
    pg_engine = create_engine(_with_database(pg_url, name))
    try:
        migrations = Migrations(str(tmp_path / "alembic.ini"), "head", lambda: [])
        sqlite_run = migrations.upgrade(sqlite_engine, "sqlite")
        pg_run = migrations.upgrade(pg_engine, "postgresql")
        assert [s.status for s in sqlite_run.steps] == ["applied", "applied", "applied"]
        assert [s.status for s in pg_run.steps] == ["applied", "failed", "not_applied"]
        [finding] = migrations.findings()  # t2 and t.flag are the failure's, not drift
        assert finding.kind == "migration" and finding.backend == "postgresql"
        assert finding.revision == "r2" and finding.name == "r2 (step r2)"
        assert finding.legs == {"sqlite": "applied", "postgresql": "failed"}
        assert finding.not_applied == ["r3"]
        assert finding.statement == "ALTER TABLE t ADD COLUMN flag BOOLEAN DEFAULT 0"
        assert finding.category == "types"
        assert finding.error.startswith("DatatypeMismatch:")

        class FakeBackend:
            name = "postgresql"
            migration = pg_run

        note = failure_note(FakeBackend, 'relation "t2" does not exist')
        assert note is not None and "revision r2 (step r2)" in note and "r3" in note
        assert failure_note(FakeBackend, "division by zero") is None
    finally:
        sqlite_engine.dispose()
        pg_engine.dispose()
        with pg_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
