from datetime import date, datetime
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from salesreports import reports
from salesreports.schema import orders
from tests.conftest import at, days_ago, fake


class TestMonthlyFigures:
    """The finance dashboard: one fixed month of orders."""

    @pytest.fixture(autouse=True)
    def setup(self, conn, shoppers):
        self.conn = conn
        self.ann, self.bob, self.cho, self.dev = shoppers
        for customer, day, total in [
            (self.ann, 2, "30.00"), (self.ann, 9, "12.50"), (self.bob, 9, "99.99"),
            (self.cho, 17, "5.25"), (self.dev, 28, "40.00"), (self.bob, 31, "10.00"),
        ]:
            reports.record_order(conn, customer, [("GIFT-25", 1, Decimal(total))], placed_at=at(day, 10 + day % 7))
        reports.record_order(conn, self.ann, [("MUG-01", 1, Decimal("8.50"))], placed_at=datetime(2024, 2, 29, 23, 59))
        refunded = reports.record_order(conn, self.cho, [("MUG-02", 1, Decimal("12.00"))], placed_at=at(20))
        reports.refund(conn, refunded["id"])

    @pytest.mark.expect("same")
    def test_monthly_revenue(self):
        months = reports.monthly_revenue(self.conn, since=date(2024, 2, 1))

        assert months == [
            {"month": "2024-02", "orders": 1, "revenue": Decimal("8.50")},
            {"month": "2024-03", "orders": 6, "revenue": Decimal("197.74")},
        ]

    @pytest.mark.expect("same")
    @freeze_time("2024-03-31 18:00:00")
    def test_month_to_date(self):
        assert reports.month_to_date(self.conn) == Decimal("197.74")

    @pytest.mark.expect("same")
    def test_top_customers(self):
        top = reports.top_customers(self.conn, min_revenue=Decimal("40.00"))

        assert [(c["id"], c["orders"], c["revenue"], c["rank"]) for c in top] == [
            (self.bob, 2, Decimal("109.99"), 1),
            (self.ann, 3, Decimal("51.00"), 2),
            (self.dev, 1, Decimal("40.00"), 3),
        ]

    @pytest.mark.expect("same")
    def test_running_totals(self):
        totals = reports.running_totals(self.conn, self.ann)

        assert [running for _, running in totals] == [Decimal("8.50"), Decimal("38.50"), Decimal("51.00")]

    @pytest.mark.expect("same")
    def test_region_summary(self):
        assert reports.region_summary(self.conn) == [
            {"region": "north", "orders": 3, "revenue": Decimal("51.00")},
            {"region": "south", "orders": 3, "revenue": Decimal("115.24")},
            {"region": "west", "orders": 1, "revenue": Decimal("40.00")},
        ]

    @pytest.mark.expect("diverged", category="datetime")
    def test_daily_sales_for_the_chart(self):
        sales = reports.daily_sales(self.conn, date(2024, 3, 1), date(2024, 3, 10))

        assert sales == {date(2024, 3, 2): Decimal("30.00"), date(2024, 3, 9): Decimal("112.49")}

    @pytest.mark.expect("diverged", category="numeric")
    def test_accountants_export(self):
        export = reports.orders_csv(self.conn, since=date(2024, 3, 1))

        lines = export.splitlines()
        assert len(lines) == 6
        assert lines[0].split(";")[1] == "2024-03-02"
        numbers = set(self.conn.execute(select(orders.c.number)).scalars())
        assert all(line.split(";")[0] in numbers for line in lines)


class TestCatalogueAndChannels:
    @pytest.mark.expect("same")
    def test_best_sellers(self, conn, shoppers):
        reports.record_order(conn, shoppers[0], [("MUG-01", 3, Decimal("8.50")), ("TEA-10", 1, Decimal("4.25"))])
        reports.record_order(conn, shoppers[1], [("MUG-01", 2, Decimal("8.50")), ("TEA-11", 4, Decimal("6.40"))])
        reports.record_order(conn, shoppers[2], [("TEA-10", 1, Decimal("4.25"))])

        assert reports.best_sellers(conn, min_quantity=2) == [
            {"sku": "MUG-01", "units": 5, "orders": 2},
            {"sku": "TEA-11", "units": 4, "orders": 1},
            {"sku": "TEA-10", "units": 2, "orders": 2},
        ]

    @pytest.mark.expect("same")
    def test_first_orders_by_channel(self, conn, history, shoppers):
        channels = reports.first_orders_by_channel(conn)

        assert sum(channels.values()) == len(shoppers)
        assert set(channels) <= {"web", "app", "phone"}

    @pytest.mark.expect("same")
    def test_history_revenue_adds_up(self, conn, history):
        months = reports.monthly_revenue(conn, since=date(2024, 1, 1))

        assert [m["month"] for m in months] == ["2024-01", "2024-02", "2024-03"]
        assert sum(m["revenue"] for m in months) == sum(o["total"] for o in history)

    @pytest.mark.expect("same")
    def test_activity_in_the_last_week(self, conn, shoppers):
        for n in (0, 1, 3, 6, 8, 30):
            reports.record_order(conn, shoppers[n % 4], [("TEA-11", 1, Decimal("6.40"))], placed_at=days_ago(n))
        reports.record_order(conn, shoppers[0], [("TEA-11", 2, Decimal("6.40"))])  # now

        assert reports.last_days(conn, 7) == 5

    @pytest.mark.expect("same")
    def test_activity_around_the_clock_change(self, conn, shoppers):
        with freeze_time("2024-03-31 01:30:00", tick=True):
            for _ in range(3):
                reports.record_order(conn, shoppers[2], [("MUG-02", 1, Decimal("12.00"))])
            with freeze_time(fake.date_time_between_dates(datetime(2024, 3, 20), datetime(2024, 3, 23))):
                reports.record_order(conn, shoppers[3], [("MUG-02", 1, Decimal("12.00"))])

            assert reports.last_days(conn, 1) == 3
            assert reports.last_days(conn, 7) == 3
            assert reports.last_days(conn, 14) == 4
