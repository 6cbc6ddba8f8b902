"""How much does ``--dual-db`` add before the first test runs?

Runs a tiny project (a 5-table schema, one database test) with pytest in a
subprocess and records, from a small timing plugin, when the first test
starts. The start-up added by ``--dual-db`` is that time minus the same run
without ``--dual-db`` (SQLite only). Cases: system binaries and the pip wheel,
each cold (empty cluster cache: pays ``initdb``) and warm. Subprocesses run
with Python's default of writing bytecode (``PYTHONDONTWRITEBYTECODE`` unset),
as on a user's machine.

    python benchmarks/bench_startup.py [--repeat 5]
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

from dualdb.backends.binaries import find_binaries, wheel_binaries

MODELS = '''
from sqlalchemy import ForeignKey, JSON, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), index=True)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    price: Mapped[float] = mapped_column(Numeric(10, 2))
    attrs: Mapped[dict] = mapped_column(JSON, default=dict)


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))


class OrderLine(Base):
    __tablename__ = "order_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    qty: Mapped[int]


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(20), unique=True)
'''

TIMER = '''
import os, time

_done = False


def pytest_runtest_setup(item):
    global _done
    if not _done:
        _done = True
        with open(os.environ["BENCH_FIRST_TEST"], "w") as f:
            f.write(repr(time.time()))
'''

TEST = "def test_one(db_session):\n    assert db_session.execute(__import__('sqlalchemy').text('select 1')).scalar() == 1\n"


def first_test_after(folder: Path, args: list[str], env: dict[str, str]) -> float:
    marker = folder / "first_test.txt"
    marker.unlink(missing_ok=True)
    env = {**env, "BENCH_FIRST_TEST": str(marker), "PYTHONPATH": str(folder)}
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "bench_timer", *args],
        cwd=folder, env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"run failed: {args}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return float(marker.read_text()) - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    sources = {"system": find_binaries(allow_wheel=False), "wheel": wheel_binaries()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "project"
        folder.mkdir()
        (folder / "models.py").write_text(MODELS)
        (folder / "bench_timer.py").write_text(TIMER)
        (folder / "test_one.py").write_text(TEST)
        (folder / "pytest.ini").write_text("[pytest]\npythonpath = .\ndualdb_metadata = models:Base\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUALDB_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        plain = statistics.median(first_test_after(folder, [], env) for _ in range(args.repeat))
        for name, binaries in sources.items():
            if binaries is None:
                rows.append([name, "-", "not installed", "", ""])
                continue
            source_env = {**env, "DUALDB_PG_BINARIES": str(binaries.bindir)}
            cold = []
            for i in range(args.repeat):
                cache = Path(tmp) / f"cache-{name}-{i}"
                cold.append(first_test_after(folder, ["--dual-db"], {**source_env, "DUALDB_CACHE_DIR": str(cache)}))
            warm_cache = Path(tmp) / f"cache-{name}-0"
            warm = [
                first_test_after(folder, ["--dual-db"], {**source_env, "DUALDB_CACHE_DIR": str(warm_cache)})
                for _ in range(args.repeat)
            ]
            cold_added = statistics.median(cold) - plain
            warm_added = statistics.median(warm) - plain
            rows.append([name, binaries.version, f"{cold_added:.2f}", f"{warm_added:.2f}",
                         f"{statistics.median(warm):.2f}"])
    print(f"time to first test without --dual-db (SQLite only): {plain:.2f} s (median of {args.repeat})")
    print(tabulate(rows, headers=["binaries", "PostgreSQL", "cold: added s", "warm: added s", "warm: to first test s"]))
    print("targets: warm added <= 0.5 s, cold added <= 2.5 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
