"""What does statement capture cost a statement-heavy test, and how much memory does a leg keep?

A "test" here is what the plugin runs per leg: a pooled connection, an outer
transaction, a savepoint ``Session``, a body of **20 statements** (ORM inserts,
selects returning a few rows, updates, a delete, a raw ``text()`` query) and a
rollback. It runs on each engine twice:

* **without capture** — a plain engine (stdlib ``sqlite3`` connection / default
  psycopg cursor, no event listeners): the application without the plugin;
* **with capture** — the plugin's engine setup (recording cursors, the engine
  events of ``StatementCapture``) plus a ``LegRecorder`` per test, including
  ``finish()`` (normalisation) and the JSON-able statement dicts.

Short blocks of both variants alternate so drift hits both equally; each
variant's per-test time is the median of its fastest quarter of blocks (robust
against other processes on a shared machine). Target: capture adds at most 15 %.

Memory: the size of the statement dicts a leg keeps for the report (measured
with ``tracemalloc`` over many legs), extrapolated to a 10,000-test run (two
legs per test), for this 20-statement test and for a leg that hits the
default limits (``max_statements`` statements returning many rows: only
``max_cells`` values are kept, the rest is digested).

    python benchmarks/bench_capture.py [--tests 400] [--rounds 40]

PostgreSQL: ``DUALDB_PG_URL`` if set, else a private local server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

from sqlalchemy import (
    Boolean, DateTime, ForeignKey, Integer, Numeric, String, create_engine, event, func, select, text, update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from tabulate import tabulate

from dualdb.engines import postgres
from dualdb.engines import sqlite as sqlite_backend
from dualdb.capture.events import StatementCapture
from dualdb.capture.recorder import DEFAULT_MAX_CELLS, DEFAULT_MAX_ROWS, DEFAULT_MAX_STATEMENTS, LegRecorder

TARGET = 0.15
STATEMENTS = 20
RUN_TESTS = 10_000


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "bench_customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    joined: Mapped[dt.datetime] = mapped_column(DateTime, default=dt.datetime(2024, 1, 1))


class Purchase(Base):
    __tablename__ = "bench_purchases"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("bench_customers.id"))
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    items: Mapped[int] = mapped_column(Integer, default=1)


def body(session: Session) -> None:
    """Exactly 20 statements, shaped like an application test."""
    customers = []
    for i in range(4):  # 4 INSERT
        c = Customer(name=f"customer {i}", email=f"c{i}@example.com")
        session.add(c)
        session.flush()
        customers.append(c)
    for i, c in enumerate(customers):  # 4 INSERT
        session.add(Purchase(customer_id=c.id, total=Decimal("10.50") * (i + 1), items=i + 1))
        session.flush()
    session.scalars(select(Customer).order_by(Customer.name)).all()  # 1
    session.scalars(select(Purchase).where(Purchase.total > 5)).all()  # 1
    session.execute(select(Customer.name, func.sum(Purchase.total)).join(Purchase).group_by(Customer.name)).all()  # 1
    session.execute(update(Purchase).where(Purchase.items > 2).values(items=Purchase.items + 1))  # 1
    for c in customers[:3]:  # 3
        session.execute(select(Purchase.total).where(Purchase.customer_id == c.id)).all()
    session.execute(text("SELECT count(*) FROM bench_purchases")).scalar()  # 1
    session.scalar(select(func.count()).select_from(Customer).where(Customer.active.is_(True)))  # 1
    session.execute(update(Customer).where(Customer.id == customers[0].id).values(name="renamed"))  # 1
    session.execute(select(Customer.email).where(Customer.name.like("customer%"))).all()  # 1
    session.execute(select(Purchase.id).order_by(Purchase.id.desc()).limit(2)).all()  # 1


def heavy_body(session: Session) -> None:
    """A leg that hits the default limits: many statements, many rows each."""
    session.execute(
        Customer.__table__.insert(),
        [{"name": f"customer {i:04d}", "email": f"c{i}@example.com"} for i in range(200)],
    )
    for _ in range(DEFAULT_MAX_STATEMENTS + 20):
        session.execute(select(Customer.id, Customer.name, Customer.email, Customer.active)).all()


# -- engines ---------------------------------------------------------------------------


def sqlite_engines(folder: Path):
    plain = create_engine(f"sqlite+pysqlite:///{folder / 'plain.db'}")

    @event.listens_for(plain, "connect")
    def _no_driver_tx(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None

    @event.listens_for(plain, "begin")
    def _begin(conn):  # noqa: ANN001
        conn.exec_driver_sql("BEGIN")

    captured = sqlite_backend.make_engine(folder / "captured.db")
    return plain, captured


def pg_url() -> tuple[str, object]:
    url = os.environ.get("DUALDB_PG_URL")
    if url:
        return url, None
    from dualdb.engines.server.binaries import find_binaries
    from dualdb.engines.server.local import start_server

    server = start_server(find_binaries(os.environ.get("DUALDB_PG_BINARIES")))
    return server.url, server


def pg_engines(base_url: str):
    admin = postgres.admin_engine(postgres.parse_url(base_url))
    name = postgres.new_database_name()
    postgres.create_database(admin, name, "C")
    url = postgres.parse_url(base_url).set(database=name)
    plain = postgres.make_engine(url)
    captured = postgres.make_engine(url)

    def drop() -> None:
        plain.dispose()
        captured.dispose()
        postgres.drop_database(admin, name)
        admin.dispose()

    return plain, captured, drop


# -- measuring -------------------------------------------------------------------------


def one_test(engine, fn, capture: StatementCapture | None, backend: str):  # noqa: ANN001
    leg = None
    if capture is not None:
        leg = LegRecorder(backend)
        capture.start(leg)
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    try:
        fn(session)
    finally:
        session.close()
        outer.rollback()
        conn.close()
    if leg is not None:
        leg.finish()
        records = leg.statement_records()
        capture.stop()
        return records
    return None


def count_statements(engine, backend: str) -> int:  # noqa: ANN001
    seen = []

    def listener(conn, cursor, statement, *args):  # noqa: ANN001
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    one_test(engine, body, None, backend)
    event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def time_variants(plain, captured, capture, backend: str, tests: int, rounds: int) -> tuple[float, float]:  # noqa: ANN001
    """Per-test seconds without and with capture.

    Short blocks of the two variants alternate; each variant's time is the
    median of its fastest quarter of blocks, which filters out the pauses other
    processes on a shared machine cause without favouring either variant.
    """
    for _ in range(20):  # warm-up: pools, compiled caches
        one_test(plain, body, None, backend)
        one_test(captured, body, capture, backend)
    per_plain, per_captured = [], []
    block = 5
    gc.collect()
    for _ in range(max(rounds, tests // block)):
        for engine, cap, out in ((plain, None, per_plain), (captured, capture, per_captured)):
            start = time.perf_counter()
            for _ in range(block):
                one_test(engine, body, cap, backend)
            out.append((time.perf_counter() - start) / block)

    def fast(samples: list[float]) -> float:
        samples = sorted(samples)
        return statistics.median(samples[: max(1, len(samples) // 4)])

    return fast(per_plain), fast(per_captured)


def leg_bytes(engine, capture, backend: str, fn, legs: int) -> float:  # noqa: ANN001
    one_test(engine, fn, capture, backend)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [one_test(engine, fn, capture, backend) for _ in range(legs)]
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(kept) == legs
    return (after - before) / legs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=400, help="tests per variant and engine")
    parser.add_argument("--rounds", type=int, default=40, help="minimum alternating blocks (of 5 tests) per variant")
    args = parser.parse_args(argv)

    rows, memory_rows, failed = [], [], False
    with tempfile.TemporaryDirectory(prefix="dualdb-bench-") as folder:
        plain_s, captured_s = sqlite_engines(Path(folder))
        url, server = pg_url()
        plain_p, captured_p, drop = pg_engines(url)
        try:
            for backend, plain, captured in (("sqlite", plain_s, captured_s), ("postgresql", plain_p, captured_p)):
                for engine in (plain, captured):
                    Base.metadata.create_all(engine)
                capture = StatementCapture(captured)
                n = count_statements(plain, backend)
                assert n == STATEMENTS, f"the benchmark test body ran {n} statements, not {STATEMENTS}"
                without, with_ = time_variants(plain, captured, capture, backend, args.tests, args.rounds)
                added = with_ / without - 1
                failed |= added > TARGET
                rows.append([
                    backend, STATEMENTS, f"{without * 1000:.2f}", f"{with_ * 1000:.2f}",
                    f"{(with_ - without) * 1e6 / STATEMENTS:.1f}", f"{added:+.1%}",
                    "ok" if added <= TARGET else "OVER",
                ])
                typical = leg_bytes(captured, capture, backend, body, 200)
                memory_rows.append([
                    backend, f"typical ({STATEMENTS} statements)", f"{typical / 1024:.1f}",
                    f"{typical * 2 * RUN_TESTS / 2**20:.0f}",
                ])
                if backend == "sqlite":
                    heavy = leg_bytes(captured, capture, backend, heavy_body, 20)
                    memory_rows.append([
                        backend,
                        f"at the limits ({DEFAULT_MAX_STATEMENTS} stmts, {DEFAULT_MAX_ROWS} rows, "
                        f"{DEFAULT_MAX_CELLS} values)",
                        f"{heavy / 1024:.1f}",
                        f"{heavy * 2 * RUN_TESTS / 2**20:.0f}",
                    ])
        finally:
            drop()
            if server is not None:
                server.stop()

    print(tabulate(
        rows,
        headers=["engine", "statements", "without capture (ms/test)", "with capture (ms/test)",
                 "added per statement (µs)", "added", f"target ≤ {TARGET:.0%}"],
        tablefmt="github",
    ))
    print()
    print(tabulate(
        memory_rows,
        headers=["engine", "leg", "kept per leg (KiB)", f"{RUN_TESTS:,} tests × 2 legs (MiB)"],
        tablefmt="github",
    ))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
