from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()


def utcnow() -> datetime:
    return datetime.utcnow()

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(120), nullable=False, unique=True),
    Column("name", String(80), nullable=False),
    Column("region", String(20), nullable=False, default="north"),
    Column("signed_up_at", DateTime, nullable=False, default=utcnow),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(16), nullable=False, unique=True),
    Column("customer_id", ForeignKey("customers.id"), nullable=False),
    Column("placed_at", DateTime, nullable=False, default=utcnow),
    Column("total", Numeric(12, 2), nullable=False),
    Column("refunded", Boolean, nullable=False, default=False),
    Column("channel", String(12), nullable=False, default="web"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("sku", String(20), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Numeric(10, 2), nullable=False),
    UniqueConstraint("order_id", "sku"),
)
