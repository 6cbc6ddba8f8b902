"""Shared test infrastructure: one real PostgreSQL server for the whole test session.

Plugin behaviour is tested with ``pytester`` (inner pytest runs). Starting a
server per inner run would cost ~0.3 s each, so the suite starts one local
server and points every inner run at it through ``DUALDB_PG_URL``, the same
way a user points the plugin at an existing server. Tests about the plugin's
own server management start their own.

Fixtures only one group needs live in that group's conftest.py (``inner``: tests/runs/);
the inner projects' shared models are in tests/support/models.py.
"""

from __future__ import annotations

import os
# imported here, before any inner run: pytester's in-process runs unload what they imported, and
# a second import of the stdlib sqlite3 makes new exception classes that SQLAlchemy's cached
# dialect doesn't recognise (a raw sqlite3.IntegrityError instead of SQLAlchemy's)
import sqlite3  # noqa: F401

import pytest
from sqlalchemy import create_engine

from dualdb.engines.server.binaries import find_binaries
from dualdb.engines.server.local import start_server

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def pg_server():
    """A private PostgreSQL server (system binaries, else the wheel) for this test session."""
    server = start_server(find_binaries(os.environ.get("DUALDB_PG_BINARIES")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server) -> str:  # noqa: ANN001
    return pg_server.url


@pytest.fixture(scope="session")
def pg_admin(pg_url):  # noqa: ANN001
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def linguistic(pg_admin) -> bool:  # noqa: ANN001
    """Whether the session server sorts text linguistically (ICU or en_US.UTF-8) as production
    servers do. The pip wheel has no ICU: it gets an en_US.UTF-8 the plugin builds with glibc's
    localedef, and where that cannot be built its databases sort bytewise (C), like SQLite, and
    the text divergences that come from collation don't exist there."""
    from dualdb.engines import postgres

    collation, _ = postgres.choose_collation(postgres.check_server(pg_admin, "the test server"), "auto")
    return collation != "C"


@pytest.fixture
def needs_linguistic(linguistic: bool) -> None:
    """Skip a test whose divergence only exists on a server with a linguistic collation."""
    if not linguistic:
        pytest.skip(
            "this PostgreSQL has no linguistic collation (no ICU, no en_US.UTF-8, e.g. the pip wheel "
            "on a machine without glibc's localedef and locale sources): "
            "text sorts bytewise as on SQLite, so the ordering divergence this test needs doesn't exist here"
        )
