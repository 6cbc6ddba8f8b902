"""What does ``--dualdb-redirect`` cost over the suite's own SQLite run?

Generates a suite in two common shapes and runs it in a subprocess three ways:
plainly (``-p no:dualdb``, the suite's own SQLite run), and with
``--dual-db --dualdb-redirect`` both against a server the plugin starts itself
(a user's first command) and against a running one (``DUALDB_PG_URL``, as in CI
with a service container). Wall time of the whole pytest process, median of
``--repeat`` rounds. The target is a redirect run of at most 1.3x the plain
run on 2 cores: the two legs run side by side, so the ratio approaches
(slower leg + worker start-up) / SQLite run.

Shapes:

* ``rollback``: a module-level engine on a SQLite file, tables created once,
  each test in a transaction that is rolled back (SQLAlchemy's recipe);
* ``engine-per-test``: an in-memory engine per test (``StaticPool``), tables
  created and dropped by the fixture (the FastAPI tutorial's shape).

    python benchmarks/bench_redirect.py [--tests 300 600] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

MODELS = '''
from sqlalchemy import ForeignKey, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    total: Mapped[int]
'''

CONFTEST = {
    "rollback": '''
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from models import Base

engine = create_engine("sqlite:///bench.db")


@pytest.fixture(scope="session", autouse=True)
def tables():
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    yield


@pytest.fixture
def session():
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    yield session
    session.close()
    transaction.rollback()
    connection.close()
''',
    "engine-per-test": '''
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from models import Base


@pytest.fixture
def session():
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    Base.metadata.drop_all(engine)
    engine.dispose()
''',
}

TESTS = '''
import pytest
from sqlalchemy import func, select

from models import Customer, Order


@pytest.mark.parametrize("n", range({count}))
def test_orders(session, n):
    customer = Customer(name=f"customer {{n}}")
    session.add(customer)
    session.flush()
    session.add_all([Order(customer_id=customer.id, total=t) for t in (n, n + 1, n + 2)])
    session.flush()
    assert session.scalar(select(func.sum(Order.total)).where(Order.customer_id == customer.id)) == 3 * n + 3
    assert session.scalars(select(Customer.name).where(Customer.name.like("customer%"))).all()
'''


def write_suite(folder: Path, shape: str, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\npythonpath = .\nasyncio_default_fixture_loop_scope = function\n")
    (folder / "models.py").write_text(MODELS)
    (folder / "conftest.py").write_text(CONFTEST[shape])
    (folder / "test_bench.py").write_text(TESTS.format(count=count))


def timed(folder: Path, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time, and CPU time (user + system) of the pytest process and every process it waited
    for (workers; the plugin's own server): steadier than wall time on a loaded machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
                            cwd=folder, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"pytest {' '.join(args)} failed in {folder}:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, nargs="+", default=[300, 600])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    from dualdb.engines.server.binaries import find_binaries
    from dualdb.engines.server.local import start_server

    server = start_server(find_binaries(os.environ.get("DUALDB_PG_BINARIES")))
    base_env = {k: v for k, v in os.environ.items() if k != "DUALDB_PG_URL"}
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-redirect-") as tmp:
            for shape in CONFTEST:
                for count in options.tests:
                    folder = Path(tmp) / f"{shape}-{count}"
                    write_suite(folder, shape, count)
                    runs = {"plain": [], "own server": [], "running server": []}
                    for _ in range(options.repeat):
                        runs["plain"].append(timed(folder, ["-p", "no:dualdb"], base_env))
                        runs["own server"].append(timed(folder, ["--dual-db", "--dualdb-redirect"], base_env))
                        runs["running server"].append(
                            timed(folder, ["--dual-db", "--dualdb-redirect"], {**base_env, "DUALDB_PG_URL": server.url})
                        )
                    plain, own, running = (statistics.median(w for w, _ in runs[k]) for k in runs)
                    plain_cpu, own_cpu, running_cpu = (statistics.median(c for _, c in runs[k]) for k in runs)
                    rows.append([shape, count, f"{plain:.2f}", f"{own:.2f}", f"{own / plain:.2f}x",
                                 f"{running:.2f}", f"{running / plain:.2f}x",
                                 f"{plain_cpu:.2f}", f"{own_cpu:.2f}", f"{running_cpu:.2f}"])
    finally:
        server.stop()
    print(f"cores: {os.cpu_count()}, median of {options.repeat} rounds, whole pytest process wall time (s); "
          f"CPU: user + system of the pytest process and its workers (s); load average {os.getloadavg()}")
    print(tabulate(rows, headers=["shape", "tests", "plain SQLite", "redirect (own server)", "ratio",
                                  "redirect (running server)", "ratio", "CPU plain", "CPU own", "CPU running"]))


if __name__ == "__main__":
    main()
