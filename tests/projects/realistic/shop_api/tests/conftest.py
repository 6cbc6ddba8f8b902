import os

os.environ.setdefault("STOREFRONT_BCRYPT_ROUNDS", "4")  # before storefront.config is imported

import pytest

from dualdb.fastapi import ObservingClient
from storefront.db import get_db
from storefront.main import app
from storefront.models import Category

from . import factories


@pytest.fixture(autouse=True)
def _factories_use_test_session(db_session):
    for factory_class in factories.ALL:
        factory_class._meta.sqlalchemy_session = db_session
    yield
    for factory_class in factories.ALL:
        factory_class._meta.sqlalchemy_session = None


@pytest.fixture
def client(db_session, observe):
    """The API, on the test's session; every response is recorded for the dual-db comparison."""
    app.dependency_overrides[get_db] = lambda: db_session
    with ObservingClient(app, observe) as c:
        yield c
    app.dependency_overrides.clear()


@pytest.fixture
def customer():
    return factories.CustomerFactory(email="ann@example.com", full_name="Ann Archer")


@pytest.fixture
def auth(client, customer):
    r = client.post("/auth/tokens", json={"email": customer.email, "password": factories.PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def categories(db_session):
    """Reference data, as in the production seed script (fixed ids: the front end links to them)."""
    db_session.add_all([
        Category(id=1, slug="mugs", name="Mugs"),
        Category(id=2, slug="tea", name="Tea"),
        Category(id=3, slug="gifts", name="Gift cards"),
    ])
    db_session.commit()
    return {c.slug: c for c in db_session.query(Category)}
