from decimal import Decimal

import pytest
from sqlalchemy import select

from storefront.models import Product
from tests.factories import ProductFactory


@pytest.mark.expect("same")
def test_product_list_is_paginated(client):
    ProductFactory.create_batch(25)

    r = client.get("/products", params={"page": 2, "per_page": 10})

    body = r.json()
    assert [p["id"] for p in body["items"]] == list(range(11, 21))
    assert (body["total"], body["page"], body["pages"]) == (25, 2, 3)


@pytest.mark.expect("same")
def test_last_page_is_short(client):
    ProductFactory.create_batch(12)

    body = client.get("/products", params={"page": 3, "per_page": 5}).json()

    assert [p["id"] for p in body["items"]] == [11, 12]


@pytest.mark.expect("same")
def test_products_filtered_by_seeded_category(client, categories):
    ProductFactory.create_batch(3, category=categories["mugs"])
    ProductFactory.create_batch(2, category=categories["tea"])

    body = client.get("/products", params={"category": "mugs"}).json()

    assert body["total"] == 3
    assert all(p["sku"].startswith("SKU-") for p in body["items"])


@pytest.mark.expect("same")
def test_search_by_sku(client):
    ProductFactory(sku="MUG-001", name="Enamel camping mug")
    ProductFactory(sku="MUG-002", name="Stoneware mug")
    ProductFactory(sku="TEA-001", name="Sencha")

    r = client.get("/products/search", params={"q": "MUG-"})

    assert [p["sku"] for p in r.json()] == ["MUG-001", "MUG-002"]


@pytest.mark.expect("diverged", category="collation")
def test_search_matches_names_whatever_the_case(client):
    ProductFactory(name="Enamel Camping Mug")
    ProductFactory(name="Travel mug")
    ProductFactory(name="Sencha green tea")

    r = client.get("/products/search", params={"q": "mug"})

    assert sorted(p["name"] for p in r.json()) == ["Enamel Camping Mug", "Travel mug"]


@pytest.mark.expect("same")
def test_product_detail(client):
    product = ProductFactory(name="Gift card", price=Decimal("12.50"), stock=3)

    r = client.get(f"/products/{product.id}")

    body = r.json()
    assert (body["name"], body["price"], body["stock"], body["is_active"]) == ("Gift card", "12.50", 3, True)
    assert body["created_at"] is not None and body["updated_at"] is None


@pytest.mark.expect("same")
def test_unknown_product_is_404(client):
    assert client.get("/products/999").status_code == 404


@pytest.mark.expect("same")
def test_update_price_and_stock(client, db_session):
    product = ProductFactory(price=Decimal("9.99"), stock=1)

    r = client.patch(f"/products/{product.id}", json={"price": "11.49", "stock": 20})

    assert r.status_code == 200
    assert r.json()["price"] == "11.49"
    assert r.json()["updated_at"] is not None
    db_session.expire_all()
    assert db_session.get(Product, product.id).stock == 20


@pytest.mark.expect("same")
def test_deactivated_products_are_hidden(client):
    products = ProductFactory.create_batch(4)

    client.patch(f"/products/{products[1].id}", json={"is_active": False})

    body = client.get("/products").json()
    assert body["total"] == 3
    assert products[1].id not in [p["id"] for p in body["items"]]


@pytest.mark.expect("same")
def test_delete_product(client, db_session):
    product = ProductFactory()

    assert client.delete(f"/products/{product.id}").status_code == 204
    assert client.get(f"/products/{product.id}").status_code == 404
    assert db_session.scalars(select(Product)).all() == []


@pytest.mark.expect("diverged", category="types")
def test_create_product_with_supplier_sku(client):
    r = client.post("/products", json={"sku": "ACME-ESPRESSO-CUP-SET-6PK", "name": "Espresso cups (6)", "price": "24.00"})

    assert r.status_code == 201
    assert r.json()["sku"] == "ACME-ESPRESSO-CUP-SET-6PK"


@pytest.mark.expect("diverged", category="ordering")
def test_cheapest_products_first(client):
    for name, price in [("Coaster", "3.00"), ("Tea towel", "5.00"), ("Mug", "5.00"), ("Teaspoon", "2.00"),
                        ("Sugar bowl", "5.00"), ("Tea strainer", "5.00"), ("Milk jug", "5.00"), ("Tray", "9.00")]:
        ProductFactory(name=name, price=Decimal(price))

    first_page = client.get("/products", params={"sort": "price", "per_page": 4}).json()["items"]

    assert [p["name"] for p in first_page] == ["Teaspoon", "Coaster", "Tea towel", "Mug"]


@pytest.mark.expect("diverged", category="sequences")
def test_admin_adds_a_category(client, categories):
    r = client.post("/categories", json={"slug": "coffee", "name": "Coffee"})

    assert r.status_code == 201
    assert r.json()["slug"] == "coffee"
    assert client.get("/products", params={"category": "coffee"}).json()["total"] == 0


@pytest.mark.expect("diverged", category="collation", needs="linguistic")
def test_catalog_sorted_by_name(client):
    for name in ["teapot", "Mug", "espresso cup", "Tea towel"]:
        ProductFactory(name=name)

    r = client.get("/products", params={"sort": "name"})

    assert r.status_code == 200
    assert r.json()["total"] == 4
