"""NULL placement in ``ORDER BY``.

SQLite treats NULL as *smaller* than every value: NULLs come first in ascending
order and last in descending order. PostgreSQL treats NULL as *larger*: last
ascending, first descending. Every ``ORDER BY`` on a nullable column therefore
returns a different list, and ``.first()`` / ``LIMIT`` pick different rows.

The portable fix is explicit: ``column.asc().nulls_last()`` /
``.desc().nulls_last()`` — ``NULLS FIRST|LAST`` is understood by PostgreSQL and by
SQLite since 3.30. Everything else about NULL (three-valued logic, aggregates,
UNIQUE) is standard SQL and behaves the same; the look-alikes below show it.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dualdb.probes.models import Event, Post, Product, User, utc


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="nulls", expect="diverged")
def test_products_sorted_by_discount(db_session, make_product, observe):
    """Ascending sort on a nullable column (silent: both pass).

    App: the sale page lists ``order_by(Product.discount_pct)``.
    SQLite: NULL sorts first ascending: ``Full price, Small deal, Big deal``.
    PostgreSQL: NULL sorts last ascending: ``Small deal, Big deal, Full price``.
    Fix: ``order_by(Product.discount_pct.asc().nulls_last())`` (or ``nulls_first()``)
    — whichever the page wants, spelled out.
    """
    make_product("Big deal", discount_pct=Decimal("30"))
    make_product("Full price", discount_pct=None)
    make_product("Small deal", discount_pct=Decimal("5"))

    names = db_session.scalars(select(Product.name).order_by(Product.discount_pct)).all()

    observe("sale page order", names)
    assert len(names) == 3


@pytest.mark.probe(category="nulls", expect="same")
def test_products_sorted_by_discount_fixed(db_session, make_product, observe):
    """Fix for ``test_products_sorted_by_discount``: ``.asc().nulls_last()``."""
    make_product("Big deal", discount_pct=Decimal("30"))
    make_product("Full price", discount_pct=None)
    make_product("Small deal", discount_pct=Decimal("5"))

    names = db_session.scalars(
        select(Product.name).order_by(Product.discount_pct.asc().nulls_last())
    ).all()

    observe("sale page order", names)
    assert names == ["Small deal", "Big deal", "Full price"]


@pytest.mark.probe(category="nulls", expect="diverged")
def test_top_rated_posts(db_session, make_post):
    """Descending sort puts unrated posts on top — on PostgreSQL.

    App: the home page shows the two best posts:
    ``order_by(Post.rating.desc()).limit(2)``.
    SQLite: NULL is smallest, so unrated posts sink: ``Great post, Good post``.
    PostgreSQL: NULL is largest, so ``DESC`` puts the unrated post first:
    ``Unrated post, Great post``.
    Fix: ``order_by(Post.rating.desc().nulls_last())``.
    """
    make_post("Good post", rating=3.5)
    make_post("Unrated post", rating=None)
    make_post("Great post", rating=4.8)

    top = db_session.scalars(select(Post.title).order_by(Post.rating.desc()).limit(2)).all()

    assert top == ["Great post", "Good post"]


@pytest.mark.probe(category="nulls", expect="same")
def test_top_rated_posts_fixed(db_session, make_post):
    """Fix for ``test_top_rated_posts``: ``.desc().nulls_last()``."""
    make_post("Good post", rating=3.5)
    make_post("Unrated post", rating=None)
    make_post("Great post", rating=4.8)

    top = db_session.scalars(
        select(Post.title).order_by(Post.rating.desc().nulls_last()).limit(2)
    ).all()

    assert top == ["Great post", "Good post"]


@pytest.mark.probe(category="nulls", expect="diverged")
def test_next_scheduled_event(db_session, make_event):
    """``.first()`` after an ascending sort picks the NULL row on SQLite.

    App: the dashboard shows the next event:
    ``select(Event).order_by(Event.scheduled_for).limit(1)``; drafts have no
    ``scheduled_for`` yet.
    SQLite: the draft (NULL) sorts first and is shown as "next".
    PostgreSQL: NULL sorts last; the webinar is next (the intended answer).
    Fix: exclude what is not scheduled (``where(Event.scheduled_for.is_not(None))``)
    and/or spell ``.asc().nulls_last()``.
    """
    make_event("webinar", utc(2024, 1, 1), scheduled_for=utc(2024, 3, 1, 15))
    make_event("draft", utc(2024, 1, 2), scheduled_for=None)
    make_event("meetup", utc(2024, 1, 3), scheduled_for=utc(2024, 4, 1, 18))

    next_event = db_session.scalars(
        select(Event.kind).order_by(Event.scheduled_for).limit(1)
    ).first()

    assert next_event == "webinar"


@pytest.mark.probe(category="nulls", expect="diverged")
def test_product_count_per_category(db_session, make_product, observe):
    """Where the NULL group lands in a grouped report (silent: both pass).

    App: ``select(Product.category, func.count()).group_by(Product.category)
    .order_by(Product.category)`` — uncategorised products form a NULL group.
    SQLite: the NULL group is the first row; PostgreSQL: the last row.
    Fix: ``order_by(Product.category.asc().nulls_last())``, or label the group with
    ``func.coalesce(Product.category, "uncategorised")``.
    """
    make_product("Rake", category="garden")
    make_product("Gift card", category=None)
    make_product("Lamp", category="home")

    rows = db_session.execute(
        select(Product.category, func.count())
        .group_by(Product.category)
        .order_by(Product.category)
    ).all()

    observe("category report", [list(row) for row in rows])
    assert sum(count for _, count in rows) == 3


@pytest.mark.probe(category="nulls", expect="diverged")
def test_recently_active_users(db_session, make_user, observe):
    """"Most recent first" lists users who never logged in first — on PostgreSQL
    (silent: both pass).

    App: admin page ``order_by(User.last_login_at.desc())``.
    SQLite: ``Carol, Alice, Bob`` (never-logged-in Bob last).
    PostgreSQL: ``Bob, Carol, Alice``.
    Fix: ``User.last_login_at.desc().nulls_last()``.
    """
    make_user("Alice", last_login_at=utc(2024, 5, 1, 9))
    make_user("Bob", last_login_at=None)
    make_user("Carol", last_login_at=utc(2024, 5, 3, 9))

    names = db_session.scalars(
        select(User.first_name).order_by(User.last_login_at.desc())
    ).all()

    observe("recently active", names)
    assert "Alice" in names


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="nulls", expect="same")
def test_unique_column_accepts_several_nulls(db_session, make_user):
    """Look-alike: a UNIQUE column accepts any number of NULLs on both engines
    (NULLs are distinct from each other; PostgreSQL 15+ only merges them with an
    explicit ``NULLS NOT DISTINCT``)."""
    make_user("Alice", referral_code=None)
    make_user("Bob", referral_code=None)
    make_user("Carol", referral_code="CAROL10")
    db_session.commit()

    assert db_session.scalar(select(func.count()).select_from(User)) == 3


@pytest.mark.probe(category="nulls", expect="same")
def test_not_equal_skips_null_rows(db_session, make_product):
    """Look-alike: three-valued logic is the same on both engines: ``category !=
    'toys'`` is NULL (not true) for uncategorised rows, and ``NOT IN`` a list that
    contains NULL matches nothing at all."""
    make_product("Kite", category="toys")
    make_product("Lamp", category="home")
    make_product("Gift card", category=None)

    not_toys = db_session.scalars(
        select(Product.name).where(Product.category != "toys")
    ).all()
    not_in_with_null = db_session.scalars(
        select(Product.name).where(Product.category.not_in(["toys", None]))
    ).all()

    assert (not_toys, not_in_with_null) == (["Lamp"], [])


@pytest.mark.probe(category="nulls", expect="same")
def test_aggregates_ignore_nulls(db_session, make_post):
    """Look-alike: ``COUNT(col)`` skips NULLs while ``COUNT(*)`` does not,
    ``MAX`` ignores NULLs, ``SUM`` over no rows is NULL and ``COALESCE`` picks the
    first non-NULL — identically on both engines."""
    make_post("A", rating=4.0)
    make_post("B", rating=None)

    counts = db_session.execute(select(func.count(), func.count(Post.rating))).one()
    best = db_session.scalar(select(func.max(Post.rating)))
    empty_sum = db_session.scalar(select(func.sum(Post.views)).where(Post.title == "none"))
    rating_or_zero = db_session.scalars(
        select(func.coalesce(Post.rating, 0)).order_by(Post.id)
    ).all()

    assert (tuple(counts), best, empty_sum, rating_or_zero) == ((2, 1), 4.0, None, [4.0, 0])


@pytest.mark.probe(category="nulls", expect="same")
def test_null_safe_comparison_with_is_distinct_from(db_session, make_user):
    """Look-alike: ``is_distinct_from`` (``IS DISTINCT FROM`` on PostgreSQL,
    ``IS NOT`` on SQLite) treats NULL as a comparable value on both engines."""
    make_user("Alice", country="FR")
    make_user("Bob", country=None)
    make_user("Carol", country="DE")

    not_french = db_session.scalars(
        select(User.first_name).where(User.country.is_distinct_from("FR")).order_by(User.id)
    ).all()

    assert not_french == ["Bob", "Carol"]
