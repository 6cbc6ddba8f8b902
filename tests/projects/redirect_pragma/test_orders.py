import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.db import Customer, Order


def test_order_needs_a_customer(session):
    session.add(Order(customer_id=999))
    with pytest.raises(IntegrityError):  # on SQLite only because the connect listener switches foreign keys on
        session.flush()


def test_customer_search_ignores_case(session):
    session.add(Customer(name="Ada Lovelace"))
    session.flush()
    assert session.scalars(select(Customer.name).where(Customer.name.like("ada%"))).all() == ["Ada Lovelace"]


def test_first_customer_gets_id_1(session):
    customer = Customer(name="Bob")
    session.add(customer)
    session.flush()
    assert customer.id == 1  # the last test's row was rolled back: SQLite reuses id 1, PostgreSQL's sequence went on
