"""SQL syntax: SQLite accepts a lot that PostgreSQL rejects.

SQLite is famously lenient: bare columns next to aggregates, double-quoted strings,
MySQL-isms (``LIMIT offset, count``, backticks, ``INSERT OR IGNORE``, ``IFNULL``,
``==``), case-insensitive quoted identifiers, output aliases in ``WHERE``. Raw SQL
written and tested on SQLite fails on PostgreSQL at the first request. The other
way round, PostgreSQL extensions (``DISTINCT ON``) do not exist in SQLite.

The look-alikes show the (large) common subset: window functions, recursive CTEs,
``RETURNING``, ``ON CONFLICT``, ``TRUE``/``FALSE``.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, text

from dualdb.probes.models import Post, Product, Tag, utc


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_most_viewed_post_per_author_with_bare_column(db_session, author, make_post):
    """A bare column next to an aggregate.

    App: "each author's most viewed post":
    ``select(Post.author_id, Post.title, func.max(Post.views)).group_by(Post.author_id)``.
    SQLite: allowed; with a single ``max()`` SQLite even documents that the bare
    column comes from the row holding the maximum: ``Hit``.
    PostgreSQL: ``column "posts.title" must appear in the GROUP BY clause or be used
    in an aggregate function``.
    Fix: a window function — ``row_number() over (partition by author_id order by
    views desc)`` and keep row 1 (see the ``_fixed`` test); both engines support it.
    """
    make_post("Miss", views=3)
    make_post("Hit", views=300)

    rows = db_session.execute(
        select(Post.author_id, Post.title, func.max(Post.views)).group_by(Post.author_id)
    ).all()

    assert [row.title for row in rows] == ["Hit"]


@pytest.mark.probe(category="sql_syntax", expect="same")
def test_most_viewed_post_per_author_with_bare_column_fixed(db_session, author, make_post):
    """Fix for ``test_most_viewed_post_per_author_with_bare_column``: ``row_number()``
    over a window, filtered in an outer query."""
    make_post("Miss", views=3)
    make_post("Hit", views=300)

    ranked = select(
        Post.author_id,
        Post.title,
        func.row_number().over(partition_by=Post.author_id,
                               order_by=(Post.views.desc(), Post.id)).label("rank"),
    ).subquery()
    titles = db_session.scalars(select(ranked.c.title).where(ranked.c.rank == 1)).all()

    assert titles == ["Hit"]


@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_latest_event_per_kind_with_distinct_on(db_session, make_event):
    """``DISTINCT ON`` is PostgreSQL's.

    App: "latest event of each kind" written for PostgreSQL:
    ``SELECT DISTINCT ON (kind) kind, id FROM events ORDER BY kind, occurred_at DESC``.
    PostgreSQL: one row per kind, the latest.
    SQLite: ``near "ON": syntax error``.
    Fix: the window-function form (``row_number() over (partition by kind order by
    occurred_at desc) = 1``) works on both.
    """
    make_event("login", utc(2024, 1, 1))
    make_event("login", utc(2024, 1, 3))
    make_event("logout", utc(2024, 1, 2))

    latest = db_session.execute(text(
        "SELECT DISTINCT ON (kind) kind, id FROM events ORDER BY kind, occurred_at DESC"
    )).all()

    assert [tuple(row) for row in latest] == [("login", 2), ("logout", 3)]


@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_users_from_france_with_double_quoted_literal(db_session, make_user):
    """A double-quoted string literal.

    App: raw SQL ``SELECT count(*) FROM users WHERE country = "FR"``.
    SQLite: when no column is called ``FR``, the double-quoted identifier falls back
    to a string literal (a compatibility misfeature, on by default).
    PostgreSQL: double quotes always mean an identifier: ``column "FR" does not
    exist``.
    Fix: single quotes for strings — better, a bound parameter (``:country``).
    """
    make_user("Amélie", country="FR")
    make_user("Bob", country="GB")

    count = db_session.scalar(text('SELECT count(*) FROM users WHERE country = "FR"'))

    assert count == 1


@pytest.mark.probe(category="sql_syntax", expect="same")
def test_users_from_france_with_double_quoted_literal_fixed(db_session, make_user):
    """Fix for ``test_users_from_france_with_double_quoted_literal``: a bound
    parameter."""
    make_user("Amélie", country="FR")
    make_user("Bob", country="GB")

    count = db_session.scalar(
        text("SELECT count(*) FROM users WHERE country = :country").bindparams(country="FR")
    )

    assert count == 1


@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_tag_import_with_insert_or_ignore(db_session):
    """``INSERT OR IGNORE`` is SQLite's.

    App: the tag importer skips existing names with ``INSERT OR IGNORE INTO tags
    (name) VALUES (:name)``.
    SQLite: duplicates are skipped.
    PostgreSQL: ``syntax error at or near "OR"``.
    Fix: ``INSERT ... ON CONFLICT (name) DO NOTHING`` — PostgreSQL 9.5+ and SQLite
    3.24+ both accept it (or ``sqlalchemy.dialects.<dialect>.insert(...)
    .on_conflict_do_nothing()``).
    """
    for name in ["python", "sql", "python"]:
        db_session.execute(text("INSERT OR IGNORE INTO tags (name) VALUES (:name)"),
                           {"name": name})

    assert db_session.scalar(select(func.count()).select_from(Tag)) == 2


@pytest.mark.probe(category="sql_syntax", expect="same")
def test_tag_import_with_insert_or_ignore_fixed(db_session):
    """Fix for ``test_tag_import_with_insert_or_ignore``: ``ON CONFLICT DO NOTHING``."""
    for name in ["python", "sql", "python"]:
        db_session.execute(
            text("INSERT INTO tags (name) VALUES (:name) ON CONFLICT (name) DO NOTHING"),
            {"name": name},
        )

    names = db_session.scalars(select(Tag.name).order_by(Tag.name)).all()
    assert names == ["python", "sql"]


@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_second_page_with_mysql_style_limit(db_session, make_product):
    """``LIMIT offset, count``.

    App: a hand-written page query ``... ORDER BY id LIMIT 2, 2`` (offset 2, two
    rows), MySQL style.
    SQLite: accepted: ``Kite, Sofa``.
    PostgreSQL: ``LIMIT #,# syntax is not supported``.
    Fix: ``LIMIT 2 OFFSET 2`` (or ``.limit(2).offset(2)``).
    """
    for name in ["Lamp", "Rake", "Kite", "Sofa"]:
        make_product(name)

    names = db_session.scalars(text("SELECT name FROM products ORDER BY id LIMIT 2, 2")).all()

    assert names == ["Kite", "Sofa"]


@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_product_menu_with_ifnull(db_session, make_product):
    """``IFNULL()`` is SQLite's (and MySQL's).

    App: ``func.ifnull(Product.category, "other")`` for the menu.
    SQLite: works.
    PostgreSQL: ``function ifnull(character varying, unknown) does not exist``.
    Fix: ``func.coalesce`` — standard SQL, same result on both.
    """
    make_product("Gift card", category=None)

    category = db_session.scalar(select(func.ifnull(Product.category, "other")))

    assert category == "other"


@pytest.mark.probe(category="sql_syntax", expect="same")
def test_product_menu_with_ifnull_fixed(db_session, make_product):
    """Fix for ``test_product_menu_with_ifnull``: ``func.coalesce``."""
    make_product("Gift card", category=None)

    category = db_session.scalar(select(func.coalesce(Product.category, "other")))

    assert category == "other"


@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_export_with_quoted_mixed_case_column(db_session, make_user):
    """Quoted identifiers: case-insensitive on SQLite, exact on PostgreSQL.

    App: a CSV export copied from a BI tool: ``SELECT "Email" FROM users``.
    SQLite: identifiers are case-insensitive even when quoted; ``email`` is found.
    PostgreSQL: a quoted identifier is case-sensitive: ``column "Email" does not
    exist``.
    Fix: write identifiers in lower case, unquoted (or exactly as created).
    """
    make_user("Alice", email="alice@example.com")

    emails = db_session.scalars(text('SELECT "Email" FROM users')).all()

    assert emails == ["alice@example.com"]


@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_price_filter_on_output_alias(db_session, make_product):
    """An output alias referenced in ``WHERE``.

    App: ``SELECT name, price * 1.2 AS gross FROM products WHERE gross > 10``.
    SQLite: resolves ``gross`` to the select-list expression.
    PostgreSQL: ``column "gross" does not exist`` (WHERE is evaluated before the
    select list; aliases are only visible in ORDER BY / GROUP BY).
    Fix: repeat the expression, or wrap the query in a subquery/CTE.
    """
    make_product("Cheap", price="5.00")
    make_product("Pricey", price="50.00")

    names = db_session.scalars(
        text("SELECT name, price * 1.2 AS gross FROM products WHERE gross > 10")
    ).all()

    assert names == ["Pricey"]


@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_lookup_with_double_equals(db_session, make_product):
    """``==`` in SQL.

    App: ``SELECT name FROM products WHERE sku == :sku`` (a Python habit).
    SQLite: ``==`` is accepted as ``=``.
    PostgreSQL: ``operator does not exist: character varying == unknown``.
    Fix: ``=``.
    """
    make_product("Pen", sku="PEN-1")

    name = db_session.scalar(text("SELECT name FROM products WHERE sku == :sku"), {"sku": "PEN-1"})

    assert name == "Pen"


@pytest.mark.probe(category="sql_syntax", expect="diverged")
def test_report_with_backtick_identifiers(db_session, make_product):
    """Backtick-quoted identifiers (MySQL style).

    App: ``SELECT `name` FROM `products```.
    SQLite: accepts backticks for compatibility.
    PostgreSQL: a syntax error (a backtick is not a quote character there).
    Fix: no quotes (or standard double quotes) around identifiers.
    """
    make_product("Pen")

    names = db_session.scalars(text("SELECT `name` FROM `products`")).all()

    assert names == ["Pen"]


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="sql_syntax", expect="same")
def test_boolean_literals_in_raw_sql(db_session, make_user):
    """Look-alike: ``TRUE``/``FALSE`` keywords work in both dialects (SQLite ≥ 3.23
    treats them as 1/0)."""
    make_user("Alice", is_active=True)
    make_user("Bob", is_active=False)

    active = db_session.scalar(text("SELECT count(*) FROM users WHERE is_active = TRUE"))

    assert active == 1


@pytest.mark.probe(category="sql_syntax", expect="same")
def test_insert_returning_id(db_session):
    """Look-alike: ``INSERT ... RETURNING`` works on both (SQLite ≥ 3.35)."""
    new_id = db_session.scalar(insert(Tag).values(name="python").returning(Tag.id))

    assert db_session.get(Tag, new_id).name == "python"


@pytest.mark.probe(category="sql_syntax", expect="same")
def test_recursive_cte_counts_to_five(db_session):
    """Look-alike: ``WITH RECURSIVE`` is supported by both engines."""
    numbers = db_session.scalars(text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
        "SELECT i FROM n ORDER BY i"
    )).all()

    assert numbers == [1, 2, 3, 4, 5]


@pytest.mark.probe(category="sql_syntax", expect="same")
def test_group_by_output_alias(db_session, make_product):
    """Look-alike: an output alias in ``GROUP BY`` / ``ORDER BY`` is accepted by both
    (unlike in ``WHERE``: see ``test_price_filter_on_output_alias``)."""
    make_product("Rake", category="garden")
    make_product("Hose", category="garden")
    make_product("Lamp", category="home")

    rows = db_session.execute(text(
        "SELECT category AS c, count(*) AS n FROM products GROUP BY c ORDER BY c"
    )).all()

    assert [tuple(row) for row in rows] == [("garden", 2), ("home", 1)]
