"""Shared test infrastructure: one real PostgreSQL server for the whole test session.

Plugin behaviour is tested with ``pytester`` (inner pytest runs). Starting a
server per inner run would cost ~0.3 s each, so the suite starts one local
server and points every inner run at it through ``DUALDB_PG_URL``, the same
way a user points the plugin at an existing server. Tests about the plugin's
own server management start their own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

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


@pytest.fixture
def inner(pytester: pytest.Pytester, pg_url: str, monkeypatch: pytest.MonkeyPatch):
    """Run an inner pytest with ``--dual-db`` against the session server; returns a helper."""
    monkeypatch.setenv("DUALDB_PG_URL", pg_url)
    return InnerRun(pytester)


class InnerRun:
    """Write a tiny user project into pytester's folder and run pytest on it."""

    def __init__(self, pytester: pytest.Pytester):
        self.pytester = pytester

    def project(self, models: str | None = None, ini: str = "", **files: str) -> None:
        lines = ["[pytest]", "pythonpath = ."]
        if "asyncio_default_fixture_loop_scope" not in ini:
            lines.append("asyncio_default_fixture_loop_scope = function")  # quiets pytest-asyncio
        if models is not None:
            self.pytester.makepyfile(models=models)
            lines.append("dualdb_metadata = models:Base")
        if ini:
            lines.append(ini)
        self.pytester.makefile(".ini", pytest="\n".join(lines) + "\n")
        if files:
            self.pytester.makepyfile(**files)

    def run(self, *args: str, subprocess: bool = False) -> pytest.RunResult:
        argv = ["-p", "no:cacheprovider", "-p", "no:randomly", *args]
        if subprocess:
            return self.pytester.runpytest_subprocess(*argv, timeout=120)
        return self.pytester.runpytest(*argv)

    def report(self) -> dict:
        return json.loads(Path(self.pytester.path, "reports", "dualdb.json").read_text())

    def verdicts(self) -> dict[str, tuple[str, str | None]]:
        return {t["nodeid"].split("::")[-1]: (t["verdict"], t["kind"]) for t in self.report()["tests"]}

    def entry(self, name: str) -> dict:
        for test in self.report()["tests"]:
            if test["nodeid"].split("::")[-1] == name:
                return test
        raise KeyError(name)


MODELS = '''
from sqlalchemy import ForeignKey, Integer, String, JSON, Numeric, Boolean
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Post(Base):
    __tablename__ = "posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(100))
    attrs: Mapped[dict] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Numeric(10, 2), default=0)
'''


@pytest.fixture
def models_source() -> str:
    return MODELS


def database_names(admin) -> set[str]:  # noqa: ANN001
    """The server's databases, minus the schema templates the plugin keeps on purpose for the next run
    (``dualdb_tpl_<fingerprint>``, see tests/runs/test_schema_reuse.py)."""
    with admin.connect() as conn:
        names = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    return {n for n in names if not n.startswith("dualdb_tpl_")}
