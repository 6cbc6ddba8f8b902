"""JSON columns: SQLite keeps JSON as TEXT and its JSON functions return plain SQL
values; PostgreSQL's ``json`` type is a real type with its own (few) operators.

Queries written against SQLite's forgiving TEXT storage often fail or change meaning
on PostgreSQL. The portable spelling is SQLAlchemy's typed accessors:
``column["key"].as_string()``, ``.as_integer()``, ``.as_float()``, ``.as_boolean()``.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from dualdb.probes.models import Product


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="json", expect="diverged")
def test_order_products_by_json_rank(db_session, make_product):
    """Ordering by a raw JSON element.

    App: the "featured" shelf sorts products by ``attributes["rank"]``:
    ``order_by(Product.attributes["rank"])``.
    SQLite: the element renders as ``JSON_QUOTE(JSON_EXTRACT(...))``, a TEXT value,
    so the query runs (and sorts ranks as text).
    PostgreSQL: ``attributes -> 'rank'`` is of type ``json``, which has no ordering
    operator: ``could not identify an ordering operator for type json``.
    Fix: say what the element is: ``Product.attributes["rank"].as_integer()``
    (``CAST(attributes ->> 'rank' AS INTEGER)`` / ``JSON_EXTRACT``), which also sorts
    numerically on both engines.
    """
    make_product("Desk lamp", attributes={"rank": 2})
    make_product("Notebook", attributes={"rank": 1})
    make_product("Pen", attributes={"rank": 3})

    names = db_session.scalars(
        select(Product.name).order_by(Product.attributes["rank"])
    ).all()

    assert names == ["Notebook", "Desk lamp", "Pen"]


@pytest.mark.probe(category="json", expect="same")
def test_order_products_by_json_rank_fixed(db_session, make_product):
    """Fix for ``test_order_products_by_json_rank``: ``.as_integer()`` gives the
    element a SQL type, so both engines sort it as a number (10 after 9)."""
    make_product("Desk lamp", attributes={"rank": 10})
    make_product("Notebook", attributes={"rank": 1})
    make_product("Pen", attributes={"rank": 9})

    names = db_session.scalars(
        select(Product.name).order_by(Product.attributes["rank"].as_integer())
    ).all()

    assert names == ["Notebook", "Pen", "Desk lamp"]


@pytest.mark.probe(category="json", expect="diverged")
def test_filter_by_json_extract_function(db_session, make_product):
    """Calling SQLite's ``json_extract()`` by name.

    App: ``where(func.json_extract(Product.attributes, "$.color") == "red")`` —
    copied from the SQLite documentation.
    SQLite: ``json_extract`` is built in and returns the SQL text ``red``.
    PostgreSQL: there is no ``json_extract`` function: ``function
    json_extract(json, unknown) does not exist``.
    Fix: ``Product.attributes["color"].as_string() == "red"`` compiles to
    ``JSON_EXTRACT`` on SQLite and ``->>`` on PostgreSQL.
    """
    make_product("Red mug", attributes={"color": "red"})
    make_product("Blue mug", attributes={"color": "blue"})

    names = db_session.scalars(
        select(Product.name).where(func.json_extract(Product.attributes, "$.color") == "red")
    ).all()

    assert names == ["Red mug"]


@pytest.mark.probe(category="json", expect="same")
def test_filter_by_json_extract_function_fixed(db_session, make_product):
    """Fix for ``test_filter_by_json_extract_function``: ``.as_string()``."""
    make_product("Red mug", attributes={"color": "red"})
    make_product("Blue mug", attributes={"color": "blue"})

    names = db_session.scalars(
        select(Product.name).where(Product.attributes["color"].as_string() == "red")
    ).all()

    assert names == ["Red mug"]


@pytest.mark.probe(category="json", expect="diverged")
def test_low_stock_report_with_arrow_operator(db_session, make_product):
    """``->>`` returns a number on SQLite and text on PostgreSQL.

    App: a hand-written report, ``SELECT name FROM products WHERE
    attributes ->> 'stock' < 5`` (the ``->>`` operator exists in both dialects).
    SQLite (3.38+): ``->>`` returns an SQL INTEGER for a JSON number, so ``< 5`` is a
    numeric comparison.
    PostgreSQL: ``->>`` always returns ``text``: ``operator does not exist: text <
    integer``.
    Fix: cast explicitly (``CAST(attributes ->> 'stock' AS INTEGER)`` works on both),
    or use ``Product.attributes["stock"].as_integer() < 5``.
    """
    make_product("Stapler", attributes={"stock": 2})
    make_product("Paper", attributes={"stock": 40})

    names = db_session.scalars(
        text("SELECT name FROM products WHERE attributes ->> 'stock' < 5")
    ).all()

    assert names == ["Stapler"]


@pytest.mark.probe(category="json", expect="same")
def test_low_stock_report_with_arrow_operator_fixed(db_session, make_product):
    """Fix for ``test_low_stock_report_with_arrow_operator``: an explicit CAST."""
    make_product("Stapler", attributes={"stock": 2})
    make_product("Paper", attributes={"stock": 40})

    names = db_session.scalars(
        text("SELECT name FROM products WHERE CAST(attributes ->> 'stock' AS INTEGER) < 5")
    ).all()

    assert names == ["Stapler"]


@pytest.mark.probe(category="json", expect="diverged")
def test_inventory_total_from_arrow_operator(db_session, make_product):
    """The Python type of ``->>`` results differs: int on SQLite, str on PostgreSQL.

    App: ``SELECT attributes ->> 'stock' FROM products`` then ``sum(...)`` in Python.
    SQLite: the values come back as ``int`` and ``sum()`` works.
    PostgreSQL: they come back as ``str`` (``->>`` yields text):
    ``TypeError: unsupported operand type(s) for +: 'int' and 'str'``.
    Fix: cast in SQL (``CAST(... AS INTEGER)``) or use
    ``Product.attributes["stock"].as_integer()``.
    """
    make_product("Stapler", attributes={"stock": 2})
    make_product("Paper", attributes={"stock": 40})

    stock_levels = db_session.scalars(text("SELECT attributes ->> 'stock' FROM products")).all()

    assert sum(stock_levels) == 42


@pytest.mark.probe(category="json", expect="diverged")
def test_find_products_with_identical_attributes(db_session, make_product):
    """Comparing whole JSON documents with ``==``.

    App: de-duplicating variants: ``where(Product.attributes == {"color": "red",
    "size": "M"})``.
    SQLite: JSON is TEXT; the serialised document equals the stored text, the row
    is found.
    PostgreSQL: the ``json`` type has no equality operator: ``operator does not
    exist: json = json``.
    Fix: compare the keys that matter with ``.as_string()``, or store the column as
    ``JSONB`` on PostgreSQL (``JSON().with_variant(JSONB, "postgresql")``), whose
    ``=`` compares documents structurally.
    """
    make_product("T-shirt red M", attributes={"color": "red", "size": "M"})
    make_product("T-shirt red L", attributes={"color": "red", "size": "L"})

    duplicates = db_session.scalars(
        select(Product.name).where(Product.attributes == {"color": "red", "size": "M"})
    ).all()

    assert duplicates == ["T-shirt red M"]


@pytest.mark.probe(category="json", expect="diverged")
def test_color_facet_with_distinct_json_element(db_session, make_product):
    """``SELECT DISTINCT`` on a JSON element.

    App: the search page lists the available colours:
    ``select(Product.attributes["color"]).distinct()``.
    SQLite: the element is TEXT; DISTINCT works.
    PostgreSQL: ``could not identify an equality operator for type json`` —
    DISTINCT needs ``=`` and ``json`` has none.
    Fix: ``select(Product.attributes["color"].as_string()).distinct()``.
    """
    make_product("Red mug", attributes={"color": "red"})
    make_product("Red cap", attributes={"color": "red"})
    make_product("Blue mug", attributes={"color": "blue"})

    colors = db_session.scalars(select(Product.attributes["color"]).distinct()).all()

    assert len(colors) == 2


@pytest.mark.probe(category="json", expect="same")
def test_color_facet_with_distinct_json_element_fixed(db_session, make_product):
    """Fix for ``test_color_facet_with_distinct_json_element``: ``.as_string()``,
    and sort in SQL so the order is defined too."""
    make_product("Red mug", attributes={"color": "red"})
    make_product("Red cap", attributes={"color": "red"})
    make_product("Blue mug", attributes={"color": "blue"})

    color = Product.attributes["color"].as_string()
    colors = db_session.scalars(select(color).distinct().order_by(color)).all()

    assert colors == ["blue", "red"]


@pytest.mark.probe(category="json", expect="diverged")
def test_featured_products_compare_json_boolean(db_session, make_product):
    """Comparing a raw JSON element to a Python boolean: wrong on both, differently.

    App: ``where(Product.attributes["featured"] == True)``.
    SQLite: the element renders as ``JSON_QUOTE(JSON_EXTRACT(...))`` — the TEXT
    ``'1'`` — compared with the integer ``1``: TEXT never equals INTEGER, so the query
    silently returns no rows and the assertion fails.
    PostgreSQL: ``operator does not exist: json = boolean``.
    Both legs fail with different exception types: an ``error`` divergence (a test
    that is red on SQLite may still hide a different failure on PostgreSQL).
    Fix: ``Product.attributes["featured"].as_boolean()``.
    """
    make_product("Featured lamp", attributes={"featured": True})
    make_product("Plain lamp", attributes={"featured": False})

    names = db_session.scalars(
        select(Product.name).where(Product.attributes["featured"] == True)  # noqa: E712
    ).all()

    assert names == ["Featured lamp"]


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="json", expect="same")
def test_filter_by_json_boolean_as_boolean(db_session, make_product):
    """Look-alike: ``.as_boolean()`` on a JSON ``true``/``false`` behaves the same on
    both engines (``JSON_EXTRACT`` gives 1/0 on SQLite, ``CAST(->> AS BOOLEAN)`` on
    PostgreSQL)."""
    make_product("Featured lamp", attributes={"featured": True})
    make_product("Plain lamp", attributes={"featured": False})

    names = db_session.scalars(
        select(Product.name).where(Product.attributes["featured"].as_boolean())
    ).all()

    assert names == ["Featured lamp"]


@pytest.mark.probe(category="json", expect="same")
def test_json_nested_path_lookup(db_session, make_product):
    """Look-alike: a tuple path (``attributes[("dimensions", "unit")]``) compiles to
    ``JSON_EXTRACT(..., '$."dimensions"."unit"')`` on SQLite and ``#>>`` on
    PostgreSQL and finds the same rows."""
    make_product("Desk", attributes={"dimensions": {"width": 120, "unit": "cm"}})
    make_product("Shelf", attributes={"dimensions": {"width": 30, "unit": "in"}})

    names = db_session.scalars(
        select(Product.name)
        .where(Product.attributes[("dimensions", "unit")].as_string() == "cm")
        .where(Product.attributes[("dimensions", "width")].as_integer() > 100)
    ).all()

    assert names == ["Desk"]


@pytest.mark.probe(category="json", expect="same")
def test_json_none_is_stored_as_json_null(db_session, make_product):
    """Look-alike (surprising on both): assigning ``None`` to a ``JSON`` column stores
    the JSON value ``null``, not SQL NULL (``JSON(none_as_null=False)`` is the
    default), so ``attributes IS NULL`` finds nothing on either engine. Use
    ``JSON(none_as_null=True)`` or ``sqlalchemy.null()`` to store SQL NULL."""
    make_product("Gift card", attributes=None)

    without_attributes = db_session.scalars(
        select(Product.name).where(Product.attributes.is_(None))
    ).all()

    assert without_attributes == []


@pytest.mark.probe(category="json", expect="same")
def test_json_document_round_trip(db_session, make_product):
    """Look-alike: a nested document (unicode, floats, lists, booleans, null) reads
    back equal on both engines."""
    document = {"name": "Crème brûlée", "ratio": 0.25, "sizes": [1, 2, 3],
                "flags": {"vegan": False, "new": True}, "note": None}
    product_id = make_product("Dessert", attributes=document).id
    db_session.commit()

    stored = db_session.scalar(select(Product.attributes).where(Product.id == product_id))

    assert stored == document
