"""The billing service layer: every function takes the caller's Session."""

import csv
import io
import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import Uuid, bindparam, func, select, text
from sqlalchemy.orm import Session

from . import security
from .models import Account, Invoice, LineItem, Payment, Plan

CENTS = Decimal("0.01")


class BillingError(Exception):
    pass


class PaymentDeclined(BillingError):
    pass


# -- accounts --------------------------------------------------------------------------


def create_plan(session: Session, code: str, name: str, monthly_price: Decimal) -> Plan:
    plan = Plan(code=code, name=name, monthly_price=monthly_price)
    session.add(plan)
    session.commit()
    return plan


def create_account(session: Session, name: str, owner_email: str, password: str,
                   plan_code: str = "starter") -> tuple[Account, str]:
    """Returns the account and its API key (shown once; only a hash is kept)."""
    plan = session.scalar(select(Plan).where(Plan.code == plan_code))
    if plan is None:
        raise BillingError(f"unknown plan {plan_code!r}")
    api_key = security.new_api_key()
    account = Account(
        name=name,
        owner_email=owner_email.lower(),
        owner_password_hash=security.hash_password(password),
        api_key_prefix=security.key_prefix(api_key),
        api_key_hash=security.hash_api_key(api_key),
        plan=plan,
    )
    session.add(account)
    session.commit()
    return account, api_key


def authenticate(session: Session, api_key: str) -> Optional[Account]:
    candidates = session.scalars(
        select(Account).where(Account.api_key_prefix == security.key_prefix(api_key), Account.is_active.is_(True))
    ).all()
    return next((a for a in candidates if security.check_api_key(api_key, a.api_key_hash)), None)


def rotate_api_key(session: Session, account: Account) -> str:
    api_key = security.new_api_key()
    account.api_key_prefix = security.key_prefix(api_key)
    account.api_key_hash = security.hash_api_key(api_key)
    session.commit()
    return api_key


def accounts_to_remind(session: Session, at: time) -> list[Account]:
    return list(session.scalars(
        select(Account).where(Account.is_active.is_(True), Account.reminder_time <= at).order_by(Account.name)
    ))


# -- invoices --------------------------------------------------------------------------


def next_invoice_number(session: Session, year: int) -> str:
    issued = session.scalar(select(func.count(Invoice.id)).where(Invoice.number.like(f"INV-{year}-%")))
    return f"INV-{year}-{issued + 1:05d}"


def issue_invoice(session: Session, account: Account, lines: list[tuple[str, int, Decimal]], *,
                  due_in_days: int = 30, meta: Optional[dict[str, Any]] = None,
                  discount_rate: float = 0.0) -> Invoice:
    today = datetime.now(timezone.utc).date()
    invoice = Invoice(account=account, number=next_invoice_number(session, today.year), status="open",
                      due_on=today + timedelta(days=due_in_days), meta=meta or {}, discount_rate=discount_rate)
    for description, quantity, unit_price in lines:
        invoice.lines.append(LineItem(description=description, quantity=quantity, unit_price=unit_price))
    invoice.total = _total(invoice)
    session.add(invoice)
    session.commit()
    return invoice


def _total(invoice: Invoice) -> Decimal:
    gross = sum((line.amount for line in invoice.lines), Decimal("0"))
    return (gross * (1 - Decimal(str(invoice.discount_rate)))).quantize(CENTS)


def import_lines_from_csv(session: Session, invoice: Invoice, csv_text: str) -> int:
    """Usage exported by the metering system: description,quantity,unit_price."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    for row in rows:
        session.add(LineItem(invoice=invoice, description=row["description"], quantity=row["quantity"],
                             unit_price=Decimal(row["unit_price"])))
    session.flush()
    session.refresh(invoice)
    invoice.total = _total(invoice)
    session.commit()
    return len(rows)


def find_imported(session: Session, meta: dict[str, Any]) -> Optional[Invoice]:
    """The invoice an earlier run of the importer created from the same external document."""
    return session.scalar(select(Invoice).where(Invoice.meta == meta))


def invoices_from_source(session: Session, source: str) -> list[Invoice]:
    return list(session.scalars(
        select(Invoice).where(Invoice.meta["source"].as_string() == source).order_by(Invoice.id)
    ))


def list_invoices(session: Session, account: Account, *, status: Optional[str] = None,
                  page: int = 1, per_page: int = 10) -> list[Invoice]:
    query = select(Invoice).where(Invoice.account_id == account.id)
    if status:
        query = query.where(Invoice.status == status)
    query = query.order_by(Invoice.issued_at.desc(), Invoice.id.desc()).limit(per_page).offset((page - 1) * per_page)
    return list(session.scalars(query))


def overdue_invoices(session: Session, today: date) -> list[Invoice]:
    return list(session.scalars(
        select(Invoice).where(Invoice.status == "open", Invoice.due_on < today).order_by(Invoice.due_on)
    ))


def void_invoice(session: Session, invoice: Invoice) -> None:
    if invoice.status == "paid":
        raise BillingError("a paid invoice cannot be voided; refund it")
    invoice.status = "void"
    session.commit()


def delete_draft(session: Session, invoice: Invoice) -> None:
    if invoice.status != "draft":
        raise BillingError("only drafts can be deleted")
    session.delete(invoice)
    session.commit()


# -- payments --------------------------------------------------------------------------


def record_payment(session: Session, invoice: Invoice, amount: Decimal, method: str, gateway=None) -> Optional[Payment]:
    """Record (and capture, through the gateway) a payment; the invoice is paid once fully covered.

    A declined capture leaves no payment behind (its savepoint is rolled back) and returns None.
    """
    if invoice.status not in ("open",):
        raise BillingError(f"invoice is {invoice.status}")
    try:
        with session.begin_nested():
            payment = Payment(invoice=invoice, amount=amount, method=method)
            session.add(payment)
            session.flush()
            if gateway is not None:
                gateway.capture(payment.reference, amount)
    except PaymentDeclined:
        session.expire(invoice, ["payments"])
        session.commit()
        return None
    if sum(p.amount for p in invoice.payments) >= invoice.total:
        invoice.status = "paid"
        invoice.paid_at = datetime.now(timezone.utc)
    session.commit()
    return payment


def outstanding(session: Session, invoice: Invoice) -> Decimal:
    paid = session.scalar(select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.invoice_id == invoice.id))
    return invoice.total - Decimal(paid)


# -- reports ---------------------------------------------------------------------------


def revenue_summary(session: Session, account: Account) -> dict[str, Any]:
    count, total = session.execute(
        select(func.count(Invoice.id), func.coalesce(func.sum(Invoice.total), 0))
        .where(Invoice.account_id == account.id, Invoice.status == "paid")
    ).one()
    by_status = dict(session.execute(
        select(Invoice.status, func.count(Invoice.id)).where(Invoice.account_id == account.id).group_by(Invoice.status)
    ).all())
    return {"paid_invoices": count, "revenue": Decimal(total).quantize(CENTS), "by_status": by_status}


def average_payment(session: Session, account: Account) -> Decimal:
    value = session.execute(text(
        "SELECT SUM(p.amount) / COUNT(*) FROM payments p JOIN invoices i ON i.id = p.invoice_id "
        "WHERE i.account_id = :account"
    ).bindparams(bindparam("account", type_=Uuid)), {"account": account.id}).scalar()
    return Decimal(str(value)).quantize(CENTS)


def average_discount_percent(session: Session, account: Account) -> float:
    return session.scalar(
        select(func.round(func.avg(Invoice.discount_rate) * 100, 1)).where(Invoice.account_id == account.id)
    )


def usage_stats_json(session: Session, invoice: Invoice) -> str:
    """The JSON document the metering dashboard polls."""
    lines, avg_quantity, max_quantity = session.execute(
        select(func.count(LineItem.id), func.avg(LineItem.quantity), func.max(LineItem.quantity))
        .where(LineItem.invoice_id == invoice.id)
    ).one()
    return json.dumps({"invoice": invoice.number, "lines": lines, "avg_quantity": avg_quantity, "max_quantity": max_quantity})


def payment_delays(session: Session, account: Account) -> dict[str, int]:
    """Days between issuing and full payment, per paid invoice (the collections dashboard)."""
    paid = session.scalars(
        select(Invoice).where(Invoice.account_id == account.id, Invoice.status == "paid").order_by(Invoice.id)
    )
    return {invoice.number: (invoice.paid_at - invoice.issued_at).days for invoice in paid}
