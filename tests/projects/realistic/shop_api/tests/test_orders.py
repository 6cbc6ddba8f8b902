from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from storefront.models import Order, Product
from tests.factories import OrderFactory, OrderLineFactory, ProductFactory


@pytest.fixture
def mug():
    return ProductFactory(sku="MUG-001", name="Mug", price=Decimal("8.50"), stock=10)


@pytest.fixture
def teapot():
    return ProductFactory(sku="POT-001", name="Teapot", price=Decimal("32.00"), stock=2)


@pytest.mark.expect("same")
def test_place_order(client, auth, mug, teapot, db_session):
    r = client.post("/orders", headers=auth, json={"lines": [{"product_id": mug.id, "quantity": 3},
                                                             {"product_id": teapot.id, "quantity": 1}]})

    assert r.status_code == 201
    body = r.json()
    assert body["status"] == "pending"
    assert Decimal(body["total"]) == Decimal("57.50")
    assert len(body["public_id"]) == 32
    db_session.expire_all()
    assert db_session.get(Product, mug.id).stock == 7


@pytest.mark.expect("same")
def test_order_more_than_in_stock(client, auth, teapot, db_session):
    r = client.post("/orders", headers=auth, json={"lines": [{"product_id": teapot.id, "quantity": 3}]})

    assert r.status_code == 409
    assert r.json()["detail"] == "only 2 left of POT-001"
    db_session.expire_all()
    assert db_session.get(Product, teapot.id).stock == 2
    assert db_session.query(Order).count() == 0


@pytest.mark.expect("same")
def test_fetch_order_by_public_id(client, auth, mug):
    placed = client.post("/orders", headers=auth, json={"lines": [{"product_id": mug.id, "quantity": 1}]}).json()

    r = client.get(f"/orders/{placed['public_id']}", headers=auth)

    assert r.status_code == 200
    assert r.json()["lines"] == [{"product_id": mug.id, "quantity": 1, "unit_price": "8.50"}]
    assert client.get("/orders/0123456789abcdef0123456789abcdef", headers=auth).status_code == 404


@pytest.mark.expect("same")
def test_cancel_order_restocks(client, auth, mug, db_session):
    placed = client.post("/orders", headers=auth, json={"lines": [{"product_id": mug.id, "quantity": 4}]}).json()

    r = client.post(f"/orders/{placed['public_id']}/cancel", headers=auth)

    assert r.json()["status"] == "cancelled"
    db_session.expire_all()
    assert db_session.get(Product, mug.id).stock == 10
    assert client.post(f"/orders/{placed['public_id']}/cancel", headers=auth).status_code == 409


@pytest.mark.expect("same")
def test_customer_stats(client, auth, customer):
    for _ in range(3):
        order = OrderFactory(customer=customer)
        OrderLineFactory(order=order, quantity=2, product__price=Decimal("10.00"))
    cancelled = OrderFactory(customer=customer, status="cancelled")
    OrderLineFactory(order=cancelled, quantity=5)
    OrderLineFactory.create_batch(2)  # other customers' orders

    r = client.get("/me/stats", headers=auth)

    assert r.json() == {"orders": 4, "items": 6, "spent": "60.00"}


@pytest.mark.expect("same")
def test_new_order_is_placed_now(client, auth, mug):
    r = client.post("/orders", headers=auth, json={"lines": [{"product_id": mug.id, "quantity": 1}]})

    placed_at = datetime.fromisoformat(r.json()["placed_at"])  # naive UTC, like every timestamp of the API
    assert datetime.utcnow() - placed_at < timedelta(minutes=1)
    assert r.json()["shipped_at"] is None


@pytest.mark.expect("diverged", category="datetime")
def test_shipping_records_the_shipping_time(client, auth, mug):
    placed = client.post("/orders", headers=auth, json={"lines": [{"product_id": mug.id, "quantity": 1}]}).json()

    r = client.post(f"/orders/{placed['public_id']}/ship")

    assert r.json()["status"] == "shipped"
    shipped_at = datetime.fromisoformat(r.json()["shipped_at"])
    assert datetime.now(timezone.utc) - shipped_at < timedelta(minutes=1)
