"""Queries behind the back-office dashboards. Every function takes a ``Connection``."""

from __future__ import annotations

import base64
import csv
import io
import json
import secrets
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, Integer, Numeric, String, and_, desc, func, insert, or_, select, text

from .schema import customers, order_lines, orders


# -- writing ---------------------------------------------------------------------------------


def new_order_number() -> str:
    return "SO-" + secrets.token_hex(4).upper()


def add_customer(conn: Connection, email: str, name: str, region: str = "north") -> int:
    return conn.execute(
        insert(customers).values(email=email.lower(), name=name, region=region).returning(customers.c.id)
    ).scalar_one()


def record_order(conn: Connection, customer_id: int, lines: Iterable[tuple[str, int, Decimal]],
                 placed_at: datetime | None = None, channel: str = "web") -> dict:
    lines = list(lines)
    total = sum((Decimal(qty) * price for _, qty, price in lines), Decimal("0.00"))
    values = {"number": new_order_number(), "customer_id": customer_id, "total": total, "channel": channel}
    if placed_at is not None:
        values["placed_at"] = placed_at
    row = conn.execute(
        insert(orders).values(**values).returning(orders.c.id, orders.c.number, orders.c.placed_at, orders.c.total)
    ).one()
    if lines:
        conn.execute(insert(order_lines), [
            {"order_id": row.id, "sku": sku, "quantity": qty, "unit_price": price} for sku, qty, price in lines
        ])
    return row._asdict()


def refund(conn: Connection, order_id: int) -> bool:
    result = conn.execute(orders.update().where(orders.c.id == order_id, orders.c.refunded.is_(False))
                          .values(refunded=True))
    return result.rowcount == 1


def import_customers(conn: Connection, export: str) -> int:
    """Load the CRM's nightly CSV export; customers already known are left as they are."""
    rows = list(csv.DictReader(io.StringIO(export)))
    before = conn.execute(text("SELECT COUNT(*) FROM customers")).scalar_one()
    for row in rows:
        conn.execute(
            text("INSERT OR IGNORE INTO customers (email, name, region, signed_up_at) "
                 "VALUES (:email, :name, :region, :signed_up_at)"),
            {"email": row["email"].lower(), "name": row["name"], "region": row["region"],
             "signed_up_at": datetime.utcnow()},
        )
    return conn.execute(text("SELECT COUNT(*) FROM customers")).scalar_one() - before


# -- reading ---------------------------------------------------------------------------------


def _kept():
    return orders.c.refunded.is_(False)


def month_of(conn: Connection, column):
    """``YYYY-MM`` of a timestamp column, in the SQL of the connection's engine."""
    if conn.dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def monthly_revenue(conn: Connection, since: date) -> list[dict]:
    month = month_of(conn, orders.c.placed_at).label("month")
    query = (
        select(month, func.count().label("orders"), func.sum(orders.c.total).label("revenue"))
        .where(_kept(), orders.c.placed_at >= datetime.combine(since, datetime.min.time()))
        .group_by(month)
        .order_by(month)
    )
    return [row._asdict() for row in conn.execute(query)]


def month_to_date(conn: Connection) -> Decimal:
    today = date.today()
    start = datetime(today.year, today.month, 1)
    return conn.execute(
        select(func.coalesce(func.sum(orders.c.total), 0)).where(_kept(), orders.c.placed_at >= start)
    ).scalar_one()


def last_days(conn: Connection, days: int = 7) -> int:
    cutoff = datetime.utcnow() - timedelta(days=days)
    return conn.execute(select(func.count()).where(_kept(), orders.c.placed_at >= cutoff)).scalar_one()


def daily_sales(conn: Connection, start: date, end: date) -> dict[date, Decimal]:
    day = func.date(orders.c.placed_at).label("day")
    query = (
        select(day, func.sum(orders.c.total))
        .where(_kept(), orders.c.placed_at >= datetime.combine(start, datetime.min.time()),
               orders.c.placed_at < datetime.combine(end + timedelta(days=1), datetime.min.time()))
        .group_by(day)
        .order_by(day)
    )
    return dict(conn.execute(query).all())


def top_customers(conn: Connection, min_revenue: Decimal, limit: int = 10) -> list[dict]:
    revenue = func.sum(orders.c.total).label("revenue")
    query = (
        select(customers.c.id, customers.c.name, func.count(orders.c.id).label("orders"), revenue,
               func.rank().over(order_by=desc(func.sum(orders.c.total))).label("rank"))
        .join(orders, orders.c.customer_id == customers.c.id)
        .where(_kept())
        .group_by(customers.c.id, customers.c.name)
        .having(func.sum(orders.c.total) >= min_revenue)
        .order_by(desc(revenue), customers.c.id)
        .limit(limit)
    )
    return [row._asdict() for row in conn.execute(query)]


def running_totals(conn: Connection, customer_id: int) -> list[tuple[str, Decimal]]:
    running = func.sum(orders.c.total).over(order_by=(orders.c.placed_at, orders.c.id))
    query = (
        select(orders.c.number, running.label("running"))
        .where(orders.c.customer_id == customer_id, _kept())
        .order_by(orders.c.placed_at, orders.c.id)
    )
    return [tuple(row) for row in conn.execute(query)]


def first_orders_by_channel(conn: Connection) -> dict[str, int]:
    """How customers found us: the channel of each customer's first order."""
    ranked = (
        select(orders.c.customer_id, orders.c.channel,
               func.row_number().over(partition_by=orders.c.customer_id,
                                      order_by=(orders.c.placed_at, orders.c.id)).label("n"))
        .cte("ranked")
    )
    query = (
        select(ranked.c.channel, func.count().label("customers"))
        .where(ranked.c.n == 1)
        .group_by(ranked.c.channel)
        .order_by(ranked.c.channel)
    )
    return {row.channel: row.customers for row in conn.execute(query)}


def best_sellers(conn: Connection, min_quantity: int = 1) -> list[dict]:
    query = (
        select(order_lines.c.sku, func.sum(order_lines.c.quantity).label("units"),
               func.count(func.distinct(order_lines.c.order_id)).label("orders"))
        .join(orders)
        .where(_kept())
        .group_by(order_lines.c.sku)
        .having(func.sum(order_lines.c.quantity) >= min_quantity)
        .order_by(desc("units"), order_lines.c.sku)
    )
    return [row._asdict() for row in conn.execute(query)]


def region_summary(conn: Connection) -> list[dict]:
    query = text(
        "SELECT c.region, COUNT(o.id) AS orders, COALESCE(SUM(o.total), 0) AS revenue "
        "FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.refunded = :refunded "
        "GROUP BY c.region HAVING COUNT(o.id) > 0 ORDER BY c.region"
    ).columns(region=String, orders=Integer, revenue=Numeric(12, 2))
    return [row._asdict() for row in conn.execute(query, {"refunded": False})]


# -- the order feed (keyset pagination) -----------------------------------------------------


def encode_cursor(placed_at: datetime, order_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([placed_at.isoformat(), order_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    placed_at, order_id = json.loads(base64.urlsafe_b64decode(cursor))
    return datetime.fromisoformat(placed_at), order_id


def order_feed(conn: Connection, size: int = 20, cursor: str | None = None) -> tuple[list[dict], str | None]:
    query = select(orders.c.id, orders.c.number, orders.c.placed_at, orders.c.total)
    if cursor:
        placed_at, order_id = decode_cursor(cursor)
        query = query.where(or_(orders.c.placed_at > placed_at,
                                and_(orders.c.placed_at == placed_at, orders.c.id > order_id)))
    rows = [row._asdict() for row in conn.execute(query.order_by(orders.c.placed_at, orders.c.id).limit(size))]
    following = encode_cursor(rows[-1]["placed_at"], rows[-1]["id"]) if len(rows) == size else None
    return rows, following


def partner_feed(conn: Connection, size: int = 20, cursor: str | None = None) -> tuple[list[dict], str | None]:
    """The same feed for the partners' API, written in SQL by the integrations team."""
    params: dict = {"size": size}
    where = ""
    if cursor:
        placed_at, order_id = json.loads(base64.urlsafe_b64decode(cursor))
        where = "WHERE (placed_at, id) > (:placed_at, :order_id)"
        params.update(placed_at=placed_at, order_id=order_id)
    rows = [row._asdict() for row in conn.execute(
        text(f"SELECT id, number, total FROM orders {where} ORDER BY placed_at, id LIMIT :size"), params)]
    if len(rows) < size:
        return rows, None
    last = conn.execute(select(orders.c.placed_at).where(orders.c.id == rows[-1]["id"])).scalar_one()
    return rows, encode_cursor(last, rows[-1]["id"])


def orders_csv(conn: Connection, since: date) -> str:
    """The accountants' export: ``number;placed;total`` lines."""
    result = conn.execute(
        text("SELECT number || ';' || substr(CAST(placed_at AS TEXT), 1, 10) || ';' || total AS line "
             "FROM orders WHERE placed_at >= :since AND refunded = :refunded ORDER BY placed_at, id"),
        {"since": datetime.combine(since, datetime.min.time()), "refunded": False},
    )
    return "\n".join(result.scalars())
