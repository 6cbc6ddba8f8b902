import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from salesreports import reports
from salesreports.schema import customers, order_lines, orders
from tests.conftest import fake


@pytest.mark.expect("same")
def test_add_customer_returns_its_id(conn):
    first = reports.add_customer(conn, fake.email().upper(), fake.name())
    second = reports.add_customer(conn, fake.email(), fake.name(), region="west")

    assert second == first + 1
    emails = conn.execute(select(customers.c.email).order_by(customers.c.id)).scalars().all()
    assert all(e == e.lower() for e in emails)


@pytest.mark.expect("same")
def test_record_order(conn, shoppers):
    row = reports.record_order(conn, shoppers[0], [("MUG-01", 2, Decimal("8.50")), ("TEA-10", 3, Decimal("4.25"))])

    assert re.fullmatch(r"SO-[0-9A-F]{8}", row["number"])
    assert row["total"] == Decimal("29.75")
    assert datetime.utcnow() - row["placed_at"] < timedelta(minutes=1)
    assert conn.execute(select(func.count()).select_from(order_lines)).scalar_one() == 2


@pytest.mark.expect("same")
@freeze_time("2024-03-15 09:30:00")
def test_orders_are_stamped_with_the_current_time(conn, shoppers):
    newcomer = reports.add_customer(conn, fake.email(), fake.name())
    row = reports.record_order(conn, newcomer, [("GIFT-25", 1, Decimal("25.00"))])

    assert row["placed_at"] == datetime(2024, 3, 15, 9, 30)
    stored = conn.execute(select(customers.c.signed_up_at).where(customers.c.id == newcomer)).scalar_one()
    assert stored == datetime(2024, 3, 15, 9, 30)


@pytest.mark.expect("same")
def test_refund_only_once(conn, shoppers):
    order = reports.record_order(conn, shoppers[0], [("MUG-02", 1, Decimal("12.00"))])

    assert reports.refund(conn, order["id"]) is True
    assert reports.refund(conn, order["id"]) is False
    assert conn.execute(select(orders.c.refunded).where(orders.c.id == order["id"])).scalar_one() is True


@pytest.mark.expect("diverged", category="sql_syntax")
def test_nightly_crm_import_skips_known_customers(conn, shoppers):
    known = conn.execute(select(customers.c.email, customers.c.name).where(customers.c.id == shoppers[0])).one()
    export = "email,name,region\n" + "\n".join([
        f"{known.email},{known.name},north",
        f"{fake.email()},{fake.name()},east",
        f"{fake.email()},{fake.name()},west",
    ])

    assert reports.import_customers(conn, export) == 2
