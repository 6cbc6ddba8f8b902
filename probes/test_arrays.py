"""Lists in the database: PostgreSQL has real arrays (``ARRAY``, ``= ANY``,
``array_agg``); SQLite has none and fakes lists with JSON text and its own
table-valued and aggregate functions (``json_each``, ``group_concat``,
``json_group_array``) that PostgreSQL does not have.

Whichever engine a team started on, the list-handling SQL it wrote only runs there.
Portable: SQLAlchemy's ``func.aggregate_strings``, ``in_()`` with a Python list,
``tuple_().in_()``, or unnesting in Python.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import ARRAY, Integer, any_, bindparam, func, select, text, tuple_

from dualdb.probes.models import Article, Order, Post, Product, Tag


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="arrays", expect="diverged")
def test_articles_labelled_python(db_session):
    """A native ``ARRAY`` column.

    App: ``Article.labels`` is ``ARRAY(String)``; the blog filters with
    ``Article.labels.contains(["python"])`` (PostgreSQL's ``@>``).
    PostgreSQL: the table exists and ``@>`` finds the article.
    SQLite: there is no array type, so the ``articles`` table could not be created
    at all; every statement touching it fails (``no such table: articles``).
    Fix: if SQLite must stay supported, store the labels in a ``JSON`` column or,
    better, an association table (``Tag`` + ``post_tags``) queried with a join; or
    drop SQLite for the tests and keep the array.
    """
    db_session.add_all([
        Article(title="Typing in Python", labels=["python", "typing"]),
        Article(title="Rust for Pythonistas", labels=["rust"]),
    ])
    db_session.flush()

    titles = db_session.scalars(
        select(Article.title).where(Article.labels.contains(["python"]))
    ).all()

    assert titles == ["Typing in Python"]


@pytest.mark.probe(category="arrays", expect="diverged")
def test_products_by_id_list_with_any(db_session, make_product):
    """``= ANY(:ids)`` with one array parameter.

    App: the basket endpoint loads products with ``Product.id == any_(ids)`` where
    ``ids`` is bound as one ``ARRAY(Integer)`` parameter (a PostgreSQL idiom that
    keeps the statement text constant whatever the list length).
    PostgreSQL: ``products.id = ANY(%(ids)s::INTEGER[])`` works.
    SQLite: no arrays, no ``ANY``: ``no such function: ANY`` (or a compile error).
    Fix: ``Product.id.in_(ids)`` (SQLAlchemy expands it on every dialect).
    """
    pen = make_product("Pen")
    make_product("Ink")
    cap = make_product("Cap")

    ids = bindparam("ids", value=[pen.id, cap.id], type_=ARRAY(Integer))
    names = db_session.scalars(
        select(Product.name).where(Product.id == any_(ids)).order_by(Product.id)
    ).all()

    assert names == ["Pen", "Cap"]


@pytest.mark.probe(category="arrays", expect="diverged")
def test_post_tag_list_with_group_concat(db_session, make_post, make_tag):
    """Aggregating a list of tags with ``group_concat``.

    App: the post index shows each post's tags as one string:
    ``func.group_concat(Tag.name)`` grouped by post.
    SQLite: ``group_concat`` is built in.
    PostgreSQL: ``function group_concat(character varying) does not exist`` — the
    equivalent is ``string_agg(name, ',')`` (or ``array_agg``).
    Fix: ``func.aggregate_strings(Tag.name, ",")`` (SQLAlchemy 2.0.21+) compiles to
    ``group_concat`` / ``string_agg``; the order inside is unspecified on both, so
    sort it (in Python, or with an ordered aggregate on PostgreSQL).
    """
    python, sql = make_tag("python"), make_tag("sql")
    make_post("Intro", tags=[python, sql])

    tag_lists = db_session.scalars(
        select(func.group_concat(Tag.name))
        .select_from(Post)
        .join(Post.tags)
        .group_by(Post.id)
    ).all()

    assert sorted(tag_lists[0].split(",")) == ["python", "sql"]


@pytest.mark.probe(category="arrays", expect="same")
def test_post_tag_list_with_group_concat_fixed(db_session, make_post, make_tag):
    """Fix for ``test_post_tag_list_with_group_concat``: ``func.aggregate_strings``."""
    python, sql = make_tag("python"), make_tag("sql")
    make_post("Intro", tags=[python, sql])

    tag_lists = db_session.scalars(
        select(func.aggregate_strings(Tag.name, ","))
        .select_from(Post)
        .join(Post.tags)
        .group_by(Post.id)
    ).all()

    assert sorted(tag_lists[0].split(",")) == ["python", "sql"]


@pytest.mark.probe(category="arrays", expect="diverged")
def test_colour_counts_by_unnesting_json_list(db_session, make_product):
    """Unnesting a JSON list with ``json_each``.

    App: a facet count of the colours listed in ``attributes["colors"]``:
    ``SELECT je.value, count(*) FROM products, json_each(products.attributes,
    '$.colors') AS je GROUP BY je.value``.
    SQLite: ``json_each(json, path)`` is a table-valued function over the list.
    PostgreSQL: ``json_each`` exists but takes one argument and expands an *object*
    into key/value pairs: ``function json_each(json, unknown) does not exist``
    (the array equivalent is ``json_array_elements_text``).
    Fix: unnest in Python (load the lists, count with ``collections.Counter``), or
    keep colours in a child table and ``GROUP BY`` it.
    """
    make_product("Mug", attributes={"colors": ["red", "blue"]})
    make_product("Cap", attributes={"colors": ["red"]})

    rows = db_session.execute(text(
        "SELECT je.value AS color, count(*) AS n "
        "FROM products, json_each(products.attributes, '$.colors') AS je "
        "GROUP BY je.value ORDER BY je.value"
    )).all()

    assert [tuple(row) for row in rows] == [("blue", 1), ("red", 2)]


@pytest.mark.probe(category="arrays", expect="same")
def test_colour_counts_by_unnesting_json_list_fixed(db_session, make_product):
    """Fix for ``test_colour_counts_by_unnesting_json_list``: count in Python."""
    make_product("Mug", attributes={"colors": ["red", "blue"]})
    make_product("Cap", attributes={"colors": ["red"]})

    counts = Counter(
        color
        for colors in db_session.scalars(select(Product.attributes["colors"]))
        for color in colors or []
    )

    assert sorted(counts.items()) == [("blue", 1), ("red", 2)]


@pytest.mark.probe(category="arrays", expect="diverged")
def test_tag_names_as_json_array_with_json_group_array(db_session, make_tag):
    """Building a JSON array in SQL with ``json_group_array``.

    App: an export endpoint asks the database for the tag list as a JSON array:
    ``func.json_group_array(Tag.name)``.
    SQLite: ``json_group_array`` returns ``'["python","sql"]'``.
    PostgreSQL: ``function json_group_array(character varying) does not exist`` (its
    spelling is ``json_agg``).
    Fix: select the rows and build the list in Python; the aggregate has no portable
    spelling.
    """
    make_tag("python")
    make_tag("sql")

    payload = db_session.scalar(select(func.json_group_array(Tag.name)))

    assert sorted(json.loads(payload)) == ["python", "sql"]


@pytest.mark.probe(category="arrays", expect="diverged")
def test_order_ids_per_user_with_array_agg(db_session, make_user):
    """``array_agg``: the PostgreSQL-first direction.

    App: an admin page lists each user's order ids with ``func.array_agg(Order.id)``
    (PostgreSQL returns a Python ``list``).
    PostgreSQL: works, ``[1, 2]``.
    SQLite: ``no such function: array_agg``.
    Fix: select ``(user_id, order_id)`` rows and group them in Python, or use
    ``func.aggregate_strings`` when a string is enough.
    """
    alice = make_user("Alice")
    db_session.add_all([Order(user=alice), Order(user=alice)])
    db_session.flush()

    ids = db_session.scalar(
        select(func.array_agg(Order.id)).where(Order.user_id == alice.id)
    )

    assert sorted(ids) == [1, 2]


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="arrays", expect="same")
def test_products_by_id_list_with_in(db_session, make_product):
    """Look-alike (and the fix for ``test_products_by_id_list_with_any``):
    ``in_(list)`` is expanded by SQLAlchemy into ``IN (?, ?)`` on every dialect;
    an empty list becomes an always-false expression on both."""
    pen = make_product("Pen")
    make_product("Ink")
    cap = make_product("Cap")

    names = db_session.scalars(
        select(Product.name).where(Product.id.in_([pen.id, cap.id])).order_by(Product.id)
    ).all()
    none = db_session.scalars(select(Product.name).where(Product.id.in_([]))).all()

    assert (names, none) == (["Pen", "Cap"], [])


@pytest.mark.probe(category="arrays", expect="same")
def test_order_lines_by_composite_key_with_tuple_in(db_session, make_product):
    """Look-alike: row-value ``IN`` (``tuple_(a, b).in_([...])``) is supported by
    both engines (SQLite since 3.15)."""
    pen, ink = make_product("Pen", sku="PEN-1"), make_product("Ink", sku="INK-1")

    names = db_session.scalars(
        select(Product.name)
        .where(tuple_(Product.id, Product.sku).in_([(pen.id, "PEN-1"), (ink.id, "WRONG")]))
    ).all()

    assert names == ["Pen"]


@pytest.mark.probe(category="arrays", expect="same")
def test_json_list_length(db_session, make_product):
    """Look-alike: ``json_array_length`` happens to exist with the same meaning in
    both engines (SQLite's JSON1 and PostgreSQL's ``json`` functions)."""
    make_product("Mug", attributes={"colors": ["red", "blue", "green"]})

    length = db_session.scalar(select(func.json_array_length(Product.attributes["colors"])))

    assert length == 3
