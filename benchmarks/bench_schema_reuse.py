"""What does a large schema cost a warm ``pytest --dual-db`` run, with and without schema reuse?

Three generated projects, each with one database test: 1 table, 120 tables
(``dualdb_metadata``), and a 40-revision Alembic history (``dualdb_alembic_config``).
Each run is a whole pytest process in a subprocess (start to exit: start-up,
the test, the report, the server's stop), on the plugin's own local server,
warm (the cluster cache and, for reuse, the kept schema already there; one
unmeasured run fills them). "rebuild" passes ``--dualdb-rebuild``: the schema
is built every run as before reuse existed, and that run also keeps the
cluster it built (a clean shutdown and a copy), so it is an upper bound of
the old cost. Median of ``--repeat`` runs.

    python benchmarks/bench_schema_reuse.py [--repeat 5]

Done when: a reused run of the 120-table or the 40-revision project costs
<= 1.15x the reused 1-table run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

TEST = "def test_one(db_session):\n    assert db_session.execute(__import__('sqlalchemy').text('select 1')).scalar() == 1\n"

ALEMBIC_INI = """[alembic]
script_location = %(here)s/migrations
sqlalchemy.url = sqlite://
"""

ENV_PY = """from alembic import context

config = context.config
connection = config.attributes.get("connection")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
"""

REVISION = '''"""step {n}"""
import sqlalchemy as sa
from alembic import op

revision = "r{n:02d}"
down_revision = {down}


def upgrade():
{body}
'''


def models(tables: int) -> str:
    """``tables`` tables of a few columns each, every other one with a foreign key and an index."""
    out = ["from sqlalchemy import Column, ForeignKey, Integer, String, Numeric, Boolean, DateTime, MetaData, Table",
           "metadata = MetaData()"]
    for i in range(tables):
        fk = f", Column('parent_id', Integer, ForeignKey('t{i - 1}.id'), index=True)" if i % 2 and i else ""
        out.append(f"Table('t{i}', metadata, Column('id', Integer, primary_key=True), "
                   f"Column('name', String(50), nullable=False), Column('amount', Numeric(10, 2)), "
                   f"Column('active', Boolean), Column('created', DateTime){fk})")
    return "\n".join(out) + "\n"


def revision_body(n: int) -> str:
    """Odd revisions create a table, even ones add a column and an index to the previous table."""
    if n % 2 == 1 or n == 0:
        return (f"    op.create_table('m{n}', sa.Column('id', sa.Integer, primary_key=True), "
                f"sa.Column('name', sa.String(50)))")
    return (f"    op.add_column('m{n - 1}', sa.Column('extra', sa.Integer))\n"
            f"    op.create_index('ix_m{n - 1}_extra', 'm{n - 1}', ['extra'])")


def make_project(folder: Path, kind: str) -> None:
    folder.mkdir(parents=True)
    (folder / "test_one.py").write_text(TEST)
    if kind == "alembic":
        (folder / "alembic.ini").write_text(ALEMBIC_INI)
        versions = folder / "migrations" / "versions"
        versions.mkdir(parents=True)
        (folder / "migrations" / "env.py").write_text(ENV_PY)
        for n in range(40):
            down = "None" if n == 0 else f'"r{n - 1:02d}"'
            (versions / f"r{n:02d}.py").write_text(REVISION.format(n=n, down=down, body=revision_body(n)))
        ini = "dualdb_alembic_config = alembic.ini\n"
    else:
        (folder / "models.py").write_text(models(int(kind)))
        ini = "dualdb_metadata = models:metadata\n"
    (folder / "pytest.ini").write_text(f"[pytest]\npythonpath = .\n{ini}")


def run(folder: Path, args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--dual-db", *args],
                          cwd=folder, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"run failed in {folder} {args}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    projects = {"1 table": "1", "120 tables": "120", "40 migrations": "alembic"}
    medians: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUALDB_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["DUALDB_CACHE_DIR"] = str(Path(tmp) / "cache")
        for label, kind in projects.items():
            folder = Path(tmp) / kind
            make_project(folder, kind)
            run(folder, [], env)  # warm: the cluster cache, and the kept schema
            for mode, extra in (("reuse", []), ("rebuild", ["--dualdb-rebuild"])):
                medians[label, mode] = statistics.median(run(folder, extra, env) for _ in range(args.repeat))
    base = medians["1 table", "reuse"]
    rows = [[label, f"{medians[label, 'rebuild']:.2f}", f"{medians[label, 'rebuild'] / base:.2f}x",
             f"{medians[label, 'reuse']:.2f}", f"{medians[label, 'reuse'] / base:.2f}x"] for label in projects]
    print(f"one-test `pytest --dual-db`, whole process, warm, own local server; median of {args.repeat}")
    print(tabulate(rows, headers=["project", "rebuild s", "vs 1 table reused", "reuse s", "vs 1 table reused"]))
    worst = max(medians[label, "reuse"] / base for label in ("120 tables", "40 migrations"))
    print(f"target: reused 120 tables / 40 migrations <= 1.15x the 1-table run: worst {worst:.2f}x "
          f"({'met' if worst <= 1.15 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
