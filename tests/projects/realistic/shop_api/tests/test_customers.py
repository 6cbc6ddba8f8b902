from datetime import datetime, timezone
from uuid import UUID

import bcrypt
import pytest
from sqlalchemy import select

from storefront.models import ApiToken, Customer
from tests.factories import PASSWORD, CustomerFactory


# customers.created_at is server_default=func.now(): whole seconds on SQLite, microseconds on
# PostgreSQL, and the response shows it
@pytest.mark.expect("diverged", category="datetime")
def test_register_customer(client):
    r = client.post("/customers", json={"email": "Bob@Example.com", "full_name": "Bob Baker", "password": "s3cret-pass"})

    assert r.status_code == 201
    body = r.json()
    assert UUID(body["public_id"]).version == 4
    assert body["email"] == "bob@example.com"
    assert "password" not in body and "password_hash" not in body


# customers.created_at is server_default=func.now(): whole seconds on SQLite, microseconds on
# PostgreSQL, and the response shows it
@pytest.mark.expect("diverged", category="datetime")
def test_register_rejects_duplicate_email(client):
    payload = {"email": "dup@example.com", "full_name": "First", "password": "s3cret-pass"}
    assert client.post("/customers", json=payload).status_code == 201

    r = client.post("/customers", json={**payload, "email": "DUP@example.com", "full_name": "Second"})

    assert r.status_code == 409
    assert r.json() == {"detail": "email already registered"}


# customers.created_at is server_default=func.now(): whole seconds on SQLite, microseconds on
# PostgreSQL, and the response shows it
@pytest.mark.expect("diverged", category="datetime")
def test_customer_created_at_is_set_by_the_database(client):
    r = client.post("/customers", json={"email": "cat@example.com", "full_name": "Cat", "password": "s3cret-pass"})

    created = datetime.fromisoformat(r.json()["created_at"])
    assert created.year == datetime.now(timezone.utc).year


# customers.created_at is server_default=func.now(): whole seconds on SQLite, microseconds on
# PostgreSQL, and the response shows it
@pytest.mark.expect("diverged", category="datetime")
def test_password_is_stored_as_bcrypt_hash(client, db_session):
    client.post("/customers", json={"email": "dan@example.com", "full_name": "Dan", "password": "s3cret-pass"})

    stored = db_session.scalar(select(Customer.password_hash).where(Customer.email == "dan@example.com"))
    assert stored.startswith(b"$2b$04$")
    assert bcrypt.checkpw(b"s3cret-pass", stored)
    assert not bcrypt.checkpw(b"wrong", stored)


# customers.created_at is server_default=func.now(): whole seconds on SQLite, microseconds on
# PostgreSQL, and the response shows it
@pytest.mark.expect("diverged", category="datetime")
def test_issue_token_and_fetch_profile(client, customer, db_session):
    r = client.post("/auth/tokens", json={"email": "ann@example.com", "password": PASSWORD, "label": "laptop"})
    assert r.status_code == 201
    token = r.json()["token"]
    assert len(token) >= 40

    me = client.get("/me", headers={"Authorization": f"Bearer {token}"})

    assert me.status_code == 200
    assert me.json()["full_name"] == "Ann Archer"
    stored = db_session.scalar(select(ApiToken).where(ApiToken.token == token))
    assert stored.label == "laptop"
    assert stored.last_used_at is not None


@pytest.mark.expect("same")
def test_wrong_password_is_rejected(client, customer):
    r = client.post("/auth/tokens", json={"email": customer.email, "password": "guess"})

    assert r.status_code == 401


@pytest.mark.expect("same")
def test_profile_requires_a_valid_token(client):
    CustomerFactory.create_batch(3)

    assert client.get("/me").status_code == 401
    assert client.get("/me", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
