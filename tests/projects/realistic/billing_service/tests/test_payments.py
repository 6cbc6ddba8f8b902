import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from billing import services
from billing.models import Payment
from tests.factories import InvoiceFactory, LineItemFactory, PaymentFactory

from .conftest import FakeGateway


@pytest.fixture
def invoice(db_session, account):
    return services.issue_invoice(db_session, account, [("Seats", 5, Decimal("20.00"))])


# silent: passes on both, but the invoice row the service reloads carries paid_at naive on SQLite
# and aware on PostgreSQL (Invoice.paid_at is DateTime(timezone=True))
@pytest.mark.expect("diverged", category="datetime")
def test_full_payment_marks_the_invoice_paid(db_session, invoice, gateway):
    payment = services.record_payment(db_session, invoice, Decimal("100.00"), "card", gateway)

    assert invoice.status == "paid"
    assert invoice.paid_at is not None
    assert re.fullmatch(r"[0-9a-f]{16}", payment.reference)
    assert gateway.captured == [(payment.reference, Decimal("100.00"))]


@pytest.mark.expect("same")
def test_partial_payments(db_session, invoice):
    services.record_payment(db_session, invoice, Decimal("30.00"), "bank_transfer")
    services.record_payment(db_session, invoice, Decimal("25.50"), "bank_transfer")

    assert invoice.status == "open"
    assert services.outstanding(db_session, invoice) == Decimal("44.50")


@pytest.mark.expect("same")
def test_declined_card_leaves_no_payment(db_session, invoice):
    services.record_payment(db_session, invoice, Decimal("40.00"), "bank_transfer")

    result = services.record_payment(db_session, invoice, Decimal("60.00"), "card", FakeGateway(decline=True))

    assert result is None
    assert invoice.status == "open"
    assert [p.amount for p in db_session.scalars(select(Payment))] == [Decimal("40.00")]
    assert services.outstanding(db_session, invoice) == Decimal("60.00")


@pytest.mark.expect("same")
def test_a_void_invoice_cannot_be_paid(db_session, invoice):
    services.void_invoice(db_session, invoice)

    with pytest.raises(services.BillingError, match="invoice is void"):
        services.record_payment(db_session, invoice, Decimal("100.00"), "card")


@pytest.mark.expect("same")
def test_revenue_summary(db_session, account):
    for total in ("100.00", "250.50"):
        PaymentFactory(invoice=InvoiceFactory(account=account, status="paid", total=Decimal(total)))
    InvoiceFactory.create_batch(2, account=account)
    InvoiceFactory(status="paid")  # another account's

    summary = services.revenue_summary(db_session, account)

    assert summary == {"paid_invoices": 2, "revenue": Decimal("350.50"), "by_status": {"paid": 2, "open": 2}}


@pytest.mark.expect("diverged", category="datetime")
def test_payment_delays_report(db_session, invoice):
    services.record_payment(db_session, invoice, Decimal("100.00"), "card")
    db_session.expire_all()

    assert services.payment_delays(db_session, invoice.account) == {invoice.number: 0}


@pytest.mark.expect("diverged", category="numeric")
def test_average_payment(db_session, account):
    for amount in ("10.00", "20.00", "5.00"):
        PaymentFactory(invoice=InvoiceFactory(account=account, total=Decimal(amount)))

    assert services.average_payment(db_session, account) == Decimal("11.67")


@pytest.mark.expect("diverged", category="numeric")
def test_average_discount_percent(db_session, account):
    for rate in (0.10, 0.15, 0.0):
        services.issue_invoice(db_session, account, [("Seats", 1, Decimal("10.00"))], discount_rate=rate)

    assert services.average_discount_percent(db_session, account) == 8.3


@pytest.mark.expect("diverged", category="types")
def test_usage_stats_document(db_session, account):
    invoice = InvoiceFactory(account=account, number="INV-2024-00042")
    for quantity in (2, 3, 5, 6):
        LineItemFactory(invoice=invoice, quantity=quantity)

    stats = services.usage_stats_json(db_session, invoice)

    assert stats == '{"invoice": "INV-2024-00042", "lines": 4, "avg_quantity": 4.0, "max_quantity": 6}'
