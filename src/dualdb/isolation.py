"""Transaction-per-test: an outer transaction rolled back after the test, savepoints inside.

The model: each test gets one connection with an outer transaction. ORM
sessions join it with ``join_transaction_mode="create_savepoint"``, so the
code under test may ``commit()``, ``rollback()``, flush or raise; whatever it
does stays inside the outer transaction, which is rolled back at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from .backends import Backend, postgres


@contextmanager
def rolled_back_connection(backend: Backend) -> Iterator[Connection]:
    """A pooled connection inside an outer transaction that is always rolled back.

    PostgreSQL sequences are put back to their start first: they ignore
    ROLLBACK, and ids must match SQLite's (which roll back) on every test.
    """
    conn = backend.engine.connect()
    try:
        if backend.name == "postgresql":
            postgres.reset_sequences(conn)
            conn.commit()
        outer = conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                outer.rollback()
            elif conn.in_transaction():
                conn.rollback()
    finally:
        conn.close()


def savepoint_session(connection: Connection, **kwargs) -> Session:
    """An ORM session whose commits are savepoint releases inside the test's transaction."""
    kwargs.setdefault("join_transaction_mode", "create_savepoint")
    return Session(bind=connection, **kwargs)


def test_sessionmaker(connection: Connection, **kwargs) -> sessionmaker:
    """A ``sessionmaker`` whose sessions all join the test's transaction via savepoints."""
    kwargs.setdefault("join_transaction_mode", "create_savepoint")
    return sessionmaker(bind=connection, **kwargs)


def plain_engine_note(engine: Engine) -> str:
    return f"db_fresh_engine: {engine.url.render_as_string(hide_password=True)} (no isolation wrapper)"
