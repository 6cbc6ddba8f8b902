from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesreports import reports
from tests.conftest import at, random_lines


def walk(feed, conn, size):
    seen, cursor = [], None
    while True:
        page, cursor = feed(conn, size=size, cursor=cursor)
        seen += [row["number"] for row in page]
        if cursor is None:
            return seen


@pytest.fixture
def busy_day(conn, shoppers):
    """A flash sale: many orders in a few minutes, several in the same second."""
    placed = []
    for i in range(11):
        placed.append(reports.record_order(conn, shoppers[i % 4], random_lines(), placed_at=at(8, 9, i // 3)))
    return placed


@pytest.mark.expect("same")
def test_order_feed_pages(conn, busy_day):
    first, cursor = reports.order_feed(conn, size=4)
    second, _ = reports.order_feed(conn, size=4, cursor=cursor)

    assert [r["id"] for r in first + second] == [o["id"] for o in busy_day[:8]]


@pytest.mark.expect("same")
def test_order_feed_visits_every_order_once(conn, busy_day):
    assert walk(reports.order_feed, conn, 3) == [o["number"] for o in busy_day]


@pytest.mark.expect("same")
def test_cursor_round_trip():
    moment = datetime.utcnow()
    assert reports.decode_cursor(reports.encode_cursor(moment, 42)) == (moment, 42)


# each example rolls its savepoint back: SQLite reuses the order ids (max(rowid) + 1), PostgreSQL's
# sequence does not, so the ids the app gets back from INSERT ... RETURNING differ from the 2nd example on
@pytest.mark.expect("diverged", category="sequences")
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=12),
       size=st.integers(min_value=1, max_value=5))
def test_feed_pagination_property(conn, shoppers, offsets, size):
    savepoint = conn.begin_nested()
    try:
        start = datetime(2024, 3, 8, 9, 0)
        placed = [reports.record_order(conn, shoppers[0], [("TEA-10", 1, Decimal("4.25"))],
                                       placed_at=start + timedelta(seconds=s))
                  for s in offsets]
        expected = [o["number"] for o in sorted(placed, key=lambda o: (o["placed_at"], o["id"]))]
        assert walk(reports.order_feed, conn, size) == expected
    finally:
        savepoint.rollback()


@pytest.mark.expect("diverged", category="datetime")
def test_partner_feed_visits_every_order_once(conn, busy_day):
    assert walk(reports.partner_feed, conn, 4) == [o["number"] for o in busy_day]
