from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing import services
from billing.models import Invoice, LineItem
from tests.factories import InvoiceFactory, LineItemFactory


@pytest.mark.expect("same")
def test_issue_invoice(db_session, account):
    first = services.issue_invoice(db_session, account, [("Seats", 3, Decimal("12.00")), ("Support", 1, Decimal("20.00"))])
    second = services.issue_invoice(db_session, account, [("Seats", 4, Decimal("12.00"))])

    year = datetime.now(timezone.utc).year
    assert (first.number, second.number) == (f"INV-{year}-00001", f"INV-{year}-00002")
    assert (first.total, second.total) == (Decimal("56.00"), Decimal("48.00"))
    assert first.status == "open"
    assert (first.due_on - first.issued_at.date()).days == 30


@pytest.mark.expect("same")
def test_discount_is_applied_to_the_total(db_session, account):
    invoice = services.issue_invoice(db_session, account, [("Seats", 10, Decimal("9.99"))], discount_rate=0.15)

    db_session.expire(invoice)
    assert invoice.total == Decimal("84.92")


@pytest.mark.expect("same")
def test_invoices_are_listed_newest_first(db_session, account):
    InvoiceFactory.create_batch(7, account=account)
    InvoiceFactory.create_batch(2)  # another account's

    first = services.list_invoices(db_session, account, per_page=5)
    second = services.list_invoices(db_session, account, page=2, per_page=5)

    assert (len(first), len(second)) == (5, 2)
    assert len({i.id for i in first + second}) == 7
    issued = [i.issued_at for i in first + second]
    assert issued == sorted(issued, reverse=True)


@pytest.mark.expect("same")
def test_filter_invoices_by_status(db_session, account):
    InvoiceFactory.create_batch(2, account=account, status="paid")
    InvoiceFactory(account=account, status="void")
    InvoiceFactory(account=account)

    assert len(services.list_invoices(db_session, account, status="paid")) == 2
    assert [i.status for i in services.list_invoices(db_session, account, status="open")] == ["open"]


@pytest.mark.expect("same")
def test_overdue_invoices(db_session, account):
    InvoiceFactory(account=account, number="INV-2024-00001", due_on=date(2024, 3, 1))
    InvoiceFactory(account=account, number="INV-2024-00002", due_on=date(2024, 2, 1))
    InvoiceFactory(account=account, number="INV-2024-00003", due_on=date(2024, 2, 10), status="paid")
    InvoiceFactory(account=account, number="INV-2024-00004", due_on=date(2024, 4, 1))

    overdue = services.overdue_invoices(db_session, today=date(2024, 3, 15))

    assert [i.number for i in overdue] == ["INV-2024-00002", "INV-2024-00001"]


@pytest.mark.expect("same")
def test_void_invoice(db_session, account):
    open_invoice = InvoiceFactory(account=account)
    paid = InvoiceFactory(account=account, status="paid")

    services.void_invoice(db_session, open_invoice)

    assert open_invoice.status == "void"
    with pytest.raises(services.BillingError):
        services.void_invoice(db_session, paid)


@pytest.mark.expect("same")
def test_delete_draft_removes_its_lines(db_session, account):
    draft = InvoiceFactory(account=account, status="draft")
    LineItemFactory.create_batch(3, invoice=draft)
    LineItemFactory()  # on another invoice

    services.delete_draft(db_session, draft)

    assert db_session.scalar(select(func.count()).select_from(LineItem)) == 1
    assert db_session.get(Invoice, draft.id) is None


@pytest.mark.expect("same")
def test_invoices_from_a_source(db_session, account):
    InvoiceFactory(account=account, meta={"source": "stripe", "document": "in_1"})
    InvoiceFactory(account=account, meta={"source": "manual"})
    InvoiceFactory(account=account, meta={"source": "stripe", "document": "in_2"})

    found = services.invoices_from_source(db_session, "stripe")

    assert [i.meta["document"] for i in found] == ["in_1", "in_2"]


@pytest.mark.expect("diverged", category="json")
def test_importer_recognises_a_document_it_already_imported(db_session, account):
    meta = {"source": "stripe", "document": "in_1Hx7"}
    invoice = services.issue_invoice(db_session, account, [("Seats", 1, Decimal("10.00"))], meta=meta)

    assert services.find_imported(db_session, dict(meta)) == invoice
    assert services.find_imported(db_session, {"source": "stripe", "document": "in_other"}) is None


@pytest.mark.expect("diverged", category="types")
def test_import_usage_from_the_metering_export(db_session, account):
    invoice = services.issue_invoice(db_session, account, [("Base fee", 1, Decimal("29.00"))])
    export = "description,quantity,unit_price\nAPI calls (1k),12.0,0.40\nStorage (GB),3.0,1.50\n"

    imported = services.import_lines_from_csv(db_session, invoice, export)

    assert imported == 2
    assert invoice.total == Decimal("38.30")
