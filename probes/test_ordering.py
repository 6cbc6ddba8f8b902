"""Row order when the query does not fully define it.

Without ``ORDER BY`` SQL promises no order. In practice SQLite returns a table scan
in ``rowid`` (insertion) order and keeps it after an ``UPDATE``; PostgreSQL returns
its heap order, and an ``UPDATE`` writes a new row version at the end of the heap,
so the updated row moves to the end. ``DISTINCT`` and ``GROUP BY`` are computed
with a hash table on PostgreSQL (hash order) and with a sort or a b-tree on SQLite.
Ties in an ``ORDER BY`` come back in whatever order the scan delivered them.

A suite written on SQLite sees insertion order everywhere and bakes it into
assertions and snapshots. The fix is always the same: order by something unique
(usually ends with the primary key).
"""
from __future__ import annotations

import pytest
from sqlalchemy import case, select, update, func

from dualdb.probes.models import Author, Post, Product


def _stock_the_shop(make_product):
    for name, category, price in [("Lamp", "Home", "10"), ("Rake", "garden", "20"),
                                  ("Kite", "toys", "10"), ("Sofa", "Home", "30"),
                                  ("Hose", "garden", "10"), ("Ball", "toys", "5")]:
        make_product(name, price, category=category)


def _restock_lamp(db_session):
    """An ordinary edit: the lamp's stock changes (one UPDATE)."""
    db_session.execute(update(Product).where(Product.name == "Lamp").values(stock=5))


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="ordering", expect="diverged")
def test_product_list_without_order_by(db_session, make_product, observe):
    """A list query without ``ORDER BY`` after an edit (silent: both pass).

    App: ``select(Product.name)`` for the admin list; the lamp was restocked.
    SQLite: rowid order, unchanged by the UPDATE: ``Lamp, Rake, Kite, ...``.
    PostgreSQL: the updated row version lives at the end of the heap:
    ``Rake, Kite, Sofa, Hose, Ball, Lamp``.
    Fix: ``order_by(Product.id)`` (or whatever the page means) — always.
    """
    _stock_the_shop(make_product)
    _restock_lamp(db_session)

    names = db_session.scalars(select(Product.name)).all()

    observe("admin list", names)
    assert len(names) == 6


@pytest.mark.probe(category="ordering", expect="same")
def test_product_list_without_order_by_fixed(db_session, make_product, observe):
    """Fix for ``test_product_list_without_order_by``: ``order_by(Product.id)``."""
    _stock_the_shop(make_product)
    _restock_lamp(db_session)

    names = db_session.scalars(select(Product.name).order_by(Product.id)).all()

    observe("admin list", names)
    assert names[0] == "Lamp"


@pytest.mark.probe(category="ordering", expect="diverged")
def test_cheapest_products_with_price_ties(db_session, make_product):
    """Ties in ``ORDER BY`` (outcome: fails on PostgreSQL).

    App: "cheapest first", ``order_by(Product.price)``; three products cost 10.00.
    The test was written by copying what SQLite returned.
    SQLite: ties in insertion order: ``Ball, Lamp, Kite, Hose, ...``.
    PostgreSQL: ties in heap order, the restocked lamp last among them:
    ``Ball, Kite, Hose, Lamp, ...``.
    Fix: add a unique tie-breaker: ``order_by(Product.price, Product.id)``.
    """
    _stock_the_shop(make_product)
    _restock_lamp(db_session)

    names = db_session.scalars(select(Product.name).order_by(Product.price)).all()

    assert names == ["Ball", "Lamp", "Kite", "Hose", "Rake", "Sofa"]


@pytest.mark.probe(category="ordering", expect="same")
def test_cheapest_products_with_price_ties_fixed(db_session, make_product):
    """Fix for ``test_cheapest_products_with_price_ties``: a primary-key tie-breaker."""
    _stock_the_shop(make_product)
    _restock_lamp(db_session)

    names = db_session.scalars(select(Product.name).order_by(Product.price, Product.id)).all()

    assert names == ["Ball", "Lamp", "Kite", "Hose", "Rake", "Sofa"]


@pytest.mark.probe(category="ordering", expect="diverged")
def test_first_page_without_order_by(db_session, make_product, observe):
    """``LIMIT``/``OFFSET`` pagination without ``ORDER BY`` (silent: both pass).

    App: ``select(Product.name).limit(3)`` for page 1 of the shop.
    SQLite: ``Lamp, Rake, Kite``. PostgreSQL: ``Rake, Kite, Sofa`` — and a product
    can appear on two pages, or on none, once rows move.
    Fix: paginate over a unique order (``order_by(Product.id)``), better keyset
    pagination (``where(Product.id > last_seen_id)``).
    """
    _stock_the_shop(make_product)
    _restock_lamp(db_session)

    page_1 = db_session.scalars(select(Product.name).limit(3)).all()

    observe("page 1", page_1)
    assert len(page_1) == 3


@pytest.mark.probe(category="ordering", expect="diverged")
def test_category_menu_with_distinct(db_session, make_product, observe):
    """``SELECT DISTINCT`` without ``ORDER BY`` (silent: both pass).

    App: the category menu is ``select(Product.category).distinct()``.
    SQLite: first-seen order: ``Home, garden, toys``.
    PostgreSQL: HashAggregate order (whatever the hash table yields) — or, when the
    planner sorts instead, collation order. Neither is insertion order.
    Fix: ``.order_by(Product.category)`` (and mind collation: see
    ``test_collation.py``).
    """
    _stock_the_shop(make_product)
    for name, category in [("Atlas", "books"), ("Chair", "Office"), ("Drill", "tools"),
                           ("Easel", "Art")]:
        make_product(name, category=category)

    categories = db_session.scalars(select(Product.category).distinct()).all()

    observe("category menu", categories)
    assert len(categories) == 7


@pytest.mark.probe(category="ordering", expect="diverged")
def test_sales_report_grouped_without_order_by(db_session, make_product, observe):
    """``GROUP BY`` without ``ORDER BY`` (silent: both pass).

    App: ``select(Product.category, func.count()).group_by(Product.category)``; the
    report is rendered in the order received.
    SQLite: groups come out sorted by the key (bytewise): ``Art, Home, Office,
    books, garden, ...``.
    PostgreSQL: hash order (HashAggregate), or ICU order if the planner sorts.
    Fix: add ``order_by(...)`` to every grouped report.
    """
    _stock_the_shop(make_product)
    for name, category in [("Atlas", "books"), ("Chair", "Office"), ("Drill", "tools"),
                           ("Easel", "Art")]:
        make_product(name, category=category)

    rows = db_session.execute(
        select(Product.category, func.count()).group_by(Product.category)
    ).all()

    observe("report rows", [list(row) for row in rows])
    assert len(rows) == 7


@pytest.mark.probe(category="ordering", expect="diverged")
def test_author_page_lists_posts(db_session, author, make_post, observe):
    """An ORM relationship collection without ``order_by`` (silent: both pass).

    App: the author page renders ``author.posts``; ``relationship()`` was declared
    without ``order_by``. One post was edited.
    SQLite: the lazy load returns insertion order: ``First, Second, Third``.
    PostgreSQL: the edited post moved: ``Second, Third, First``.
    Fix: ``relationship(order_by=Post.id)`` on the model (or an explicit query with
    ``order_by``).
    """
    for title in ["First", "Second", "Third"]:
        make_post(title)
    db_session.execute(update(Post).where(Post.title == "First").values(views=10))
    db_session.expire_all()

    titles = [post.title for post in db_session.get(Author, author.id).posts]

    observe("author page", titles)
    assert len(titles) == 3


@pytest.mark.probe(category="ordering", expect="same")
def test_author_page_lists_posts_fixed(db_session, author, make_post, observe):
    """Fix for ``test_author_page_lists_posts``: query the posts with an explicit
    ``order_by(Post.id)``."""
    for title in ["First", "Second", "Third"]:
        make_post(title)
    db_session.execute(update(Post).where(Post.title == "First").values(views=10))

    titles = db_session.scalars(
        select(Post.title).where(Post.author_id == author.id).order_by(Post.id)
    ).all()

    observe("author page", titles)
    assert titles == ["First", "Second", "Third"]


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="ordering", expect="same")
def test_in_stock_products_sorted_by_flag_then_id(db_session, make_product, observe):
    """Look-alike: sorting by a Boolean puts ``false`` before ``true`` on both
    engines (0 < 1 on SQLite, ``false < true`` on PostgreSQL)."""
    make_product("Old lamp", discontinued=True)
    make_product("New lamp", discontinued=False)
    make_product("Desk", discontinued=False)

    names = db_session.scalars(
        select(Product.name).order_by(Product.discontinued, Product.id)
    ).all()

    observe("names", names)
    assert names == ["New lamp", "Desk", "Old lamp"]


@pytest.mark.probe(category="ordering", expect="same")
def test_custom_status_order_with_case(db_session, make_product, observe):
    """Look-alike: an explicit priority with ``case()`` orders identically on both
    engines (the sort key is an integer, not text)."""
    make_product("Sofa", category="furniture")
    make_product("Kite", category="toys")
    make_product("Lamp", category="home")

    priority = case({"toys": 0, "home": 1}, value=Product.category, else_=2)
    names = db_session.scalars(select(Product.name).order_by(priority, Product.id)).all()

    observe("names", names)
    assert names == ["Kite", "Lamp", "Sofa"]
