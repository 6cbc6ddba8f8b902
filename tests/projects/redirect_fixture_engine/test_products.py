from sqlalchemy import func, select

from models import Product


def test_total_price(session):
    session.add_all([Product(code="A1", price=3), Product(code="B2", price=4)])
    session.commit()
    assert session.scalar(select(func.sum(Product.price))) == 7


def test_each_test_starts_empty(session):
    assert session.scalar(select(func.count()).select_from(Product)) == 0
    session.add(Product(code="C3", price=1))
    session.commit()
    assert session.get(Product, 1).code == "C3"


def test_long_code_is_kept(session):
    session.add(Product(code="MUCH-TOO-LONG", price=1))  # String(8): SQLite doesn't check, PostgreSQL does
    session.commit()
    assert session.scalar(select(Product.code)) == "MUCH-TOO-LONG"


def test_pure_python():
    assert "a".upper() == "A"
