"""The built schema is kept across runs and reused while what determines it is unchanged.

Evidence is the run's backend info in ``dualdb.json`` (``backends.<name>.schema``:
``built ...`` or ``reused ...``) and the kept objects themselves (the signed
``dualdb_tpl_<fp>`` template on the server, the SQLite cache folder), never timing.
Each test uses its own cache folder and a table name of its own, so no other
test's kept schema can answer for it.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from dualdb.engines import postgres

PROJECTS = Path(__file__).parents[1] / "projects"

# Not tests/support/models.py: a template whose table and column each test changes, to see a
# changed schema rebuilt and an unchanged one reused.
MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "{table}"
    id: Mapped[int] = mapped_column(primary_key=True)
    {column}: Mapped[str] = mapped_column(String(50))
"""

TEST = """
from sqlalchemy import text


def test_column(db_connection):
    db_connection.execute(text("INSERT INTO {table} ({column}) VALUES ('x')"))
"""


@pytest.fixture
def cache(tmp_path_factory, monkeypatch) -> Path:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("dualdb-cache")
    monkeypatch.setenv("DUALDB_CACHE_DIR", str(folder))
    return folder


def write(inner, table: str, column: str = "name") -> None:  # noqa: ANN001
    inner.project(MODELS.format(table=table, column=column), test_t=TEST.format(table=table, column=column))


def schema_of(inner) -> dict[str, str]:  # noqa: ANN001
    return {name: info["schema"] for name, info in inner.report()["backends"].items()}


def template_of(sources: dict[str, str]) -> str:
    return sources["postgresql"].split()[-1]


def comment_of(admin, name: str) -> str | None:  # noqa: ANN001
    with admin.connect() as conn:
        return conn.execute(
            text("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()


def test_second_run_reuses_a_column_change_and_rebuild_build_again(inner, cache, pg_admin):
    table = f"items_{secrets.token_hex(3)}"
    write(inner, table)
    inner.run("--dual-db").assert_outcomes(passed=2)
    first = schema_of(inner)
    assert first["sqlite"] == "built" and first["postgresql"].startswith("built dualdb_tpl_")
    template = template_of(first)
    assert comment_of(pg_admin, template).startswith("pytest-dualdb schema template ")

    inner.run("--dual-db").assert_outcomes(passed=2)
    second = schema_of(inner)
    assert second["sqlite"].startswith("reused ") and second["postgresql"] == f"reused {template}"

    write(inner, table, column="title")  # one column renamed: the test inserts into the new name
    inner.run("--dual-db").assert_outcomes(passed=2)
    changed = schema_of(inner)
    assert changed["sqlite"] == "built" and changed["postgresql"].startswith("built ")
    assert template_of(changed) != template

    inner.run("--dual-db", "--dualdb-rebuild").assert_outcomes(passed=2)
    rebuilt = schema_of(inner)
    assert rebuilt["sqlite"] == "built" and rebuilt["postgresql"] == f"built {template_of(changed)}"


def test_a_template_without_the_plugins_signature_is_not_trusted(inner, cache, pg_admin):
    """An interrupted build (the database exists, the signing comment does not) is built again."""
    table = f"items_{secrets.token_hex(3)}"
    write(inner, table)
    inner.run("--dual-db").assert_outcomes(passed=2)
    template = template_of(schema_of(inner))
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{template}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{template}"')  # empty, unsigned
    inner.run("--dual-db").assert_outcomes(passed=2)
    assert schema_of(inner)["postgresql"] == f"built {template}"
    assert comment_of(pg_admin, template).startswith("pytest-dualdb schema template ")


def test_alembic_findings_survive_reuse_and_a_changed_migration_is_picked_up(inner, cache):
    shutil.copytree(PROJECTS / "alembic_divergent", inner.pytester.path, dirs_exist_ok=True)
    revision = inner.pytester.path / "migrations" / "versions" / "c3_tags.py"
    revision.write_text(revision.read_text() + f"\n# {secrets.token_hex(4)}: a fingerprint of its own\n")
    inner.run("--dual-db").assert_outcomes(passed=6, failed=3)
    first, findings = schema_of(inner), inner.report()["schema_findings"]
    assert first["sqlite"] == "built" and first["postgresql"].startswith("built ")
    verdicts = inner.verdicts()

    result = inner.run("--dual-db")
    result.assert_outcomes(passed=6, failed=3)
    second = schema_of(inner)
    assert second["sqlite"].startswith("reused ") and second["postgresql"].startswith("reused ")
    assert inner.report()["schema_findings"] == findings
    assert inner.verdicts() == verdicts
    # the failing leg still names the revision that stopped its schema (the note comes from the kept run)
    assert "Alembic revision c3" in inner.entry("test_tags")["legs"]["sqlite"]["error"]["message"]

    revision.write_text(revision.read_text() + "# one line more\n")
    inner.run("--dual-db").assert_outcomes(passed=6, failed=3)
    assert schema_of(inner)["postgresql"].startswith("built ")
    assert inner.report()["schema_findings"] == findings


def test_reaping_a_killed_runs_databases_keeps_the_signed_template(inner, cache, pg_admin):
    table = f"items_{secrets.token_hex(3)}"
    write(inner, table)
    inner.run("--dual-db").assert_outcomes(passed=2)
    template = template_of(schema_of(inner))
    ledger = cache / "external"
    assert not any(template in p.read_text() for p in ledger.glob("*.json"))  # signed: out of the ledger
    inner.run("--dual-db").assert_outcomes(passed=2)
    with pg_admin.connect() as conn:
        assert conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template}).scalar()


@pytest.mark.slow
def test_own_server_keeps_a_cluster_per_schema(inner, cache, monkeypatch):
    """Without --dualdb-pg-url: the run that built the schema keeps its cluster; the next copies it."""
    monkeypatch.delenv("DUALDB_PG_URL")
    table = f"items_{secrets.token_hex(3)}"
    write(inner, table)
    inner.run("--dual-db").assert_outcomes(passed=2)
    assert schema_of(inner)["postgresql"].startswith("built dualdb_tpl_")
    kept = list(cache.glob("clusters/*/schema-*"))
    assert len(kept) == 1 and (kept[0] / "data" / "PG_VERSION").is_file()

    inner.run("--dual-db").assert_outcomes(passed=2)
    assert schema_of(inner)["postgresql"].startswith(f"reused (cluster {kept[0]}) dualdb_tpl_")

    for column in ("a", "b", "c", "d"):  # four more schemas: only the newest few clusters stay
        write(inner, table, column=column)
        inner.run("--dual-db").assert_outcomes(passed=2)
        assert schema_of(inner)["postgresql"].startswith("built ")
    assert len(list(cache.glob("clusters/*/schema-*"))) == 3
    assert not kept[0].exists()
    inner.run("--dual-db").assert_outcomes(passed=2)
    assert schema_of(inner)["postgresql"].startswith("reused (cluster ")


def test_never_drops_a_database_it_did_not_create():
    with pytest.raises(ValueError):
        postgres.drop_database(None, "app_tpl_0123")  # type: ignore[arg-type]


def signed_templates(admin) -> set[str]:  # noqa: ANN001
    """The current role's signed ``dualdb_tpl_*`` templates on the server."""
    from dualdb.engines.schema_cache import read_comment

    with admin.connect() as conn:
        rows = conn.execute(text(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE 'dualdb_tpl_%' "
            "AND datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)")).all()
    return {name for name, comment in rows if read_comment(comment, name.removeprefix("dualdb_tpl_")) is not None}


def test_a_users_server_keeps_the_newest_templates_and_nothing_else_is_dropped(inner, cache, pg_admin):
    """Each schema change builds a new signed template; beyond the newest 3 of the role, older ones the
    plugin signed are dropped -- but not one a live run holds, an unsigned one, another role's, or a
    database that is not the plugin's."""
    from dualdb.engines.schema_cache import template_comment
    from dualdb.engines.templates import in_use_key

    suffix = secrets.token_hex(4)
    unsigned, foreign, other_role = f"dualdb_tpl_{suffix}0000unsigned", f"app_tpl_{suffix}", f"dualdb_tpl_{suffix}0000otherrole"
    role = f"dualdb_other_{suffix}"
    with pg_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}"')
        for name in (unsigned, foreign, other_role):
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' OWNER "{role}"' if name == other_role else ""))
        for name in (foreign, other_role):  # signed as the plugin signs (the fingerprint is the name's tail)
            conn.exec_driver_sql(f"COMMENT ON DATABASE \"{name}\" IS '{template_comment(name.split('_tpl_')[1], {})}'")
    try:
        table = f"items_{secrets.token_hex(3)}"
        built = []
        with pg_admin.connect() as holder:
            for column in ("a", "b", "c", "d", "e"):
                write(inner, table, column=column)
                inner.run("--dual-db").assert_outcomes(passed=2)
                built.append(template_of(schema_of(inner)))
                if len(built) == 1:  # a live run cloning the first one: it must survive
                    holder.execute(text("SELECT pg_advisory_lock_shared(:a, :b)"),
                                   dict(zip("ab", in_use_key(built[0]))))
            assert signed_templates(pg_admin) == {built[0], *built[-3:]}
            holder.execute(text("SELECT pg_advisory_unlock_shared(:a, :b)"), dict(zip("ab", in_use_key(built[0]))))
        write(inner, table, column="f")  # the first one released: the next build drops it
        inner.run("--dual-db").assert_outcomes(passed=2)
        newest = template_of(schema_of(inner))
        assert signed_templates(pg_admin) == {*built[-2:], newest}
        with pg_admin.connect() as conn:
            left = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
        assert {unsigned, foreign, other_role} <= left
    finally:
        with pg_admin.connect() as conn:
            for name in (unsigned, foreign, other_role):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.slow
def test_xdist_workers_clone_one_migrated_template(inner, cache):
    """Under xdist the Alembic history runs once on PostgreSQL (the first worker builds the
    template, the other clones it), and its schema findings reach the report once, as serially."""
    shutil.copytree(PROJECTS / "alembic_divergent", inner.pytester.path, dirs_exist_ok=True)
    runs = inner.pytester.path / "upgrades.log"
    first = inner.pytester.path / "migrations" / "versions" / "a1_users_posts.py"
    first.write_text(first.read_text() + f'''

_upgrade = upgrade


def upgrade() -> None:  # {secrets.token_hex(4)}: a fingerprint of its own, and a log of each run
    with open({str(runs)!r}, "a") as log:
        log.write(op.get_bind().dialect.name + "\\n")
    _upgrade()
''')
    result = inner.run("--dual-db", "-n", "2", subprocess=True)
    result.assert_outcomes(passed=6, failed=3)
    assert runs.read_text().split().count("postgresql") == 1
    # the report shows the first worker's word: "built" by the one that migrated, "reused" by the cloner
    assert schema_of(inner)["postgresql"].split()[-1].startswith("dualdb_tpl_")
    findings = inner.report()["schema_findings"]
    assert any("c3" in str(f) for f in findings)
    assert len(findings) == len({str(f) for f in findings})  # each once, though two workers migrated or cloned

    runs.unlink()
    inner.run("--dual-db", "-n", "2", subprocess=True).assert_outcomes(passed=6, failed=3)
    assert not runs.exists() or "postgresql" not in runs.read_text()  # the next run reuses the template
    assert inner.report()["schema_findings"] == findings
