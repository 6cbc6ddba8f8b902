from datetime import timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from billing import security
from billing.models import Account, Invoice, LineItem, Payment

PASSWORD = "billing-owner-pw"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"


class AccountFactory(BaseFactory):
    class Meta:
        model = Account

    class Params:
        api_key = factory.LazyFunction(security.new_api_key)

    name = factory.Faker("company")
    owner_email = factory.Sequence(lambda n: f"owner{n}@example.net")
    owner_password_hash = factory.LazyFunction(lambda: security.hash_password(PASSWORD))
    api_key_prefix = factory.LazyAttribute(lambda o: security.key_prefix(o.api_key))
    api_key_hash = factory.LazyAttribute(lambda o: security.hash_api_key(o.api_key))
    plan_id = 1  # "starter", seeded by conftest.py
    reminder_time = factory.Faker("time_object")


class InvoiceFactory(BaseFactory):
    class Meta:
        model = Invoice

    account = factory.SubFactory(AccountFactory)
    number = factory.Sequence(lambda n: f"INV-2023-{n + 1:05d}")
    status = "open"
    issued_at = factory.Faker("date_time_this_year")
    due_on = factory.LazyAttribute(lambda o: (o.issued_at + timedelta(days=30)).date())
    total = factory.Faker("pydecimal", left_digits=3, right_digits=2, positive=True)
    meta = factory.LazyFunction(lambda: {"source": "manual"})


class LineItemFactory(BaseFactory):
    class Meta:
        model = LineItem

    invoice = factory.SubFactory(InvoiceFactory)
    description = factory.Faker("bs")
    quantity = factory.Faker("random_int", min=1, max=10)
    unit_price = factory.Faker("pydecimal", left_digits=2, right_digits=2, positive=True)


class PaymentFactory(BaseFactory):
    class Meta:
        model = Payment

    invoice = factory.SubFactory(InvoiceFactory)
    amount = factory.SelfAttribute("invoice.total")
    method = "card"
    received_at = factory.Faker("past_datetime")


ALL = [AccountFactory, InvoiceFactory, LineItemFactory, PaymentFactory]
