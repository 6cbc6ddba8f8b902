"""Flask-SQLAlchemy 3 integration: point ``db.session`` at the test's connection.

Flask-SQLAlchemy's session picks its engine in ``get_bind`` from the app's
engines by bind key, ignoring a ``bind=`` given to the session — so the usual
"bind the session to the test's connection" recipe silently runs against the
real engine and commits for real. This helper swaps the app's engines for the
test's connection (and makes the scoped session join it with savepoints)
while the block runs::

    @pytest.fixture
    def session(app, db_connection):
        with flask_sqlalchemy_session(db, app, db_connection) as session:
            yield session
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection


@contextmanager
def flask_sqlalchemy_session(db: Any, app: Any, connection: Connection) -> Iterator[Any]:
    """Make ``db.session`` (every bind key) use ``connection`` inside a savepoint per session."""
    with app.app_context():
        engines = db._app_engines[app]  # Flask-SQLAlchemy 3.x keeps them here, per app
        saved_engines = dict(engines)
        factory = db.session.session_factory
        saved_kw = dict(factory.kw)
        db.session.remove()
        for key in engines:
            engines[key] = connection
        factory.configure(join_transaction_mode="create_savepoint")
        try:
            yield db.session
        finally:
            db.session.remove()
            engines.clear()
            engines.update(saved_engines)
            factory.kw.clear()
            factory.kw.update(saved_kw)
