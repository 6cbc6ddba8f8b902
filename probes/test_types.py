"""Types: SQLite's type affinity versus PostgreSQL's strict types.

SQLite stores any value in any column (a column's type is only a preference), does
not enforce ``VARCHAR(n)`` lengths, keeps 64-bit integers in ``INTEGER`` columns and
has no boolean, enum or date type: booleans are 0/1, dates are text. PostgreSQL
checks every value against the declared type and refuses implicit casts between
unrelated types (``varchar = integer``, ``boolean = integer``).

The ORM's type objects hide much of this — until raw SQL, a missing validation or
an out-of-range value reaches the database.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import Boolean, func, select, text

from dualdb.probes.models import Account, Attachment, Order, Post, Product, User, Video


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="types", expect="diverged")
def test_import_products_from_csv(db_session):
    """A non-numeric value in an ``Integer`` column.

    App: a CSV import copies the ``stock`` cell straight into ``Product.stock``; one
    supplier wrote ``"12 units"``.
    SQLite: type affinity cannot convert ``'12 units'`` to an integer, so it stores
    the TEXT as is — the import "succeeds" and the bad value surfaces much later.
    PostgreSQL: ``invalid input syntax for type integer: "12 units"`` (DataError).
    Fix: validate and convert at the boundary (``int(cell)``, a pydantic model), and
    let the test feed the bad row explicitly.
    """
    rows = [{"sku": "A-1", "name": "Pencil", "price": "0.50", "stock": "120"},
            {"sku": "A-2", "name": "Eraser", "price": "0.80", "stock": "12 units"}]
    for row in rows:
        db_session.add(Product(sku=row["sku"], name=row["name"],
                               price=Decimal(row["price"]), stock=row["stock"]))
    db_session.commit()

    assert db_session.scalar(select(func.count()).select_from(Product)) == 2


@pytest.mark.probe(category="types", expect="diverged")
def test_sku_longer_than_column(db_session, make_product):
    """``String(20)`` is not enforced by SQLite.

    App: a supplier SKU of 27 characters is saved into ``Product.sku``
    (``String(20)``).
    SQLite: ``VARCHAR(20)`` is only a name; the full 27 characters are stored.
    PostgreSQL: ``value too long for type character varying(20)`` (DataError).
    Fix: validate lengths in the application (pydantic ``max_length``, an ORM
    ``@validates``) so both engines see only valid data — see the ``_fixed`` test.
    """
    product = make_product("Cable", sku="SUPPLIER-CABLE-USB-C-2M-BLK")
    db_session.commit()

    assert product.id is not None


def _create_product(session, sku: str, name: str) -> Product:
    """The fixed service: validate the length before the database sees it."""
    max_length = Product.__table__.c.sku.type.length
    if len(sku) > max_length:
        raise ValueError(f"sku longer than {max_length} characters")
    product = Product(sku=sku, name=name, price=Decimal("1.00"))
    session.add(product)
    session.flush()
    return product


@pytest.mark.probe(category="types", expect="same")
def test_sku_longer_than_column_fixed(db_session):
    """Fix for ``test_sku_longer_than_column``: the service validates the length
    against the column's declared ``String(20)``, on both engines."""
    with pytest.raises(ValueError, match="longer than 20"):
        _create_product(db_session, "SUPPLIER-CABLE-USB-C-2M-BLK", "Cable")
    assert _create_product(db_session, "CABLE-USB-C-2M", "Cable").id is not None


@pytest.mark.probe(category="types", expect="diverged")
def test_active_users_report_in_raw_sql(db_session, make_user):
    """Comparing a Boolean column with ``1`` in raw SQL.

    App: a report query written against SQLite: ``SELECT count(*) FROM users WHERE
    is_active = 1``.
    SQLite: booleans are stored as 0/1; the comparison works.
    PostgreSQL: ``operator does not exist: boolean = integer``.
    Fix: bind a Python ``True`` (``WHERE is_active = :active`` with
    ``active=True``), or ``WHERE is_active`` / ``= true`` (SQLite ≥ 3.23 knows
    ``true``), or use the ORM (``User.is_active.is_(True)``).
    """
    make_user("Alice", is_active=True)
    make_user("Bob", is_active=False)

    active = db_session.scalar(text("SELECT count(*) FROM users WHERE is_active = 1"))

    assert active == 1


@pytest.mark.probe(category="types", expect="same")
def test_active_users_report_in_raw_sql_fixed(db_session, make_user):
    """Fix for ``test_active_users_report_in_raw_sql``: bind a Python boolean."""
    make_user("Alice", is_active=True)
    make_user("Bob", is_active=False)

    active = db_session.scalar(
        text("SELECT count(*) FROM users WHERE is_active = :active").bindparams(active=True)
    )

    assert active == 1


@pytest.mark.probe(category="types", expect="diverged")
def test_user_export_serialises_is_active(db_session, make_user):
    """The Python type of a raw-SQL Boolean: ``1`` versus ``True``.

    App: an export runs ``text("SELECT username, is_active FROM users")`` and checks
    ``row.is_active is True`` before writing ``"yes"``.
    SQLite: no boolean type, the driver returns the integer ``1``: ``1 is True`` is
    false.
    PostgreSQL: the driver returns Python ``True``.
    Fix: tell SQLAlchemy the column types of a text query:
    ``text(...).columns(is_active=Boolean)`` — SQLite's 0/1 are then converted.
    """
    make_user("Alice", is_active=True)

    row = db_session.execute(text("SELECT username, is_active FROM users")).one()

    assert row.is_active is True


@pytest.mark.probe(category="types", expect="same")
def test_user_export_serialises_is_active_fixed(db_session, make_user):
    """Fix for ``test_user_export_serialises_is_active``: ``.columns(is_active=Boolean)``."""
    make_user("Alice", is_active=True)

    row = db_session.execute(
        text("SELECT username, is_active FROM users").columns(is_active=Boolean)
    ).one()

    assert row.is_active is True


@pytest.mark.probe(category="types", expect="diverged")
def test_order_created_at_from_raw_sql(db_session, make_user):
    """Raw SQL returns SQLite's storage type: a date is a string.

    App: an export reads ``SELECT id, created_at FROM orders`` and formats
    ``row.created_at.isoformat()``.
    SQLite: DATETIME is stored as TEXT and comes back as ``str``:
    ``AttributeError: 'str' object has no attribute 'isoformat'``.
    PostgreSQL: ``timestamptz`` comes back as a ``datetime``.
    Fix: ``text(...).columns(created_at=DateTime(timezone=True))`` (SQLAlchemy then
    parses SQLite's text), or select ORM attributes instead of raw SQL. Either way
    SQLite's datetime is *naive* while PostgreSQL's is aware — see
    ``test_datetime.py::test_order_timestamp_is_in_the_past``.
    """
    alice = make_user("Alice")
    db_session.add(Order(user=alice, created_at=dt.datetime(2024, 3, 1, 12, tzinfo=dt.timezone.utc)))
    db_session.flush()

    row = db_session.execute(text("SELECT id, created_at FROM orders")).one()

    assert row.created_at.isoformat().startswith("2024-03-01T12:00:00")


@pytest.mark.probe(category="types", expect="diverged")
def test_refund_sets_status_outside_enum(db_session, make_user):
    """A value outside an ``Enum`` column.

    App: the new refund flow sets ``order.status = "refunded"``, a value nobody
    added to ``Enum("pending", "paid", "shipped", "cancelled")``.
    SQLite: the Enum is a plain ``VARCHAR`` (SQLAlchemy creates no CHECK constraint
    by default), the row is stored.
    PostgreSQL: a native ``ENUM`` type: ``invalid input value for enum
    order_status: "refunded"``.
    Fix: add the value (and a migration: ``ALTER TYPE ... ADD VALUE``); make the
    Enum strict on every engine with ``Enum(..., validate_strings=True)`` or
    ``create_constraint=True``.
    """
    order = Order(user=make_user("Alice"), total=Decimal("15"))
    db_session.add(order)
    db_session.commit()

    order.status = "refunded"
    db_session.commit()

    assert db_session.scalar(
        select(func.count()).select_from(Order).where(Order.status == "refunded")
    ) == 1


@pytest.mark.probe(category="types", expect="diverged")
def test_large_upload_size_in_integer_column(db_session):
    """A value beyond 32 bits in an ``Integer`` column.

    App: ``Attachment.size_bytes`` is ``Integer``; a 3 GB video is uploaded.
    SQLite: INTEGER is 64-bit; 3,000,000,000 is stored.
    PostgreSQL: ``integer`` is 32-bit: ``integer out of range``
    (NumericValueOutOfRange).
    Fix: ``BigInteger`` for anything that counts bytes, milliseconds or money in
    cents (see ``Video.size_bytes`` and the ``_fixed`` test).
    """
    db_session.add(Attachment(filename="conference.mp4", size_bytes=3_000_000_000))
    db_session.commit()

    assert db_session.scalar(select(Attachment.size_bytes)) == 3_000_000_000


@pytest.mark.probe(category="types", expect="same")
def test_large_upload_size_in_integer_column_fixed(db_session):
    """Fix for ``test_large_upload_size_in_integer_column``: a ``BigInteger`` column."""
    db_session.add(Video(filename="conference.mp4", size_bytes=3_000_000_000))
    db_session.commit()

    assert db_session.scalar(select(Video.size_bytes)) == 3_000_000_000


@pytest.mark.probe(category="types", expect="diverged")
def test_lookup_numeric_sku_with_int(db_session, make_product):
    """Comparing a ``String`` column with a Python ``int``.

    App: ``GET /products/by-sku/{sku}`` declares ``sku: int`` (SKUs look numeric)
    and queries ``Product.sku == sku``.
    SQLite: the column's TEXT affinity converts ``12345`` to ``'12345'``; found.
    PostgreSQL: ``operator does not exist: character varying = integer``.
    Fix: keep identifiers as strings end to end (``sku: str``) or convert:
    ``Product.sku == str(sku)``.
    """
    make_product("Cable", sku="12345")

    found = db_session.scalars(select(Product.name).where(Product.sku == 12345)).all()

    assert found == ["Cable"]


@pytest.mark.probe(category="types", expect="same")
def test_lookup_numeric_sku_with_int_fixed(db_session, make_product):
    """Fix for ``test_lookup_numeric_sku_with_int``: ``str(sku)``."""
    make_product("Cable", sku="12345")
    sku = 12345

    found = db_session.scalars(select(Product.name).where(Product.sku == str(sku))).all()

    assert found == ["Cable"]


@pytest.mark.probe(category="types", expect="diverged")
def test_average_views_in_json_response(db_session, make_post):
    """``AVG`` of an integer column: ``float`` on SQLite, ``Decimal`` on PostgreSQL.

    App: a stats endpoint returns ``json.dumps({"avg_views": avg})`` with
    ``avg = select(func.avg(Post.views))``.
    SQLite: AVG returns a REAL, the driver a ``float``; ``json.dumps`` works.
    PostgreSQL: ``avg(integer)`` returns ``numeric``, the driver a ``Decimal``:
    ``TypeError: Object of type Decimal is not JSON serializable``.
    Fix: convert explicitly (``float(avg)``), or ``func.avg(...,
    type_=Float)``/``cast(func.avg(...), Float)``; let FastAPI/pydantic serialise.
    """
    make_post("A", views=3)
    make_post("B", views=4)

    avg_views = db_session.scalar(select(func.avg(Post.views)))

    assert json.dumps({"avg_views": avg_views}) == '{"avg_views": 3.5}'


@pytest.mark.probe(category="types", expect="diverged")
def test_count_active_users_with_sum(db_session, make_user):
    """``SUM()`` over a Boolean column.

    App: ``SELECT sum(is_active) FROM users`` to count active users.
    SQLite: booleans are integers; the sum is 2.
    PostgreSQL: ``function sum(boolean) does not exist``.
    Fix: ``func.count().filter(User.is_active)`` (``FILTER (WHERE ...)``, SQLite ≥
    3.30) or ``func.sum(case((User.is_active, 1), else_=0))``.
    """
    make_user("Alice", is_active=True)
    make_user("Bob", is_active=True)
    make_user("Carol", is_active=False)

    active = db_session.scalar(text("SELECT sum(is_active) FROM users"))

    assert active == 2


@pytest.mark.probe(category="types", expect="same")
def test_count_active_users_with_sum_fixed(db_session, make_user):
    """Fix for ``test_count_active_users_with_sum``: ``count().filter(...)``."""
    make_user("Alice", is_active=True)
    make_user("Bob", is_active=True)
    make_user("Carol", is_active=False)

    active = db_session.scalar(select(func.count().filter(User.is_active)))

    assert active == 2


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="types", expect="same")
def test_numeric_string_into_integer_column(db_session):
    """Look-alike: a numeric *string* for an ``Integer`` column is converted on both
    engines (SQLite's INTEGER affinity; PostgreSQL casts the untyped parameter
    psycopg sends for a ``str``) and reads back as ``int``."""
    db_session.add(Product(sku="P-1", name="Pencil", price=Decimal("0.50"), stock="42"))
    db_session.commit()

    stock = db_session.scalar(select(Product.stock).where(Product.sku == "P-1"))

    assert (type(stock), stock) == (int, 42)


@pytest.mark.probe(category="types", expect="same")
def test_uuid_column_round_trip(db_session):
    """Look-alike: SQLAlchemy's portable ``Uuid`` type (CHAR(32) on SQLite, native
    ``uuid`` on PostgreSQL) round-trips ``uuid.UUID`` values and filters by them."""
    account = Account(owner="alice", balance=Decimal("1"))
    db_session.add(account)
    db_session.commit()
    public_id = account.public_id
    db_session.expire_all()

    found = db_session.scalar(select(Account.owner).where(Account.public_id == public_id))

    assert found == "alice"


@pytest.mark.probe(category="types", expect="same")
def test_filter_on_char_column(db_session, make_user):
    """Look-alike: filtering a ``CHAR(8)`` column by a shorter value finds the row on
    both engines (SQLite stores ``'SAVE10'``; PostgreSQL pads to ``'SAVE10  '`` but
    ``bpchar`` comparison ignores trailing spaces). Reading the value back differs —
    see ``test_strings.py::test_coupon_code_is_padded``."""
    db_session.add(Order(user=make_user("Alice"), coupon_code="SAVE10"))
    db_session.flush()

    count = db_session.scalar(select(func.count()).where(Order.coupon_code == "SAVE10"))

    assert count == 1
