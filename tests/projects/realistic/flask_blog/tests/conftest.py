import pytest

from blog import create_app
from blog.db import db
from blog.models import Tag
from dualdb.flask import flask_sqlalchemy_session

from .factories import PASSWORD, UserFactory


@pytest.fixture
def app():
    return create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "POSTS_PER_PAGE": 5,
    })


@pytest.fixture(autouse=True)
def session(app, db_connection):
    """db.session on the test's connection: the app and the factories commit into a savepoint."""
    with flask_sqlalchemy_session(db, app, db_connection) as session:
        yield session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def author(client):
    """Ada, logged in."""
    ada = UserFactory(username="ada", email="ada@example.org")
    r = client.post("/api/login", json={"username": "ada", "password": PASSWORD})
    assert r.status_code == 200
    return ada


@pytest.fixture
def seeded_tags(session):
    """The tags the production seed script creates (fixed ids, referenced by the menu)."""
    session.add_all([Tag(id=1, name="python"), Tag(id=2, name="flask")])
    session.commit()
