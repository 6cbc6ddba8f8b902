"""Per-test cost of the plugin, and the cost of the dual run, on a generated suite.

Generates a suite of N tests (each: insert 3 rows through an ORM session,
commit, query) and runs it with pytest in subprocesses:

* hand-written: the essay's savepoint recipe in a conftest (the baseline a
  team would write), on SQLite alone and on PostgreSQL alone;
* plugin: the same tests using ``db_session``, on SQLite alone and on
  PostgreSQL alone (``dualdb_backend``), then ``--dual-db`` serial and ``-n 2``.

Per-test cost is measured inside the run by a small timing plugin: from the
start of the first test to the end of the last (the *test phase*), divided by
N, so pytest's start-up, collection and the plugin's one-time provisioning are
not counted. Whole-run numbers are wall clock.

The ``-n 2`` speed-up is given both ways, for the dual run and for each engine
alone (xdist's cost per test item weighs most on the lightest items), and next to
two references:

* the same comparison for the hand-written recipe on PostgreSQL with no
  plugin at all: what pytest-xdist itself gives on this machine;
* a heavier suite (20 rows, 8 queries per test), where a test costs several
  times xdist's own per-test overhead, as application tests usually do.

All runs use one local PostgreSQL server started by this script (the same
server for both recipes). The hand-written recipe's database gets its schema
from this script, and its conftest doesn't drop it, so two xdist workers can
share it. Subprocesses run with Python's default of writing bytecode: with
``PYTHONDONTWRITEBYTECODE`` set, pytest rewrites the asserts of every plugin
module again in every process, which measures that setting, not the plugin.

    python benchmarks/bench_suite.py [--tests 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from sqlalchemy import create_engine
from tabulate import tabulate

from dualdb.engines.server.binaries import find_binaries
from dualdb.engines.server.local import start_server

MODELS = '''
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    qty: Mapped[int] = mapped_column(default=0)
'''

TEST_BODY = '''
import pytest
from sqlalchemy import select
from models import Item


@pytest.mark.parametrize("n", range({n}))
def test_item(db_session, n):
    db_session.add_all([Item(name=f"item{{i}}", qty=i) for i in range(3)])
    db_session.commit()
    names = db_session.scalars(select(Item.name).where(Item.qty > 0).order_by(Item.name)).all()
    assert names == ["item1", "item2"]
'''

HEAVY_TEST_BODY = '''
import pytest
from sqlalchemy import func, select
from models import Item


@pytest.mark.parametrize("n", range({n}))
def test_item(db_session, n):
    db_session.add_all([Item(name=f"item{{i}}", qty=i) for i in range(20)])
    db_session.commit()
    for k in range(8):
        rows = db_session.execute(select(Item.id, Item.name, Item.qty).where(Item.qty >= k).order_by(Item.qty)).all()
        assert len(rows) == 20 - k
    assert db_session.scalar(select(func.count()).select_from(Item)) == 20
'''

HAND_WRITTEN_CONFTEST = '''
import os

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

from models import Base

URL = os.environ["BENCH_URL"]
engine = create_engine(URL)
if URL.startswith("sqlite"):
    # SQLAlchemy's documented pysqlite recipe, or SAVEPOINT commits escape the rollback
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, rec):
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

TestingSessionLocal = sessionmaker(bind=engine, autoflush=False, autocommit=False)


@pytest.fixture(scope="session", autouse=True)
def create_schema():
    Base.metadata.create_all(bind=engine)  # the benchmark made it already: xdist workers share it
    yield


@pytest.fixture
def db_session():
    connection = engine.connect()
    transaction = connection.begin()
    session = TestingSessionLocal(bind=connection, join_transaction_mode="create_savepoint")
    yield session
    session.close()
    transaction.rollback()
    connection.close()
'''


TIMER = '''
import os, time

_first = _last = None


def pytest_runtest_logstart(nodeid, location):
    global _first
    if _first is None:
        _first = time.perf_counter()


def pytest_runtest_logfinish(nodeid, location):
    global _last
    _last = time.perf_counter()


def pytest_sessionfinish(session):
    path = os.environ.get("BENCH_TIMING")
    if path and _first is not None and not os.environ.get("PYTEST_XDIST_WORKER"):
        with open(path, "w") as f:
            f.write(repr(_last - _first))
'''


def write_suite(folder: Path, n: int, hand_written: bool, heavy: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench_timer.py").write_text(TIMER)
    (folder / "models.py").write_text(MODELS)
    body = HEAVY_TEST_BODY if heavy else TEST_BODY
    (folder / "test_items.py").write_text(textwrap.dedent(body.format(n=n)))
    ini = "[pytest]\npythonpath = .\n"
    if hand_written:
        (folder / "conftest.py").write_text(HAND_WRITTEN_CONFTEST)
    else:
        ini += "dualdb_metadata = models:Base\n"
    (folder / "pytest.ini").write_text(ini)


def run(folder: Path, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall clock of the whole run, time from the first test's start to the end)."""
    timing = folder / "timing.txt"
    timing.unlink(missing_ok=True)
    env = {**env, "BENCH_TIMING": str(timing), "PYTHONPATH": str(folder)}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "bench_timer", *args]
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed in {folder} {args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    tests = float(timing.read_text()) if timing.exists() else float("nan")
    return elapsed, tests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    n = args.tests

    server = start_server(find_binaries(os.environ.get("DUALDB_PG_BINARIES")))
    try:
        admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("DROP DATABASE IF EXISTS bench_hand")
            conn.exec_driver_sql("CREATE DATABASE bench_hand")
        admin.dispose()
        pg_hand_url = server.url.replace("/postgres?", "/bench_hand?")
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            base_env = {k: v for k, v in os.environ.items() if not k.startswith(("DUALDB_", "PYTEST_"))}
            base_env.pop("PYTHONDONTWRITEBYTECODE", None)  # Python's default: see the docstring
            results = measure(root, n, base_env, server.url, pg_hand_url, root / "hand.db", args.repeat)
    finally:
        server.stop()
    print_results(results, n, args.repeat)
    return 0


def create_hand_schema(folder: Path, url: str) -> None:
    """The hand-written recipe's tables, made once here so two xdist workers can share them."""
    code = "import sys; from sqlalchemy import create_engine; from models import Base; "
    code += "Base.metadata.create_all(create_engine(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", code, url], cwd=folder, check=True)


def measure(root, n, env, pg_url, pg_hand_url, sqlite_file, repeat):  # noqa: ANN001, ANN201
    write_suite(root / "hand", n, hand_written=True)
    write_suite(root / "plugin", n, hand_written=False)
    write_suite(root / "hand-heavy", n, hand_written=True, heavy=True)
    write_suite(root / "plugin-heavy", n, hand_written=False, heavy=True)
    create_hand_schema(root / "hand", pg_hand_url)
    pg = ["--dualdb-pg-url", pg_url]
    on_sqlite = {"BENCH_URL": f"sqlite:///{sqlite_file}"}
    on_pg = {"BENCH_URL": pg_hand_url}
    cases = {
        ("hand-written", "sqlite"): ("hand", [], on_sqlite),
        ("hand-written", "postgresql"): ("hand", [], on_pg),
        ("hand-written", "postgresql -n 2"): ("hand", ["-n", "2"], on_pg),
        ("plugin", "sqlite"): ("plugin", [], {}),
        ("plugin", "postgresql"): ("plugin", ["-o", "dualdb_backend=postgresql", *pg], {}),
        ("plugin", "sqlite -n 2"): ("plugin", ["-n", "2"], {}),
        ("plugin", "postgresql -n 2"): ("plugin", ["-o", "dualdb_backend=postgresql", "-n", "2", *pg], {}),
        ("plugin", "dual"): ("plugin", ["--dual-db", *pg], {}),
        ("plugin", "dual -n 2"): ("plugin", ["--dual-db", "-n", "2", *pg], {}),
        ("plugin", "dual, own server"): ("plugin", ["--dual-db"], {}),
        ("heavy hand-written", "postgresql"): ("hand-heavy", [], on_pg),
        ("heavy hand-written", "postgresql -n 2"): ("hand-heavy", ["-n", "2"], on_pg),
        ("heavy plugin", "dual"): ("plugin-heavy", ["--dual-db", *pg], {}),
        ("heavy plugin", "dual -n 2"): ("plugin-heavy", ["--dual-db", "-n", "2", *pg], {}),
    }
    # Interleaved (every case once per round) so drift in machine load hits all cases alike.
    runs: dict = {key: [] for key in cases}
    for _ in range(repeat):
        for key, (folder, extra, extra_env) in cases.items():
            runs[key].append(run(root / folder, extra, {**env, **extra_env}))
    out = {
        key: (statistics.median(r[0] for r in values), statistics.median(r[1] for r in values))
        for key, values in runs.items()
    }
    for engine in ("sqlite", "postgresql"):
        # the two recipes ran back to back in each round: their ratio per round shrugs off drift
        pairs = zip(runs[("plugin", engine)], runs[("hand-written", engine)])
        out[("paired ratio", engine)] = statistics.median(plug[1] / hand[1] for plug, hand in pairs)
    return out


def print_results(out, n, repeat) -> None:  # noqa: ANN001
    rows = []
    for engine in ("sqlite", "postgresql"):
        hand = out[("hand-written", engine)][1] / n * 1000
        plug = out[("plugin", engine)][1] / n * 1000
        paired = out[("paired ratio", engine)]
        rows.append([engine, f"{hand:.2f}", f"{plug:.2f}", f"{plug / hand:.2f}", f"{paired:.2f}"])
    dual_leg = out[("plugin", "dual")][1] / (2 * n) * 1000
    rows.append(["--dual-db (per leg, with capture)", "", f"{dual_leg:.2f}", "", ""])
    print(f"per-test cost, {n} tests (insert 3 rows, commit, query); test phase only; median of {repeat}")
    print(tabulate(rows, headers=["engine", "hand-written ms/test", "plugin ms/test", "ratio of medians",
                                  "median of per-round ratios"]))
    print()
    sqlite_only = out[("plugin", "sqlite")][0]
    dual = out[("plugin", "dual")][0]
    par = out[("plugin", "dual -n 2")][0]
    own = out[("plugin", "dual, own server")][0]
    rows = [
        ["SQLite only, serial", f"{sqlite_only:.2f}", "1.00"],
        ["--dual-db, serial", f"{dual:.2f}", f"{dual / sqlite_only:.2f}"],
        ["--dual-db, -n 2", f"{par:.2f}", f"{par / sqlite_only:.2f}"],
        ["--dual-db, serial, plugin starts its own server", f"{own:.2f}", f"{own / sqlite_only:.2f}"],
    ]
    print(f"whole run of {n} tests, wall clock including pytest start-up; median of {repeat}")
    print(tabulate(rows, headers=["run", "seconds", "x SQLite-only"]))
    print()
    rows = []
    for label, (group, serial, parallel) in {
        f"--dual-db, {n} light tests": ("plugin", "dual", "dual -n 2"),
        f"--dual-db, {n} heavier tests": ("heavy plugin", "dual", "dual -n 2"),
        f"plugin, SQLite only, {n} light tests": ("plugin", "sqlite", "sqlite -n 2"),
        f"plugin, PostgreSQL only, {n} light tests": ("plugin", "postgresql", "postgresql -n 2"),
        f"no plugin (hand-written, PostgreSQL), {n} light tests": ("hand-written", "postgresql", "postgresql -n 2"),
        f"no plugin (hand-written, PostgreSQL), {n} heavier tests": (
            "heavy hand-written",
            "postgresql",
            "postgresql -n 2",
        ),
    }.items():
        one, two = out[(group, serial)], out[(group, parallel)]
        rows.append(
            [label, f"{one[1]:.2f}", f"{two[1]:.2f}", f"{one[1] / two[1]:.2f}x",
             f"{one[0]:.2f}", f"{two[0]:.2f}", f"{one[0] / two[0]:.2f}x"]
        )
    print(f"-n 2 vs serial on {os.cpu_count()} cores; median of {repeat}")
    print(tabulate(rows, headers=["suite", "test phase serial s", "-n 2 s", "speed-up",
                                  "whole run serial s", "-n 2 s", "speed-up"]))


if __name__ == "__main__":
    sys.exit(main())
