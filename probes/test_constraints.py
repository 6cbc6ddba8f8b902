"""Constraints: what the database refuses.

SQLite ships with foreign-key enforcement *off* (``PRAGMA foreign_keys`` defaults to
0 for backwards compatibility), so ``ForeignKey`` columns accept any value, deleting
a referenced row succeeds, and ``ON DELETE CASCADE`` never fires. It also allows NULL
in a non-integer PRIMARY KEY (a documented legacy bug). PostgreSQL enforces all of
these. ``CHECK``, ``NOT NULL`` and ``UNIQUE`` are enforced by both — the look-alikes
show it.

Fix on the SQLite side: ``PRAGMA foreign_keys=ON`` on every connection (an engine
``connect`` event; mirror it in the plugin with ini ``dualdb_sqlite_pragmas``), and
write the application so it never relies on the database *not* checking.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from dualdb.probes.models import Account, Author, Country, Order, OrderItem, Post, Product, User


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="constraints", expect="diverged")
def test_order_for_unknown_user(db_session):
    """A foreign key to a row that does not exist.

    App: the checkout creates ``Order(user_id=user_id)`` from the session cookie; the
    test uses a made-up id and never creates the user.
    SQLite: foreign keys are not enforced by default; the order is saved.
    PostgreSQL: ``insert or update on table "orders" violates foreign key constraint``
    (IntegrityError).
    Fix: create the referenced rows in tests (fixtures), check existence in the
    service, and turn enforcement on in SQLite (``PRAGMA foreign_keys=ON``).
    """
    db_session.add(Order(user_id=999, total=Decimal("25.00")))
    db_session.commit()

    assert db_session.scalar(select(func.count()).select_from(Order)) == 1


def _place_order(session, user_id: int, total: Decimal) -> Order:
    """The fixed service: refuse an order for a user that does not exist."""
    user = session.get(User, user_id)
    if user is None:
        raise LookupError(f"no user {user_id}")
    order = Order(user=user, total=total)
    session.add(order)
    session.commit()
    return order


@pytest.mark.probe(category="constraints", expect="same")
def test_order_for_unknown_user_fixed(db_session, make_user):
    """Fix for ``test_order_for_unknown_user``: the service checks the user exists
    (and the test creates one), so the database's FK policy no longer matters."""
    with pytest.raises(LookupError):
        _place_order(db_session, 999, Decimal("25.00"))

    alice = make_user("Alice")
    _place_order(db_session, alice.id, Decimal("25.00"))

    assert db_session.scalar(select(func.count()).select_from(Order)) == 1


@pytest.mark.probe(category="constraints", expect="diverged")
def test_delete_author_removes_their_posts(db_session, author, make_post, observe):
    """``ON DELETE CASCADE`` only fires where foreign keys are enforced (silent:
    both pass).

    App: ``Post.author_id`` is ``ForeignKey("authors.id", ondelete="CASCADE")``; the
    admin deletes an author with a bulk ``delete(Author)``.
    SQLite: FKs off, so no cascade: the two posts stay behind as orphans.
    PostgreSQL: the cascade deletes them: 0 posts left.
    Fix: enable ``PRAGMA foreign_keys=ON`` on SQLite, or delete the children
    explicitly in the service (see the ``_fixed`` test) so both engines agree.
    """
    make_post("One")
    make_post("Two")

    db_session.execute(delete(Author).where(Author.id == author.id))
    db_session.commit()

    remaining_posts = db_session.scalar(select(func.count()).select_from(Post))
    observe("posts left after deleting their author", remaining_posts)
    assert db_session.get(Author, author.id) is None


@pytest.mark.probe(category="constraints", expect="same")
def test_delete_author_removes_their_posts_fixed(db_session, author, make_post, observe):
    """Fix for ``test_delete_author_removes_their_posts``: delete the children first."""
    make_post("One")
    make_post("Two")

    db_session.execute(delete(Post).where(Post.author_id == author.id))
    db_session.execute(delete(Author).where(Author.id == author.id))
    db_session.commit()

    remaining_posts = db_session.scalar(select(func.count()).select_from(Post))
    observe("posts left after deleting their author", remaining_posts)
    assert remaining_posts == 0


@pytest.mark.probe(category="constraints", expect="diverged")
def test_delete_account_of_customer_with_orders(db_session, make_user):
    """Deleting a row other rows still reference.

    App: "delete my account" runs ``delete(User).where(User.id == ...)``; the user has
    an order (``orders.user_id`` has no ``ON DELETE`` action: RESTRICT/NO ACTION).
    SQLite: FKs off; the user is deleted and the order now points nowhere.
    PostgreSQL: ``update or delete on table "users" violates foreign key constraint
    "orders_user_id_fkey"`` (IntegrityError).
    Fix: decide what happens to the orders (anonymise, delete, ``ondelete="SET
    NULL"``) and do it explicitly; turn on FK enforcement in SQLite.
    """
    alice = make_user("Alice")
    db_session.add(Order(user=alice, total=Decimal("10")))
    db_session.commit()

    db_session.execute(delete(User).where(User.id == alice.id))
    db_session.commit()

    assert db_session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.probe(category="constraints", expect="diverged")
def test_import_country_without_code(db_session):
    """NULL in a non-integer PRIMARY KEY.

    App: a reference-data import inserts countries with Core ``insert(Country)``;
    one CSV row has an empty code that became ``None``.
    SQLite: for historical reasons a PRIMARY KEY that is not ``INTEGER PRIMARY KEY``
    accepts NULL (unless the table is ``STRICT``/``WITHOUT ROWID``); the row is
    stored.
    PostgreSQL: a primary key is implicitly NOT NULL: ``null value in column "code"
    ... violates not-null constraint``.
    (``Country.code`` is annotated ``Optional[str]``, so SQLAlchemy emits no
    ``NOT NULL`` and only PostgreSQL's implicit one protects the key.)
    Fix: validate required fields at import, and declare key columns non-optional
    (``Mapped[str]`` / ``nullable=False``) so SQLite gets an explicit ``NOT NULL``.
    """
    db_session.execute(insert(Country), [{"code": "FR", "name": "France"},
                                         {"code": None, "name": "Unknown"}])
    db_session.commit()

    assert db_session.scalar(select(func.count()).select_from(Country)) == 2


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="constraints", expect="same")
def test_check_constraint_rejects_zero_quantity(db_session, make_user, make_product):
    """Look-alike: CHECK constraints are enforced by both engines (SQLite has
    enforced them since 3.3): ``quantity > 0`` rejects 0 with IntegrityError."""
    order = Order(user=make_user("Alice"))
    db_session.add(order)
    db_session.flush()

    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            db_session.add(OrderItem(order=order, product=make_product("Pen"), quantity=0,
                                     unit_price_cents=100))


@pytest.mark.probe(category="constraints", expect="same")
def test_unique_sku_is_enforced(db_session, make_product):
    """Look-alike: UNIQUE is enforced by both engines; the duplicate raises
    IntegrityError and the savepoint lets the session carry on."""
    make_product("Pen", sku="PEN-1")

    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            make_product("Another pen", sku="PEN-1")

    assert db_session.scalar(select(func.count()).select_from(Product)) == 1


@pytest.mark.probe(category="constraints", expect="same")
def test_not_null_rejects_none_but_accepts_empty_string(db_session, make_product):
    """Look-alike: NOT NULL rejects ``None`` and accepts ``''`` on both engines (an
    empty string is a value, unlike in Oracle)."""
    make_product("")  # an empty name is allowed by NOT NULL

    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            make_product(None)

    assert db_session.scalars(select(Product.name)).all() == [""]


@pytest.mark.probe(category="constraints", expect="same")
def test_check_constraint_on_account_balance(db_session):
    """Look-alike: a withdrawal that would make the balance negative violates
    ``CHECK (balance >= 0)`` on both engines, and the whole UPDATE is undone
    (statement atomicity), also for a multi-row UPDATE."""
    db_session.add_all([Account(owner="alice", balance=Decimal("50")),
                        Account(owner="bob", balance=Decimal("5"))])
    db_session.flush()

    with pytest.raises(IntegrityError):
        with db_session.begin_nested():
            db_session.execute(update(Account).values(balance=Account.balance - 10))

    balances = db_session.scalars(select(Account.balance).order_by(Account.id)).all()
    assert balances == [Decimal("50"), Decimal("5")]
