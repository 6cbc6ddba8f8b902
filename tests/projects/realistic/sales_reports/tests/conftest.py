import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from faker import Faker

from salesreports import reports

fake = Faker()

SKUS = ["MUG-01", "MUG-02", "TEA-10", "TEA-11", "GIFT-25"]
PRICES = {"MUG-01": Decimal("8.50"), "MUG-02": Decimal("12.00"), "TEA-10": Decimal("4.25"),
          "TEA-11": Decimal("6.40"), "GIFT-25": Decimal("25.00")}


@pytest.fixture
def conn(db_connection):
    """The reporting code runs on a plain Connection, as in the dashboards' service."""
    return db_connection


def random_lines(n=None):
    skus = random.sample(SKUS, n or random.randint(1, 3))
    return [(sku, random.randint(1, 5), PRICES[sku]) for sku in skus]


@pytest.fixture
def shoppers(conn):
    """A handful of customers with Faker names and addresses, as the CRM would send them."""
    return [reports.add_customer(conn, fake.unique.email(), fake.name(), region)
            for region in ("north", "south", "south", "west")]


@pytest.fixture
def history(conn, shoppers):
    """Three months of orders, placed at Faker times inside each month."""
    placed = []
    for month in (1, 2, 3):
        for customer_id in shoppers:
            at = fake.date_time_between_dates(datetime(2024, month, 1), datetime(2024, month, 28))
            placed.append(reports.record_order(conn, customer_id, random_lines(), placed_at=at,
                                               channel=random.choice(["web", "app", "phone"])))
    return placed


def at(day, hour=12, minute=0):
    return datetime(2024, 3, day, hour, minute)


def days_ago(n):
    return datetime.utcnow() - timedelta(days=n)
