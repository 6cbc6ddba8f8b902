"""API-level probes: the whole stack, as in an integration test.

    test ──► TestClient ──► route ──► service ──► ORM ──► real database

The demo app (``probes/demo_app``) is an ordinary FastAPI application written and
tested on SQLite. Its ``get_db`` dependency is replaced by the test's ``db_session``
(``app.dependency_overrides[get_db] = lambda: db_session``), so the route, the
service and the test share one session inside the test's rolled-back transaction,
and the service's ``commit()`` calls are savepoint releases.

Where the API answers on both engines but with different bodies, the body is
recorded with ``observe(...)`` so the divergence is reported even though every
assertion passes — the assertions are as loose as real API tests usually are.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from dualdb.probes.demo_app.main import app, get_db
from dualdb.probes.models import Author, Post, Product, Tag, utc


@pytest.fixture
def api(db_session):
    """A TestClient whose ``get_db`` yields the test's session."""
    app.dependency_overrides[get_db] = lambda: db_session
    try:
        with TestClient(app) as client:
            yield client
    finally:
        app.dependency_overrides.pop(get_db, None)


@pytest.fixture
def catalog(db_session):
    """Products as the shop's admin would create them."""
    db_session.add_all([
        Product(sku="P-1", name="iPhone case", price=Decimal("19.00"), stock=10,
                category="phones", attributes={"color": "red", "rank": 2}),
        Product(sku="P-2", name="Phone charger", price=Decimal("25.00"), stock=5,
                category="phones", attributes={"color": "black", "rank": 1}),
        Product(sku="P-3", name="headphones", price=Decimal("80.00"), stock=0,
                category="audio", attributes={"color": "red", "rank": 3}),
        Product(sku="P-4", name="Desk lamp", price=Decimal("35.00"), stock=15,
                category="home", attributes={"color": "white", "rank": 4}),
    ])
    db_session.commit()


@pytest.fixture
def blog(db_session):
    """An author with three posts (one unrated) and two tags."""
    ada = Author(name="Ada", email="ada@example.com")
    python, sql = Tag(name="python"), Tag(name="sql")
    db_session.add_all([
        Post(author=ada, title="Typing tips", rating=4.0, tags=[python],
             published_at=utc(2024, 1, 10, 9, 30)),
        Post(author=ada, title="Draft: window functions", rating=None, tags=[sql]),
        Post(author=ada, title="SQLAlchemy 2 in practice", rating=4.5, tags=[python, sql],
             published_at=utc(2024, 2, 1, 8, 0)),
    ])
    db_session.commit()
    return ada


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()]


# ---------------------------------------------------------------------- divergent
@pytest.mark.probe(category="collation", expect="diverged", needs="linguistic")
def test_api_products_sorted_by_name(api, catalog, observe):
    """``GET /products?sort=name`` (silent: both return 200).

    Service: ``order_by(Product.name)``.
    SQLite (BINARY): ``Desk lamp, Phone charger, headphones, iPhone case``.
    PostgreSQL (ICU en-US): ``Desk lamp, headphones, iPhone case, Phone charger``.
    Depends on ICU (or an ``en_US`` libc locale) on the PostgreSQL side.
    Fix: ``order_by(func.lower(Product.name), Product.id)`` in the service.
    """
    response = api.get("/products", params={"sort": "name"})

    observe("GET /products?sort=name", names(response))
    assert len(response.json()) == 4


@pytest.mark.probe(category="collation", expect="diverged")
def test_api_search_phone_accessories(api, catalog, observe):
    """``GET /products/search?q=phone`` (silent: both return 200).

    Service: ``Product.name.like(f"%{q}%")``.
    SQLite: LIKE ignores ASCII case: all three phone products.
    PostgreSQL: LIKE is case-sensitive: only ``headphones`` is found.
    Fix: ``Product.name.ilike(f"%{q}%")``.
    """
    response = api.get("/products/search", params={"q": "phone"})

    observe("GET /products/search?q=phone", names(response))
    assert "headphones" in names(response)


@pytest.mark.probe(category="json", expect="diverged")
def test_api_products_sorted_by_merchandising_rank(api, catalog):
    """``GET /products?sort=rank``.

    Service: ``order_by(Product.attributes["rank"])`` (a raw JSON element).
    SQLite: sorts (the element is TEXT); 200 with the products in rank order.
    PostgreSQL: ``could not identify an ordering operator for type json`` — the
    request fails with a server error.
    Fix: ``order_by(Product.attributes["rank"].as_integer())``.
    """
    response = api.get("/products", params={"sort": "rank"})

    assert names(response) == ["Phone charger", "iPhone case", "headphones", "Desk lamp"]


@pytest.mark.probe(category="nulls", expect="diverged")
def test_api_best_rated_posts_first(api, blog, observe):
    """``GET /posts?sort=-rating`` (silent: both return 200).

    Service: ``order_by(Post.rating.desc())``; one post is an unrated draft.
    SQLite: NULL is smallest: the draft comes last.
    PostgreSQL: NULL is largest: the unrated draft is the "best rated" post.
    Fix: ``Post.rating.desc().nulls_last()``.
    """
    response = api.get("/posts", params={"sort": "-rating"})

    titles = [post["title"] for post in response.json()]
    observe("GET /posts?sort=-rating", titles)
    assert response.status_code == 200 and len(titles) == 3


@pytest.mark.probe(category="ordering", expect="diverged")
def test_api_author_page_after_renaming_a_post(api, blog, observe):
    """``PATCH /posts/1`` then ``GET /authors/1/posts`` (silent: both return 200).

    Service: ``author.posts`` — a relationship without ``order_by``.
    SQLite: insertion order, unchanged by the edit.
    PostgreSQL: the renamed post's new row version sits at the end of the heap, so
    it moves to the end of the list.
    Fix: ``relationship(order_by=Post.id)`` (or ``order_by`` in the service).
    """
    assert api.patch("/posts/1", json={"title": "Typing tips (2024)"}).status_code == 200

    response = api.get(f"/authors/{blog.id}/posts")

    titles = [post["title"] for post in response.json()]
    observe("GET /authors/1/posts", titles)
    assert len(titles) == 3


@pytest.mark.probe(category="datetime", expect="diverged")
def test_api_post_detail_published_at(api, blog, observe):
    """``GET /posts/1`` — the ``published_at`` field (silent: both return 200).

    Service: returns the ORM object; pydantic serialises ``published_at``.
    SQLite: the value comes back naive: ``"2024-01-10T09:30:00"`` — a client parses
    it as *local* time.
    PostgreSQL: aware UTC: ``"2024-01-10T09:30:00Z"``.
    Fix: make the API contract explicit: convert to aware UTC in the schema (a
    pydantic validator) or in a ``TypeDecorator`` on the column.
    """
    response = api.get("/posts/1")

    observe("GET /posts/1", response.json())
    assert response.json()["title"] == "Typing tips"


@pytest.mark.probe(category="types", expect="diverged")
def test_api_create_product_with_supplier_sku(api):
    """``POST /products`` with a 27-character SKU.

    Service: ``Product(sku=...)`` into a ``String(20)`` column; no validation.
    SQLite: stored whole; 201 Created.
    PostgreSQL: ``value too long for type character varying(20)`` — a server error.
    Fix: ``sku: str = Field(max_length=20)`` in ``ProductIn`` (a 422 on both).
    """
    response = api.post("/products", json={"sku": "SUPPLIER-CABLE-USB-C-2M-BLK",
                                           "name": "Cable", "price": "9.90"})

    assert response.status_code == 201


@pytest.mark.probe(category="constraints", expect="diverged")
def test_api_order_for_unknown_user(api, observe):
    """``POST /orders`` for a user id that does not exist.

    Service: ``Order(user_id=...)``; the app maps IntegrityError to 409 Conflict.
    SQLite: foreign keys are not enforced: 201 Created, an order nobody owns.
    PostgreSQL: the foreign key refuses it: 409 Conflict.
    Fix: check the user exists in the service (404), and enable
    ``PRAGMA foreign_keys=ON`` on SQLite.
    """
    response = api.post("/orders", json={"user_id": 999, "total": "12.50"})

    observe("POST /orders status", response.status_code)
    assert response.status_code in (201, 409)


# --------------------------------------------------------------------- look-alike
@pytest.mark.probe(category="json", expect="same")
def test_api_filter_products_by_json_color(api, catalog, observe):
    """Look-alike: ``GET /products?color=red`` — the service filters with
    ``Product.attributes["color"].as_string() == color``, which is portable; and
    ``sort=price`` has a unique tie-breaker."""
    response = api.get("/products", params={"color": "red", "sort": "price"})

    observe("GET /products?color=red&sort=price", names(response))
    assert names(response) == ["iPhone case", "headphones"]


@pytest.mark.probe(category="constraints", expect="same")
def test_api_duplicate_sku_is_a_conflict(api, observe):
    """Look-alike: ``POST /products`` twice with the same SKU — UNIQUE is enforced by
    both engines, the service rolls back and answers 409 on both."""
    payload = {"sku": "PEN-1", "name": "Pen", "price": "1.50"}

    first = api.post("/products", json=payload)
    second = api.post("/products", json=payload)

    observe("statuses", [first.status_code, second.status_code])
    assert (first.status_code, second.status_code) == (201, 409)


@pytest.mark.probe(category="types", expect="same")
def test_api_product_stats(api, catalog, observe):
    """Look-alike: ``GET /products/stats`` — ``avg(stock)`` is a ``float`` on SQLite
    and a ``Decimal`` on PostgreSQL, but the response model declares ``float`` and
    pydantic converts: the JSON is identical (compare
    ``test_types.py::test_average_views_in_json_response``, where ``json.dumps``
    meets the raw ``Decimal``)."""
    response = api.get("/products/stats")

    observe("GET /products/stats", response.json())
    assert response.json() == {"products": 4, "avg_stock": 7.5}


@pytest.mark.probe(category="ordering", expect="same")
def test_api_tag_cloud(api, blog, observe):
    """Look-alike: ``GET /tags`` — counts ordered by ``count desc, name``: a total
    order on lower-case names, identical on both engines."""
    response = api.get("/tags")

    observe("GET /tags", response.json())
    assert response.json() == [{"name": "python", "posts": 2}, {"name": "sql", "posts": 2}]


@pytest.mark.probe(category="sequences", expect="same")
def test_api_create_then_fetch_product(api, observe):
    """Look-alike: ``POST /products`` then ``GET /products/{id}`` — the new id (1 on
    both: the plugin aligns sequences per test) and the body round-trip."""
    created = api.post("/products", json={"sku": "MUG-1", "name": "Mug", "price": "8.00",
                                          "attributes": {"color": "blue"}})
    fetched = api.get(f"/products/{created.json()['id']}")

    observe("GET /products/{id}", fetched.json())
    assert fetched.json()["attributes"] == {"color": "blue"}
