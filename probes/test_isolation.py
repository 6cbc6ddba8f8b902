"""Concurrency: two connections at once.

SQLite has one writer per *database file*: the first connection that writes takes
a database-wide RESERVED lock until it commits, a second writer waits (``busy
timeout``) and then fails with ``database is locked``; ``SELECT ... FOR UPDATE`` is
silently dropped by SQLAlchemy's SQLite compiler. PostgreSQL locks *rows*, honours
``FOR UPDATE`` / ``NOWAIT`` / ``SKIP LOCKED``, and gives every transaction a
snapshot (per statement in READ COMMITTED, per transaction in REPEATABLE READ and
SERIALIZABLE).

Every probe here uses ``two_connections`` (see ``conftest.py``): two connections to
the test's own fresh database (``db_fresh_engine``), as two concurrent requests of
the application would have, with lock waits capped at 200 ms on both engines so
that nothing can hang. The SQLite engine is a plain ``create_engine(url)``: the
pysqlite driver opens its transaction implicitly before the first
INSERT/UPDATE/DELETE, exactly as in the application.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import OperationalError

from dualdb.probes.models import Account, AuditLog, Job, Order, Product, User


def _seed(session, *objects):
    session.add_all(objects)
    session.commit()


def _claim_next_job(conn, worker: str) -> int:
    """The application's queue worker: lock the oldest queued job, mark it running."""
    job_id = conn.scalar(
        select(Job.id)
        .where(Job.status == "queued")
        .order_by(Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    conn.execute(update(Job).where(Job.id == job_id).values(status="running", worker=worker))
    return job_id


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="isolation", expect="diverged")
def test_two_workers_claim_different_jobs(fresh_session, two_connections):
    """A job queue built on ``SELECT ... FOR UPDATE SKIP LOCKED``.

    App: each worker claims the oldest queued job with
    ``with_for_update(skip_locked=True)`` and marks it running before committing.
    PostgreSQL: worker A's row lock makes worker B skip job 1 and take job 2.
    SQLite: ``FOR UPDATE SKIP LOCKED`` is dropped from the SQL; worker B selects job 1
    again, and its UPDATE then waits for A's database-wide write lock and fails:
    ``database is locked``.
    Why: SQLite has no row locks; concurrency control is one writer per file.
    Fix: test queue code on PostgreSQL. If SQLite must be supported, claim with a
    single conditional ``UPDATE jobs SET worker=:w WHERE id=:id AND status='queued'``
    and check ``rowcount``, and retry on ``database is locked``.
    """
    _seed(fresh_session, Job(name="resize images"), Job(name="send newsletter"))
    worker_a, worker_b = two_connections

    job_a = _claim_next_job(worker_a, "a")
    job_b = _claim_next_job(worker_b, "b")
    worker_a.commit()
    worker_b.commit()

    assert job_a != job_b


@pytest.mark.probe(category="isolation", expect="diverged")
def test_concurrent_transfers_on_different_accounts(fresh_session, two_connections):
    """Two writers touching different rows.

    App: two requests debit two different accounts at the same time; each runs
    ``UPDATE accounts SET balance = balance - :x WHERE id = :id`` and commits.
    PostgreSQL: row-level locks; the updates do not conflict, both commit.
    SQLite: request A's UPDATE takes the database-wide write lock; request B's
    UPDATE (another row!) waits for the busy timeout and fails with ``database is
    locked``.
    Fix: on SQLite, keep write transactions very short, set a generous
    ``busy_timeout``/WAL and retry on ``database is locked``; the real fix is to
    test concurrency on the production engine.
    """
    _seed(fresh_session, Account(owner="alice", balance=Decimal("100")),
          Account(owner="bob", balance=Decimal("100")))
    request_a, request_b = two_connections

    request_a.execute(update(Account).where(Account.owner == "alice")
                      .values(balance=Account.balance - 30))
    request_b.execute(update(Account).where(Account.owner == "bob")
                      .values(balance=Account.balance - 20))
    request_a.commit()
    request_b.commit()

    balances = dict(fresh_session.execute(select(Account.owner, Account.balance)).all())
    assert balances == {"alice": Decimal("70.00"), "bob": Decimal("80.00")}


@pytest.mark.probe(category="isolation", expect="diverged")
def test_audit_write_blocks_unrelated_signup(fresh_session, two_connections):
    """Writers on *unrelated tables* block each other on SQLite.

    App: a long-running admin request has written an audit row and not yet
    committed; meanwhile a visitor signs up (an INSERT into ``users``).
    PostgreSQL: the two transactions touch different tables; the signup commits.
    SQLite: the lock is per database file, not per table: the signup's INSERT fails
    with ``database is locked`` after the busy timeout.
    Fix: short write transactions and retries on SQLite; test on PostgreSQL.
    """
    admin, visitor = two_connections

    admin.execute(insert(AuditLog).values(action="bulk price update started"))
    visitor.execute(insert(User).values(email="new@example.com", username="new",
                                        first_name="New", last_name="User"))
    visitor.commit()
    admin.commit()

    assert fresh_session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.probe(category="isolation", expect="diverged")
def test_second_checkout_is_rejected_with_nowait(fresh_session, two_connections):
    """``FOR UPDATE NOWAIT`` as a "someone else is editing this" guard.

    App: checkout locks the order with ``with_for_update(nowait=True)``; a second
    checkout of the same order must fail fast (the test expects an
    ``OperationalError``) instead of double-charging.
    PostgreSQL: the second ``SELECT ... FOR UPDATE NOWAIT`` raises ``could not obtain
    lock on row`` (``LockNotAvailable``).
    SQLite: ``FOR UPDATE NOWAIT`` is silently dropped; the second checkout reads the
    order happily and no error is raised.
    Fix: do not rely on row locks where SQLite is in play; guard with a conditional
    UPDATE (``... WHERE status = 'pending'`` and check ``rowcount``), which is atomic
    on both engines.
    """
    _seed(fresh_session, User(id=1, email="a@x.org", username="a", first_name="A",
                              last_name="B"))
    _seed(fresh_session, Order(user_id=1, total=Decimal("50")))
    first, second = two_connections

    lock_order = select(Order.id).where(Order.id == 1).with_for_update(nowait=True)
    first.execute(lock_order)

    with pytest.raises(OperationalError):
        second.execute(lock_order)


@pytest.mark.probe(category="isolation", expect="diverged")
def test_report_totals_are_consistent_in_serializable_transaction(fresh_session, two_connections):
    """A report that reads twice inside one SERIALIZABLE transaction.

    App: the end-of-day report opens a transaction with
    ``execution_options(isolation_level="SERIALIZABLE")`` and counts orders twice
    (once for the header, once for the detail); an order is committed in between.
    PostgreSQL: a SERIALIZABLE (snapshot) transaction sees the same data for all its
    statements: both counts are 1.
    SQLite (pysqlite's default transaction handling): ``SELECT`` statements do not
    open a transaction at all, each one sees the latest committed data: 1, then 2.
    Fix: make the report one statement, or open the read transaction explicitly on
    SQLite (``BEGIN`` via the pysqlite recipe / ``autocommit=False`` on Python 3.12+).
    """
    _seed(fresh_session, User(id=1, email="a@x.org", username="a", first_name="A",
                              last_name="B"))
    _seed(fresh_session, Order(user_id=1, total=Decimal("10")))
    report, shop = two_connections
    report = report.execution_options(isolation_level="SERIALIZABLE")

    count_orders = select(func.count()).select_from(Order)
    header_count = report.scalar(count_orders)
    shop.execute(insert(Order).values(user_id=1, total=Decimal("20"), status="pending"))
    shop.commit()
    detail_count = report.scalar(count_orders)
    report.commit()

    assert header_count == detail_count


@pytest.mark.probe(category="isolation", expect="diverged")
def test_export_stream_blocks_price_update(fresh_session, two_connections):
    """An open read cursor blocks another connection's commit on SQLite.

    App: a CSV export streams products (it has read the first row and is still
    iterating) while an admin commits a price change.
    PostgreSQL: MVCC — readers never block writers; the update commits.
    SQLite (rollback journal, the default): the unfinished read holds a SHARED lock
    on the whole file; the writer's COMMIT needs an EXCLUSIVE lock and fails with
    ``database is locked`` after the busy timeout.
    Fix: fetch the export fully (``.all()``) before doing anything else, or use WAL
    mode on SQLite (``PRAGMA journal_mode=WAL``: readers no longer block the writer).
    """
    _seed(fresh_session, *[Product(sku=f"P{i}", name=f"Product {i}", price=Decimal("5"))
                           for i in range(50)])
    export, admin = two_connections

    rows = export.execute(select(Product.sku, Product.price).order_by(Product.id))
    first_row = rows.fetchone()
    admin.execute(update(Product).where(Product.sku == "P1").values(price=Decimal("6")))
    admin.commit()
    rest = rows.fetchall()

    assert first_row.sku == "P0" and len(rest) == 49


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="isolation", expect="same")
def test_read_modify_write_loses_an_update(fresh_session, two_connections):
    """Look-alike: the classic lost update happens on both engines.

    Two requests read the balance (100), each adds its amount in Python and writes
    the result back, one after the other. READ COMMITTED PostgreSQL and SQLite both
    end with 120: the +10 is lost. (The fix, an atomic ``SET balance = balance +
    :x``, is ``test_atomic_increment_keeps_both_updates``.)"""
    _seed(fresh_session, Account(owner="alice", balance=Decimal("100")))
    request_a, request_b = two_connections
    read = select(Account.balance).where(Account.owner == "alice")

    balance_a = request_a.scalar(read)
    balance_b = request_b.scalar(read)
    request_a.execute(update(Account).values(balance=balance_a + 10))
    request_a.commit()
    request_b.execute(update(Account).values(balance=balance_b + 20))
    request_b.commit()

    fresh_session.expire_all()
    assert fresh_session.scalar(select(Account.balance)) == Decimal("120")


@pytest.mark.probe(category="isolation", expect="same")
def test_atomic_increment_keeps_both_updates(fresh_session, two_connections):
    """Look-alike: an atomic ``UPDATE ... SET balance = balance + :x`` keeps both
    increments on both engines when the writers commit one after the other."""
    _seed(fresh_session, Account(owner="alice", balance=Decimal("100")))
    request_a, request_b = two_connections

    request_a.execute(update(Account).values(balance=Account.balance + 10))
    request_a.commit()
    request_b.execute(update(Account).values(balance=Account.balance + 20))
    request_b.commit()

    assert fresh_session.scalar(select(Account.balance)) == Decimal("130")


@pytest.mark.probe(category="isolation", expect="same")
def test_uncommitted_signup_is_invisible_to_others(fresh_session, two_connections):
    """Look-alike: no dirty reads on either engine. Another connection does not see
    an uncommitted INSERT, and sees it right after COMMIT."""
    signup, admin = two_connections
    count_users = select(func.count()).select_from(User)

    signup.execute(insert(User).values(email="n@x.org", username="n", first_name="N",
                                       last_name="M"))
    before_commit = admin.scalar(count_users)
    admin.rollback()
    signup.commit()
    after_commit = admin.scalar(count_users)

    assert (before_commit, after_commit) == (0, 1)
