"""Shared fixtures for the probe catalog.

The database fixtures themselves (``db_session``, ``db_connection``, ``db_engine``,
``db_fresh_engine``, ``observe``, ``dualdb_backend``) come from the dualdb plugin;
the fixtures here are the kind of factories an application's own suite would have.
The ``probe(category, expect)`` marker is registered in ``pytest.ini``.
"""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from dualdb.probes import unavailable_probes
from dualdb.probes.models import Author, Event, Post, Product, Tag, User

collect_ignore = sorted(unavailable_probes())  # FastAPI / Hypothesis probes need their extra


@pytest.fixture
def make_product(db_session):
    """Create (and flush) a product; a unique SKU is generated unless given."""
    numbers = itertools.count(1)

    def make(name: str, price: str | Decimal = "10.00", **fields) -> Product:
        fields.setdefault("sku", f"SKU-{next(numbers):04d}")
        product = Product(name=name, price=Decimal(price), **fields)
        db_session.add(product)
        db_session.flush()
        return product

    return make


@pytest.fixture
def make_user(db_session):
    """Create (and flush) a user; email and username derive from the first name."""
    numbers = itertools.count(1)

    def make(first_name: str, last_name: str = "Tester", **fields) -> User:
        n = next(numbers)
        fields.setdefault("email", f"{first_name.lower()}.{n}@example.com")
        fields.setdefault("username", f"{first_name.lower()}{n}")
        user = User(first_name=first_name, last_name=last_name, **fields)
        db_session.add(user)
        db_session.flush()
        return user

    return make


@pytest.fixture
def author(db_session) -> Author:
    """One author, Ada, for blog probes."""
    ada = Author(name="Ada", email="ada@example.com")
    db_session.add(ada)
    db_session.flush()
    return ada


@pytest.fixture
def make_post(db_session, author):
    """Create (and flush) a post by ``author`` unless another author is given."""

    def make(title: str, **fields) -> Post:
        fields.setdefault("author", author)
        post = Post(title=title, **fields)
        db_session.add(post)
        db_session.flush()
        return post

    return make


@pytest.fixture
def make_tag(db_session):
    def make(name: str) -> Tag:
        tag = Tag(name=name)
        db_session.add(tag)
        db_session.flush()
        return tag

    return make


@pytest.fixture
def make_event(db_session):
    def make(kind: str, occurred_at: dt.datetime, **fields) -> Event:
        event = Event(kind=kind, occurred_at=occurred_at, **fields)
        db_session.add(event)
        db_session.flush()
        return event

    return make


@pytest.fixture
def fresh_session(db_fresh_engine):
    """A plain Session on the test's own fresh database (commits are real there)."""
    with Session(db_fresh_engine) as session:
        yield session


@pytest.fixture
def two_connections(db_fresh_engine, dualdb_backend):
    """Two independent connections to a fresh database, as two concurrent requests
    of the application would have. Lock waits are capped (200 ms) on both engines so
    that a probe about locking can never hang: PostgreSQL raises ``lock timeout``,
    SQLite raises ``database is locked``."""
    connections = []
    for _ in range(2):
        conn = db_fresh_engine.connect()
        if dualdb_backend.name == "postgresql":
            conn.exec_driver_sql("SET lock_timeout = '200ms'")
            conn.exec_driver_sql("SET statement_timeout = '5s'")
        else:
            conn.exec_driver_sql("PRAGMA busy_timeout = 200")
        conn.commit()
        connections.append(conn)
    yield connections
    for conn in connections:
        try:
            conn.rollback()
        finally:
            conn.close()
