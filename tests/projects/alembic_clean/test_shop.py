import pytest
from sqlalchemy import text

from shop.models import Customer, Order


def test_customer_and_order(db_session, observe):
    customer = Customer(email="a@x.io", name="Ann")
    db_session.add(customer)
    db_session.commit()
    db_session.add(Order(customer_id=customer.id, status="new"))
    db_session.commit()
    observe("ids", [customer.id, db_session.query(Order).one().id])


def test_unique_email(db_session):
    db_session.add_all([Customer(email="d@x.io", name="A"), Customer(email="d@x.io", name="B")])
    with pytest.raises(Exception, match="(?i)unique"):
        db_session.commit()


def test_orphan_order(db_session):
    db_session.add(Order(customer_id=42, status="new"))
    with pytest.raises(Exception, match="(?i)foreign key"):
        db_session.commit()


def test_fresh_database_is_migrated(db_fresh_engine):
    with db_fresh_engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (email, name) VALUES ('f@x.io', 'F')"))
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
