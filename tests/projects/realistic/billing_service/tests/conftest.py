import os

# cheap hashing in tests (read when billing.security is imported)
os.environ.setdefault("BILLING_BCRYPT_ROUNDS", "4")
os.environ.setdefault("BILLING_ARGON2_TIME_COST", "1")
os.environ.setdefault("BILLING_ARGON2_MEMORY_KIB", "1024")

from decimal import Decimal

import pytest

from billing.models import Plan

from . import factories


@pytest.fixture(autouse=True)
def plans(db_session):
    """The plans every environment has (the ids are referenced by the pricing page)."""
    db_session.add_all([
        Plan(id=1, code="starter", name="Starter", monthly_price=Decimal("0.00")),
        Plan(id=2, code="team", name="Team", monthly_price=Decimal("49.00")),
        Plan(id=3, code="business", name="Business", monthly_price=Decimal("199.00")),
    ])
    db_session.commit()


@pytest.fixture(autouse=True)
def _bind_factories(db_session):
    for factory_class in factories.ALL:
        factory_class._meta.sqlalchemy_session = db_session
    yield
    for factory_class in factories.ALL:
        factory_class._meta.sqlalchemy_session = None


@pytest.fixture
def account():
    return factories.AccountFactory(name="Acme Corp")


class FakeGateway:
    """Stands in for the card processor."""

    def __init__(self, decline: bool = False):
        self.decline = decline
        self.captured: list[tuple[str, Decimal]] = []

    def capture(self, reference: str, amount: Decimal) -> None:
        from billing.services import PaymentDeclined

        if self.decline:
            raise PaymentDeclined("card declined")
        self.captured.append((reference, amount))


@pytest.fixture
def gateway():
    return FakeGateway()
