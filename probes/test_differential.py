"""Differential probes: Hypothesis searches for the smallest input on which the engines disagree.

The other probes show divergences someone thought of. These ones let
Hypothesis look for them: each runs an ordinary application query on SQLite and
on PostgreSQL (the ``dual`` fixture) for generated inputs — text full of case
pairs, accents, combining marks, trailing spaces and LIKE wildcards; JSON
documents; floats on rounding ties; NULLs — and shrinks the first disagreement
to a minimal example, e.g. ``['a', 'A']`` for sorting.

A divergent probe *fails* (``DivergenceError`` with a side-by-side diff) and
appears in the report as ``diverged`` with that minimal example as its first
difference (``source: "hypothesis"``). The look-alikes at the end find nothing
in the default 100 examples: equality and JSON round trips are portable.

``benchmarks/bench_differential.py`` times each probe's search and shrink.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from dualdb.hypothesis import datetimes, decimals, floats, json_documents, search_terms, text_values
from dualdb.probes.models import Event, Product

names = st.lists(text_values(max_size=6), min_size=1, max_size=6)
# star ratings: whole stars from most users, any value in 0..5 from an import
stars = st.one_of(st.integers(1, 5).map(float), floats(min_value=0, max_value=5))
# a product name and what a shopper types to find it (part of the name, in any case)
name_and_term = text_values(min_size=1, max_size=6).flatmap(lambda name: st.tuples(st.just(name), search_terms(name)))


def add_products(session, names, **fields):
    """The application's own insert: one product per name, unique SKUs."""
    session.add_all(
        Product(sku=f"SKU-{i:04d}", name=name, price=Decimal("1.00"), **fields) for i, name in enumerate(names)
    )
    session.flush()


# ---------------------------------------------------------------------- divergent
def catalog_page(session, names):
    add_products(session, names)
    return session.scalars(select(Product.name).order_by(Product.name)).all()


@pytest.mark.probe(category="collation", expect="diverged", needs="linguistic")
@given(names=names)
def test_catalog_order_by_name(dual, names):
    """``ORDER BY name`` for any names: minimal example two one-letter names, ``['a', 'A']``.

    SQLite compares bytes (``A`` < ``a``); PostgreSQL's ICU collation sorts
    linguistically (``a`` < ``A``). Fix: ``order_by(func.lower(Product.name), Product.id)``,
    or an explicit ``COLLATE`` the application chose.
    """
    dual.assert_same(catalog_page, names)


def search_box(session, name, term):
    add_products(session, [name])
    return session.scalars(select(Product.name).where(Product.name.contains(term, autoescape=True))).all()


@pytest.mark.probe(category="collation", expect="diverged")
@given(name_and_term)
def test_search_box_like(dual, name_and_term):
    """``name LIKE '%' || term || '%'`` (``contains(term, autoescape=True)``): shrinks to ``('A', 'a')`` or ``('a', 'A')``.

    SQLite's ``LIKE`` ignores ASCII case, PostgreSQL's does not. Fix: decide —
    ``icontains`` for case-insensitive search (see the next probe for its own trap),
    or compare ``func.lower`` of both sides.
    """
    dual.assert_same(search_box, *name_and_term)


def search_box_ignoring_case(session, name, term):
    add_products(session, [name])
    return session.scalars(select(Product.name).where(Product.name.icontains(term, autoescape=True))).all()


@pytest.mark.probe(category="strings", expect="diverged", needs="linguistic")
@given(name_and_term)
def test_search_box_ilike(dual, name_and_term):
    """``icontains`` (``ILIKE`` on PostgreSQL, ``lower() LIKE lower()`` on SQLite): shrinks to e.g. ``('Å', 'å')``.

    SQLite's ``lower()`` folds only ASCII letters, so ``Å`` never matches ``å``;
    PostgreSQL's ``ILIKE`` folds all of Unicode. Fix: store a normalised search
    column (``casefold()`` in Python) and compare with ``==``/``LIKE`` on it.
    """
    dual.assert_same(search_box_ignoring_case, *name_and_term)


def product_attribute_values(session, attributes):
    session.add(Product(sku="SKU-1", name="x", price=Decimal("1.00"), attributes=attributes))
    session.flush()
    return [session.scalar(select(Product.attributes[key].as_string())) for key in attributes]


@pytest.mark.probe(category="json", expect="diverged")
@given(attributes=json_documents(top="object"))
def test_json_field_as_text(dual, attributes):
    """``attributes[key].as_string()`` for every key of a generated document: minimal ``{'': False}``.

    PostgreSQL's ``->>`` returns JSON text (``'false'``, ``'1'``); SQLite's
    ``json_extract`` returns an SQL value (``0``, ``1``), and nested documents as
    text in its own spelling. Fix: extract with the type you mean
    (``as_boolean()``, ``as_integer()``, ``as_float()``), or read the whole document
    and index it in Python.
    """
    dual.assert_same(product_attribute_values, attributes)


def average_stars(session, ratings):
    add_products(session, [f"p{i}" for i in range(len(ratings))])
    for product, rating in zip(session.scalars(select(Product).order_by(Product.id)), ratings):
        product.rating = rating
    session.flush()
    return session.scalar(select(func.round(func.avg(Product.rating))))


@pytest.mark.probe(category="numeric", expect="diverged")
@given(ratings=st.lists(stars, min_size=1, max_size=5))
def test_average_rating_rounded(dual, ratings):
    """``round(avg(rating))`` of star ratings in a float column: shrinks to e.g. ``[0.5]`` or ``[2.0, 3.0]``.

    An average of whole stars is often exactly x.5. PostgreSQL's ``round(double
    precision)`` rounds half to even (2.5 -> 2); SQLite rounds half away from zero (2.5 -> 3). Fix: round in
    Python with the rule the business wants (``Decimal.quantize(ROUND_HALF_UP)``),
    or keep money-like values in ``Numeric`` (PostgreSQL's ``round(numeric)`` rounds half up).
    """
    dual.assert_same(average_stars, ratings)


def sale_page(session, discounts):
    add_products(session, [f"p{i}" for i in range(len(discounts))])
    for product, discount in zip(session.scalars(select(Product).order_by(Product.id)), discounts):
        product.discount_pct = discount
    session.flush()
    return session.scalars(select(Product.discount_pct).order_by(Product.discount_pct)).all()


@pytest.mark.probe(category="nulls", expect="diverged")
@given(discounts=st.lists(st.none() | decimals(5, 2), min_size=1, max_size=6))
def test_sort_by_nullable_discount(dual, discounts):
    """``ORDER BY discount_pct`` with some NULLs: minimal ``[None, Decimal('0')]``.

    SQLite sorts NULL first ascending, PostgreSQL last. Fix:
    ``order_by(Product.discount_pct.asc().nulls_last())``.
    """
    dual.assert_same(sale_page, discounts)


def display_names(session, name):
    add_products(session, [name])
    return session.execute(select(func.upper(Product.name), func.lower(Product.name))).one()


@pytest.mark.probe(category="strings", expect="diverged", needs="linguistic")
@given(name=text_values(max_size=6))
def test_upper_lower_of_names(dual, name):
    """``upper(name)``, ``lower(name)`` in SQL: shrinks to one accented letter, e.g. ``'é'``.

    SQLite's built-in ``upper``/``lower`` change ASCII letters only; PostgreSQL
    maps all of Unicode (``é`` -> ``É``). Fix: change case in Python
    (``str.upper``/``casefold``), or load the ICU extension in SQLite.
    """
    dual.assert_same(display_names, name)


def event_time_round_trip(session, when):
    session.add(Event(kind="signup", occurred_at=when))
    session.flush()
    session.expire_all()
    return session.scalar(select(Event.occurred_at))


@pytest.mark.probe(category="datetime", expect="diverged")
@given(when=datetimes(timezone=True))
def test_aware_timestamp_round_trip(dual, when):
    """Write an aware datetime to ``DateTime(timezone=True)``, read it back: any value diverges.

    PostgreSQL's ``timestamptz`` returns an aware datetime (in the session time
    zone); SQLite stores text and SQLAlchemy returns it *naive*, with the
    original wall-clock time and the offset dropped. Fix: store UTC and
    re-attach ``tzinfo=timezone.utc`` when reading on SQLite (a ``TypeDecorator``),
    or test on PostgreSQL.
    """
    dual.assert_same(event_time_round_trip, when)


# -------------------------------------------------------------------- look-alikes
def exact_lookup(session, names, term):
    add_products(session, names)
    return session.scalars(select(Product.id).where(Product.name == term).order_by(Product.id)).all()


@pytest.mark.probe(category="collation", expect="same")
@given(names=names, term=text_values(max_size=6))
def test_exact_name_lookup(dual, names, term):
    """``WHERE name = :term`` finds the same rows on both engines, whatever the text.

    Equality is byte equality on both (PostgreSQL's deterministic ICU
    collation breaks ties bytewise): case, accents, combining marks and
    trailing spaces all count on both. Sorting and ``LIKE`` are where they part.
    """
    if names:
        dual.assert_same(exact_lookup, names, names[0])
    dual.assert_same(exact_lookup, names, term)


def json_round_trip(session, attributes):
    session.add(Product(sku="SKU-1", name="x", price=Decimal("1.00"), attributes=attributes))
    session.flush()
    session.expire_all()
    return session.scalar(select(Product.attributes))


@pytest.mark.probe(category="json", expect="same")
@given(attributes=json_documents(top="object"))
def test_json_document_round_trip(dual, attributes):
    """Storing a JSON document and reading it back whole gives the same document on both.

    Both keep the serialised text as given (SQLAlchemy's ``JSON`` is ``json``,
    not ``jsonb``, on PostgreSQL): nesting, big integers, floats and ``null``
    survive. Extracting *inside* the document in SQL is where they part
    (``test_json_field_as_text``).
    """
    dual.assert_same(json_round_trip, attributes)

