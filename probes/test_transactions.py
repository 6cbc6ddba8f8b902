"""Transactions: what happens after an error.

On PostgreSQL a failed statement *aborts the whole transaction*: every later
statement fails with ``current transaction is aborted, commands ignored until end
of transaction block`` until the application rolls back (to a savepoint or
entirely). SQLite only undoes the failed statement and carries on, so "try it and
catch the error" code that works on SQLite breaks on PostgreSQL at the first
duplicate. The portable pattern is a savepoint around the statement that may fail:
``with session.begin_nested():`` / ``with connection.begin_nested():``.

PostgreSQL also has transaction-scoped tools SQLite lacks (``SET LOCAL``, advisory
locks). The look-alikes show what both engines share: savepoints, transactional
DDL, the ORM's own "rollback required" guard.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, PendingRollbackError

from dualdb.probes.models import Product, Tag

ROWS = [{"sku": "A-1", "name": "Pencil", "price": 1},
        {"sku": "A-1", "name": "Pencil (duplicate line)", "price": 1},
        {"sku": "A-2", "name": "Eraser", "price": 2},
        {"sku": "A-3", "name": "Ruler", "price": 3}]


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="transactions", expect="diverged")
def test_bulk_import_skips_duplicate_rows(db_connection):
    """Catching an IntegrityError and carrying on in the same transaction.

    App: the catalog import inserts row by row and counts duplicates instead of
    failing: ``try: conn.execute(insert(...)) except IntegrityError: skipped += 1``.
    SQLite: the failed INSERT is undone, the transaction continues: 3 imported,
    1 skipped.
    PostgreSQL: the duplicate aborts the transaction; the next INSERT fails with
    ``current transaction is aborted, commands ignored until end of transaction
    block`` (InFailedSqlTransaction) — not an IntegrityError, so it escapes.
    Fix: a savepoint per row (``with conn.begin_nested(): conn.execute(...)``), and
    better, skip known keys before inserting (see the ``_fixed`` test).
    """
    imported = skipped = 0
    for row in ROWS:
        try:
            db_connection.execute(insert(Product).values(**row))
            imported += 1
        except IntegrityError:
            skipped += 1

    assert (imported, skipped) == (3, 1)


@pytest.mark.probe(category="transactions", expect="same")
def test_bulk_import_skips_duplicate_rows_fixed(db_connection):
    """Fix for ``test_bulk_import_skips_duplicate_rows``: skip known keys *before*
    inserting, so no statement fails; a savepoint still guards the INSERT against a
    concurrent duplicate. (Catching the error in a savepoint alone also works, but
    the failed INSERT has consumed a PostgreSQL sequence value, so the following
    ids differ from SQLite's — see ``test_sequences.py``.)"""
    known = set(db_connection.scalars(select(Product.sku)))
    imported = skipped = 0
    for row in ROWS:
        if row["sku"] in known:
            skipped += 1
            continue
        try:
            with db_connection.begin_nested():
                db_connection.execute(insert(Product).values(**row))
        except IntegrityError:
            skipped += 1
        else:
            known.add(row["sku"])
            imported += 1

    assert (imported, skipped) == (3, 1)
    assert db_connection.scalar(select(func.count()).select_from(Product)) == 3


def _get_or_create_tag(session, name: str) -> Tag:
    """Insert the tag; if another request created it first, load it."""
    try:
        session.execute(insert(Tag).values(name=name))
    except IntegrityError:
        pass  # already there
    return session.scalars(select(Tag).where(Tag.name == name)).one()


@pytest.mark.probe(category="transactions", expect="diverged")
def test_get_or_create_tag_that_already_exists(db_session):
    """"Insert, and on IntegrityError select" without a savepoint.

    App: ``_get_or_create_tag`` (above) tolerates the race where the tag already
    exists.
    SQLite: the failed INSERT is forgotten; the SELECT returns the existing tag.
    PostgreSQL: the SELECT fails: ``current transaction is aborted``.
    Fix: ``with session.begin_nested(): session.execute(insert(...))`` around the
    INSERT (see the ``_fixed`` test).
    """
    db_session.add(Tag(name="python"))
    db_session.commit()

    tag = _get_or_create_tag(db_session, "python")

    assert tag.name == "python"


def _get_or_create_tag_with_savepoint(session, name: str) -> Tag:
    try:
        with session.begin_nested():
            session.execute(insert(Tag).values(name=name))
    except IntegrityError:
        pass
    return session.scalars(select(Tag).where(Tag.name == name)).one()


@pytest.mark.probe(category="transactions", expect="same")
def test_get_or_create_tag_that_already_exists_fixed(db_session):
    """Fix for ``test_get_or_create_tag_that_already_exists``: a savepoint."""
    db_session.add(Tag(name="python"))
    db_session.commit()

    tag = _get_or_create_tag_with_savepoint(db_session, "python")

    assert tag.name == "python"


def _load_settings(session) -> dict:
    """Optional per-site settings; the table only exists on some deployments."""
    try:
        return dict(session.execute(text("SELECT key, value FROM site_settings")).all())
    except DBAPIError:
        return {"currency": "EUR"}


@pytest.mark.probe(category="transactions", expect="diverged")
def test_optional_settings_table_falls_back_to_defaults(db_session, make_product):
    """Probing for an optional table and continuing.

    App: ``_load_settings`` (above) reads an optional ``site_settings`` table and
    falls back to defaults when the query fails; the request then goes on to list
    products.
    SQLite: ``no such table`` is caught; the product query works.
    PostgreSQL: ``relation "site_settings" does not exist`` is caught, but the
    transaction is now aborted: the product query fails with ``current transaction
    is aborted``.
    Fix: check first (``sqlalchemy.inspect(conn).has_table(...)``), or run the probe
    inside ``session.begin_nested()``.
    """
    make_product("Pen")

    settings = _load_settings(db_session)
    names = db_session.scalars(select(Product.name)).all()

    assert (settings["currency"], names) == ("EUR", ["Pen"])


@pytest.mark.probe(category="transactions", expect="same")
def test_optional_settings_table_falls_back_to_defaults_fixed(db_session, make_product):
    """Fix for ``test_optional_settings_table_falls_back_to_defaults``: the probe
    runs in a savepoint, which is rolled back on failure on both engines."""
    make_product("Pen")

    try:
        with db_session.begin_nested():
            settings = dict(db_session.execute(text("SELECT key, value FROM site_settings")).all())
    except DBAPIError:
        settings = {"currency": "EUR"}
    names = db_session.scalars(select(Product.name)).all()

    assert (settings["currency"], names) == ("EUR", ["Pen"])


@pytest.mark.probe(category="transactions", expect="diverged")
def test_report_sets_local_statement_timeout(db_session, make_product):
    """``SET LOCAL``: settings scoped to the transaction (PostgreSQL-first code).

    App: the heavy report protects the database with ``SET LOCAL statement_timeout =
    '5s'`` before its query; the setting ends with the transaction.
    PostgreSQL: works.
    SQLite: ``near "SET": syntax error`` — SQLite has no session settings (only
    connection-level ``PRAGMA``\\ s).
    Fix: guard dialect-specific statements with ``if
    session.bind.dialect.name == "postgresql"`` (and test both branches).
    """
    make_product("Pen")

    db_session.execute(text("SET LOCAL statement_timeout = '5s'"))
    count = db_session.scalar(select(func.count()).select_from(Product))

    assert count == 1


@pytest.mark.probe(category="transactions", expect="diverged")
def test_nightly_job_takes_advisory_lock(db_session):
    """Transaction-scoped advisory locks (PostgreSQL-first code).

    App: the nightly invoicing job makes sure it runs once with
    ``func.pg_try_advisory_xact_lock(4242)``; the lock is released at commit.
    PostgreSQL: returns ``True``.
    SQLite: ``no such function: pg_try_advisory_xact_lock``.
    Fix: on SQLite the only lock is the database write lock (``BEGIN IMMEDIATE``);
    use a lock row (``INSERT INTO job_locks ...`` with a unique key) for a portable
    mutex.
    """
    got_lock = db_session.scalar(select(func.pg_try_advisory_xact_lock(4242)))

    assert got_lock is True


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="transactions", expect="same")
def test_savepoint_rollback_discards_only_inner_work(db_session):
    """Look-alike: a rolled-back savepoint discards its own work and keeps what came
    before, on both engines."""
    db_session.add(Tag(name="kept"))
    db_session.flush()

    savepoint = db_session.begin_nested()
    db_session.add(Tag(name="discarded"))
    db_session.flush()
    savepoint.rollback()

    assert db_session.scalars(select(Tag.name)).all() == ["kept"]


@pytest.mark.probe(category="transactions", expect="same")
def test_ddl_is_transactional(db_connection):
    """Look-alike: ``CREATE TABLE`` inside a transaction is undone by a rollback on
    both engines (SQLite and PostgreSQL both have transactional DDL; MySQL does not)."""
    savepoint = db_connection.begin_nested()
    db_connection.execute(text("CREATE TABLE import_scratch (id INTEGER PRIMARY KEY)"))
    created = inspect(db_connection).has_table("import_scratch")
    savepoint.rollback()

    assert (created, inspect(db_connection).has_table("import_scratch")) == (True, False)


@pytest.mark.probe(category="transactions", expect="same")
def test_session_requires_rollback_after_failed_flush(db_session):
    """Look-alike: after a failed *flush* the ORM itself refuses further work
    (``PendingRollbackError``) on both engines, until ``rollback()``."""
    db_session.add(Tag(name="python"))
    db_session.commit()

    db_session.add(Tag(name="python"))
    with pytest.raises(IntegrityError):
        db_session.flush()
    with pytest.raises(PendingRollbackError):
        db_session.scalars(select(Tag)).all()
    db_session.rollback()

    assert db_session.scalars(select(Tag.name)).all() == ["python"]
