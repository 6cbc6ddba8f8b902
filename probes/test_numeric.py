"""Numbers: SQLite has 64-bit integers and 64-bit floats, nothing else.

A ``Numeric(12, 2)`` column is stored as a binary float on SQLite (SQLAlchemy turns
it back into a ``Decimal`` on the way out, rounded to the column's scale, which hides
the error until the database itself compares or computes). PostgreSQL has exact
``numeric``, 32-bit ``integer`` (overflow is an error), ``double precision`` with its
own function signatures, and raises on division by zero where SQLite returns NULL.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import BigInteger, Integer, Numeric, cast, func, select, text, update

from dualdb.probes.models import Account, Campaign, Order, OrderItem, Product


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="numeric", expect="diverged")
def test_shipping_weights_rounded_to_one_decimal(db_session, make_product):
    """``round(x, n)`` on a ``Float`` column.

    App: the shipping label shows ``func.round(Product.weight_kg, 1)``.
    SQLite: ``round(X, N)`` accepts any number.
    PostgreSQL: ``Float`` is ``double precision`` and only ``round(numeric,
    integer)`` exists: ``function round(double precision, integer) does not exist``.
    Fix: ``func.round(cast(Product.weight_kg, Numeric), 1)`` — valid on both.
    """
    make_product("Anvil", weight_kg=12.345)

    weight = db_session.scalar(select(func.round(Product.weight_kg, 1)))

    assert float(weight) == 12.3


@pytest.mark.probe(category="numeric", expect="same")
def test_shipping_weights_rounded_to_one_decimal_fixed(db_session, make_product):
    """Fix for ``test_shipping_weights_rounded_to_one_decimal``: cast to Numeric."""
    make_product("Anvil", weight_kg=12.345)

    weight = db_session.scalar(select(func.round(cast(Product.weight_kg, Numeric), 1)))

    assert float(weight) == 12.3


@pytest.mark.probe(category="numeric", expect="diverged")
def test_star_rating_rounds_half_up(db_session, make_product):
    """Rounding a half: away from zero on SQLite, to even on PostgreSQL's float.

    App: the product card shows ``func.round(Product.rating)`` stars; a 2.5 rating
    should show 3 stars.
    SQLite: ``round(2.5)`` is 3.0 (half away from zero).
    PostgreSQL: ``round(double precision)`` uses the platform's ``rint``: half to
    even, 2.
    Fix: round exact numbers: ``func.round(cast(Product.rating, Numeric))`` (numeric
    rounds half away from zero on PostgreSQL too), or round in Python with
    ``Decimal.quantize(..., ROUND_HALF_UP)``.
    """
    make_product("Lamp", rating=2.5)

    stars = db_session.scalar(select(func.round(Product.rating)))

    assert stars == 3


@pytest.mark.probe(category="numeric", expect="same")
def test_star_rating_rounds_half_up_fixed(db_session, make_product):
    """Fix for ``test_star_rating_rounds_half_up``: round a ``numeric``."""
    make_product("Lamp", rating=2.5)

    stars = db_session.scalar(select(func.round(cast(Product.rating, Numeric))))

    assert stars == 3


@pytest.mark.probe(category="numeric", expect="diverged")
def test_shipping_tier_from_weight(db_session, make_product):
    """``CAST(float AS INTEGER)``: truncation versus rounding.

    App: the shipping tier is ``cast(Product.weight_kg, Integer)``; a 2.7 kg parcel
    is expected in tier 2 ("whole kilograms").
    SQLite: CAST truncates toward zero: 2.
    PostgreSQL: casting ``double precision`` to ``integer`` rounds: 3.
    Fix: say which one you mean — ``func.floor`` exists on PostgreSQL but only on
    SQLite builds with math functions, so compute the tier in Python, or compare
    ranges (``weight_kg < 3``).
    """
    make_product("Parcel", weight_kg=2.7)

    tier = db_session.scalar(select(cast(Product.weight_kg, Integer)))

    assert tier == 2


@pytest.mark.probe(category="numeric", expect="diverged")
def test_click_through_rate_without_impressions(db_session):
    """Division by zero: NULL on SQLite, an error on PostgreSQL.

    App: the campaign report computes ``Campaign.clicks / Campaign.impressions``; a
    campaign that has not started has 0 impressions, shown as "n/a".
    SQLite: ``x / 0`` is NULL; the report shows ``None``.
    PostgreSQL: ``division by zero`` (DataError) — the whole report fails.
    Fix: ``Campaign.clicks / func.nullif(Campaign.impressions, 0)`` gives NULL on
    both engines.
    """
    db_session.add_all([Campaign(name="spring", impressions=400, clicks=100),
                        Campaign(name="summer", impressions=0, clicks=0)])
    db_session.flush()

    rates = db_session.execute(
        select(Campaign.name, Campaign.clicks / Campaign.impressions).order_by(Campaign.id)
    ).all()

    assert [(name, None if rate is None else float(rate)) for name, rate in rates] == [
        ("spring", 0.25), ("summer", None)]


@pytest.mark.probe(category="numeric", expect="same")
def test_click_through_rate_without_impressions_fixed(db_session):
    """Fix for ``test_click_through_rate_without_impressions``: ``nullif``."""
    db_session.add_all([Campaign(name="spring", impressions=400, clicks=100),
                        Campaign(name="summer", impressions=0, clicks=0)])
    db_session.flush()

    rates = db_session.execute(
        select(Campaign.name, Campaign.clicks / func.nullif(Campaign.impressions, 0))
        .order_by(Campaign.id)
    ).all()

    assert [(name, None if rate is None else float(rate)) for name, rate in rates] == [
        ("spring", 0.25), ("summer", None)]


@pytest.mark.probe(category="numeric", expect="diverged")
def test_wallet_balance_after_three_top_ups(db_session):
    """Money arithmetic inside the database: binary float on SQLite.

    App: each top-up runs ``UPDATE accounts SET balance = balance + 0.10``; after
    three, support looks the wallet up by its balance, ``balance == 0.30``.
    SQLite: ``NUMERIC(12,2)`` values are stored as REAL: 0.1 + 0.1 + 0.1 is
    0.30000000000000004, not equal to 0.3 — the wallet is not found.
    PostgreSQL: exact ``numeric`` arithmetic; found. (Here SQLite is the leg that
    fails: the divergence can go either way.)
    Fix: keep money in integer cents (``BigInteger``) when SQLite must be supported;
    never compare computed money for equality in SQL on SQLite.
    """
    db_session.add(Account(owner="alice", balance=Decimal("0")))
    db_session.flush()
    for _ in range(3):
        db_session.execute(update(Account).values(balance=Account.balance + Decimal("0.10")))

    found = db_session.scalars(
        select(Account.owner).where(Account.balance == Decimal("0.30"))
    ).all()

    assert found == ["alice"]


@pytest.mark.probe(category="numeric", expect="diverged")
def test_discounted_price_is_rounded_to_cents(db_session, make_product, observe):
    """A Decimal with more digits than the column's scale (silent: both pass).

    App: a 15 % discount is computed in Python, ``Decimal("23.52") *
    Decimal("0.85")`` = 19.992, and saved to ``Numeric(10, 2)``; the "under 19.99"
    shelf filters ``price <= 19.99``.
    SQLite: stores the float 19.992; ``19.992 <= 19.99`` is false — not on the shelf.
    PostgreSQL: ``numeric(10,2)`` rounds on input to 19.99 — on the shelf.
    (Reading the price back gives 19.99 on both: SQLAlchemy rounds SQLite's float to
    the column's scale, which is why nobody notices.)
    Fix: quantize in the application before saving:
    ``price.quantize(Decimal("0.01"), ROUND_HALF_UP)``.
    """
    make_product("Headphones", price=Decimal("23.52") * Decimal("0.85"))

    shelf = db_session.scalars(
        select(Product.name).where(Product.price <= Decimal("19.99"))
    ).all()

    observe("under 19.99 shelf", shelf)
    assert db_session.scalar(select(Product.price)) == Decimal("19.99")


@pytest.mark.probe(category="numeric", expect="same")
def test_discounted_price_is_rounded_to_cents_fixed(db_session, make_product, observe):
    """Fix for ``test_discounted_price_is_rounded_to_cents``: quantize first."""
    price = (Decimal("23.52") * Decimal("0.85")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    make_product("Headphones", price=price)

    shelf = db_session.scalars(
        select(Product.name).where(Product.price <= Decimal("19.99"))
    ).all()

    observe("under 19.99 shelf", shelf)
    assert shelf == ["Headphones"]


@pytest.mark.probe(category="numeric", expect="diverged")
def test_revenue_of_a_bulk_order(db_session, make_user, make_product):
    """32-bit integer overflow in an expression.

    App: revenue is ``func.sum(OrderItem.quantity * OrderItem.unit_price_cents)``;
    a wholesale order has 50,000 units at 999.99 (99,999 cents).
    SQLite: integers are 64-bit; 4,999,950,000 cents.
    PostgreSQL: ``integer * integer`` is computed in 32 bits *before* ``sum()``
    widens it: ``integer out of range``.
    Fix: widen first: ``func.sum(cast(OrderItem.quantity, BigInteger) *
    OrderItem.unit_price_cents)``, and store cents as ``BigInteger``.
    """
    order = Order(user=make_user("Wholesaler"))
    db_session.add(order)
    db_session.add(OrderItem(order=order, product=make_product("Chair"), quantity=50_000,
                             unit_price_cents=99_999))
    db_session.flush()

    revenue = db_session.scalar(
        select(func.sum(OrderItem.quantity * OrderItem.unit_price_cents))
    )

    assert revenue == 4_999_950_000


@pytest.mark.probe(category="numeric", expect="same")
def test_revenue_of_a_bulk_order_fixed(db_session, make_user, make_product):
    """Fix for ``test_revenue_of_a_bulk_order``: cast one factor to BigInteger."""
    order = Order(user=make_user("Wholesaler"))
    db_session.add(order)
    db_session.add(OrderItem(order=order, product=make_product("Chair"), quantity=50_000,
                             unit_price_cents=99_999))
    db_session.flush()

    revenue = db_session.scalar(
        select(func.sum(cast(OrderItem.quantity, BigInteger) * OrderItem.unit_price_cents))
    )

    assert revenue == 4_999_950_000


@pytest.mark.probe(category="numeric", expect="diverged")
def test_partner_reference_number_round_trip(db_session):
    """A 19-digit identifier in a ``Numeric(20, 0)`` column.

    App: a payment partner's transaction id, 1234567890123456789, is stored in
    ``Account.external_ref`` and must match exactly when the webhook arrives.
    SQLite: pysqlite cannot bind a ``Decimal``, so SQLAlchemy's SQLite dialect binds
    ``Numeric`` values as ``float``; a double keeps about 16 significant digits and
    ``Decimal('1234567890123456768')`` comes back.
    PostgreSQL: exact ``numeric``.
    Fix: store external identifiers as strings (``String(32)``); use ``BigInteger``
    for integers that fit 64 bits.
    """
    reference = Decimal("1234567890123456789")
    db_session.add(Account(owner="alice", external_ref=reference))
    db_session.commit()
    db_session.expire_all()

    assert db_session.scalar(select(Account.external_ref)) == reference


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="numeric", expect="same")
def test_integer_division_in_raw_sql_truncates(db_session):
    """Look-alike: in raw SQL, ``integer / integer`` truncates on both engines
    (``7 / 2`` is 3), and ``%`` keeps the sign of the dividend (``-7 % 3`` is -1)."""
    row = db_session.execute(text("SELECT 7 / 2 AS q, -7 % 3 AS r")).one()

    assert (row.q, row.r) == (3, -1)


@pytest.mark.probe(category="numeric", expect="same")
def test_orm_division_of_integer_columns_is_true_division(db_session):
    """Look-alike: SQLAlchemy 2's ``/`` on two Integer columns is *true* division on
    every dialect (it adds the needed cast), so 100 / 400 is 0.25 on both."""
    db_session.add(Campaign(name="spring", impressions=400, clicks=100))
    db_session.flush()

    rate = db_session.scalar(select(Campaign.clicks / Campaign.impressions))

    assert float(rate) == pytest.approx(0.25)


@pytest.mark.probe(category="numeric", expect="same")
def test_order_totals_sum_as_decimal(db_session, make_user):
    """Look-alike: summing a ``Numeric(12, 2)`` column through the ORM returns a
    ``Decimal`` rounded to cents on both engines (SQLAlchemy converts SQLite's float
    result using the column's scale)."""
    alice = make_user("Alice")
    db_session.add_all([Order(user=alice, total=Decimal("10.10")),
                        Order(user=alice, total=Decimal("20.20"))])
    db_session.flush()

    total = db_session.scalar(select(func.sum(Order.total)))

    assert (type(total), total) == (Decimal, Decimal("30.30"))


@pytest.mark.probe(category="numeric", expect="same")
def test_float_column_equality(db_session, make_product):
    """Look-alike: ``Float`` is an IEEE double on both engines (``REAL`` /
    ``double precision``), so equality on the same literal behaves the same."""
    make_product("Feather", weight_kg=0.1)

    found = db_session.scalars(select(Product.name).where(Product.weight_kg == 0.1)).all()

    assert found == ["Feather"]
