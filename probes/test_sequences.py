"""Generated ids: SQLite's ``max(rowid) + 1`` versus PostgreSQL sequences.

An ``INTEGER PRIMARY KEY`` in SQLite is the rowid, and a new row gets one more than
the largest rowid *currently in the table* (unless ``AUTOINCREMENT``): ids of deleted
or rolled-back rows come back, and explicit ids move the counter. A PostgreSQL
``SERIAL``/identity column draws from a sequence: it never goes back (not on
DELETE, not on ROLLBACK, not after a failed INSERT) and it ignores explicit ids —
so the next generated id may collide with one a fixture inserted by hand.

Note: the dualdb plugin resets PostgreSQL sequences before each test, so ids start
at 1 in every test on both engines, as SQLite's do after the rollback (see the
look-alike ``test_first_ids_start_at_one``). The divergences below are what happens
*within* a test — and in production.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from dualdb.probes.models import Account, AuditLog, Order, Product, Tag


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="sequences", expect="diverged")
def test_new_tag_after_seeding_explicit_ids(db_session):
    """Explicit ids in seed data, then a generated one.

    App: a fixture seeds ``Tag(id=1, name="python")`` (explicit id, to reference it
    in URLs); the test then creates a tag through the normal code path.
    SQLite: the next rowid is ``max(id) + 1`` = 2.
    PostgreSQL: the sequence was never used, so it hands out 1: ``duplicate key value
    violates unique constraint "tags_pkey"``.
    Fix: do not give explicit ids to generated keys — seed without ids and use the
    returned ``tag.id`` (see the ``_fixed`` test); if ids must be fixed, advance the
    sequence afterwards (``SELECT setval('tags_id_seq', max(id)) FROM tags``).
    """
    db_session.add(Tag(id=1, name="python"))
    db_session.commit()

    db_session.add(Tag(name="sql"))
    db_session.commit()

    assert db_session.scalar(select(func.count()).select_from(Tag)) == 2


@pytest.mark.probe(category="sequences", expect="same")
def test_new_tag_after_seeding_explicit_ids_fixed(db_session):
    """Fix for ``test_new_tag_after_seeding_explicit_ids``: seed without ids and keep
    the object (or look it up by its natural key)."""
    python = Tag(name="python")
    db_session.add(python)
    db_session.commit()

    db_session.add(Tag(name="sql"))
    db_session.commit()

    assert db_session.scalar(select(Tag.name).where(Tag.id == python.id)) == "python"
    assert db_session.scalar(select(func.count()).select_from(Tag)) == 2


@pytest.mark.probe(category="sequences", expect="diverged")
def test_new_product_after_deleting_the_last_one(db_session, make_product, observe):
    """A deleted id comes back on SQLite (silent: both pass).

    App: product 3 is deleted; the next product created gets a URL ``/products/{id}``
    (old links, caches and audit logs still point at 3).
    SQLite: rowid ``max + 1`` = 3 again — old links now show the new product.
    PostgreSQL: 4 (sequences never go back).
    Fix: on SQLite use ``AUTOINCREMENT`` (``__table_args__ = {"sqlite_autoincrement":
    True}``, see ``AuditLog`` and the ``_fixed`` test), or public ids that are never
    reused (UUIDs).
    """
    for name in ["Pen", "Ink", "Cap"]:
        make_product(name)
    db_session.execute(delete(Product).where(Product.name == "Cap"))

    new = make_product("Nib")

    observe("new product id", new.id)
    assert new.id > 2


@pytest.mark.probe(category="sequences", expect="same")
def test_new_product_after_deleting_the_last_one_fixed(db_session, observe):
    """Fix for ``test_new_product_after_deleting_the_last_one``: a table declared
    with ``sqlite_autoincrement=True`` (``AuditLog``) never reuses ids on SQLite
    either, so both engines hand out 4."""
    for action in ["login", "logout", "login"]:
        db_session.add(AuditLog(action=action))
    db_session.flush()
    db_session.execute(delete(AuditLog).where(AuditLog.id == 3))

    entry = AuditLog(action="password reset")
    db_session.add(entry)
    db_session.flush()

    observe("new audit id", entry.id)
    assert entry.id == 4


@pytest.mark.probe(category="sequences", expect="diverged")
def test_account_numbers_have_no_gaps(db_session):
    """A failed INSERT consumes a sequence value.

    App: account numbers are the ``Account.id``; the bank's auditors require them
    without gaps. Opening one account fails (a negative opening balance violates
    ``CHECK (balance >= 0)``; the service catches it in a savepoint) between two
    good ones.
    SQLite: the failed row never took its rowid: numbers 1, 2.
    PostgreSQL: ``nextval()`` ran before the CHECK failed and is not rolled back:
    numbers 1, 3.
    Fix: never use a sequence for numbers that must be gap-free; assign them from a
    counter row under a lock, at a point where the transaction can no longer fail.
    """
    db_session.add(Account(owner="alice", balance=Decimal("10")))
    db_session.flush()
    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            db_session.add(Account(owner="mallory", balance=Decimal("-5")))
    db_session.add(Account(owner="bob", balance=Decimal("0")))
    db_session.flush()

    numbers = db_session.scalars(select(Account.id).order_by(Account.id)).all()

    assert numbers == [1, 2]


@pytest.mark.probe(category="sequences", expect="diverged")
def test_order_number_after_a_rolled_back_checkout(db_session, make_user, observe):
    """A rolled-back INSERT: the id is reused on SQLite only (silent: both pass).

    App: a checkout inserts the order, then payment fails and the savepoint is rolled
    back; the next checkout succeeds and shows "order #N" to the customer.
    SQLite: the rolled-back rowid is free again: order #1.
    PostgreSQL: the sequence value was consumed: order #2.
    Fix: don't show database ids as business numbers, or accept (and test for) gaps.
    """
    alice = make_user("Alice")
    checkout = db_session.begin_nested()
    db_session.add(Order(user=alice))
    db_session.flush()
    checkout.rollback()

    order = Order(user=alice)
    db_session.add(order)
    db_session.flush()

    observe("order number", order.id)
    assert order.id >= 1


@pytest.mark.probe(category="sequences", expect="diverged")
def test_tag_after_importing_legacy_ids(db_session, observe):
    """Importing rows with their legacy ids (silent: both pass).

    App: a migration copies tags with their old ids (100, 101); then an editor
    creates a new tag.
    SQLite: ``max(rowid) + 1``: 102.
    PostgreSQL: the untouched sequence: 1 (and later, when it reaches 100, a
    duplicate-key error in production).
    Fix: after importing explicit ids, move the sequence:
    ``SELECT setval(pg_get_serial_sequence('tags', 'id'), max(id)) FROM tags``.
    """
    db_session.execute(insert(Tag), [{"id": 100, "name": "legacy-a"},
                                     {"id": 101, "name": "legacy-b"}])
    tag = Tag(name="fresh")
    db_session.add(tag)
    db_session.flush()

    observe("new tag id", tag.id)
    assert tag.id is not None


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="sequences", expect="same")
def test_first_ids_start_at_one(db_session, make_product, observe):
    """Look-alike (thanks to the harness): every test starts with ids at 1 on both
    engines — the plugin resets PostgreSQL sequences before each test, mirroring
    SQLite's rowids after the previous test's rollback."""
    ids = [make_product(name).id for name in ["Pen", "Ink"]]

    observe("ids", ids)
    assert ids == [1, 2]


@pytest.mark.probe(category="sequences", expect="same")
def test_bulk_insert_returning_ids_in_order(db_session, observe):
    """Look-alike: a multi-row ``INSERT ... RETURNING`` with
    ``sort_by_parameter_order=True`` gives the generated ids in parameter order on
    both engines (SQLAlchemy guarantees the correlation)."""
    rows = db_session.execute(
        insert(Tag).returning(Tag.id, Tag.name, sort_by_parameter_order=True),
        [{"name": "c"}, {"name": "a"}, {"name": "b"}],
    ).all()

    observe("returned", [tuple(row) for row in rows])
    assert [row.name for row in rows] == ["c", "a", "b"]
