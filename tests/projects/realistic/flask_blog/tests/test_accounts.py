import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from blog.models import User
from tests.factories import PASSWORD, UserFactory


@pytest.mark.expect("same")
def test_register(client):
    r = client.post("/api/register", json={"username": "grace", "email": "grace@example.org", "password": "s3cret!"})

    assert r.status_code == 201
    assert r.json["username"] == "grace"
    assert r.json["created_at"] is not None


@pytest.mark.expect("same")
def test_register_taken_username(client):
    UserFactory(username="grace")

    r = client.post("/api/register", json={"username": "grace", "email": "other@example.org", "password": "x"})

    assert r.status_code == 409


@pytest.mark.expect("same")
def test_password_is_stored_as_argon2_hash(client, session):
    client.post("/api/register", json={"username": "linus", "email": "linus@example.org", "password": "s3cret!"})

    stored = session.scalar(select(User.password_hash).where(User.username == "linus"))
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert PasswordHasher().verify(stored, "s3cret!")


@pytest.mark.expect("same")
def test_login(client, observe):
    UserFactory(username="ken")

    r = client.post("/api/login", json={"username": "ken", "password": PASSWORD})

    assert r.status_code == 200
    observe("login", r.json)


@pytest.mark.expect("same")
def test_login_with_wrong_password(client):
    UserFactory(username="ken")

    assert client.post("/api/login", json={"username": "ken", "password": "nope"}).status_code == 401
    assert client.post("/api/login", json={"username": "nobody", "password": "nope"}).status_code == 401
