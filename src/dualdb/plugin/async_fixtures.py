"""The async fixtures: ``db_async_engine``, ``db_async_connection``, ``db_async_session``,
``dualdb_async_sessionmaker``. Docstrings are written for ``pytest --fixtures``.

They work the same under pytest-asyncio (strict and auto mode, any loop scope)
and under anyio's pytest plugin (``@pytest.mark.anyio``), without the test
author decorating anything:

* To pytest they are plain *sync* fixtures, so neither async plugin wraps
  them (which would run them on that plugin's loop even when the test runs on
  the other's).
* Their async setup and teardown run on the loop the *test* runs on, through
  ``_dualdb_event_loop``: for an anyio test it holds a lease on anyio's test
  runner (the one the test and its async fixtures use); otherwise it takes
  the loop of pytest-asyncio's runner for the test's ``loop_scope``, through a
  tiny ``@pytest_asyncio.fixture`` per scope; without either plugin (a sync
  test), a private ``asyncio.Runner``.

Like the sync fixtures, each depends on ``dualdb_backend``: with ``--dual-db``
an async test runs once per backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from dualdb.plugin.stash import LEG_KEY

if TYPE_CHECKING:  # this module is imported in every pytest run: asyncio and the backends load on use
    import asyncio

    from dualdb.engines.provision import Backend
    from dualdb.run.state import RunState

T = TypeVar("T")

__all__ = [
    "_dualdb_async_engines",
    "_dualdb_event_loop",
    "db_async_connection",
    "db_async_engine",
    "db_async_session",
    "dualdb_async_sessionmaker",
]

LOOP_SCOPES = ("function", "class", "module", "package", "session")


def _leg(request: pytest.FixtureRequest):  # noqa: ANN202
    return request.node.stash.get(LEG_KEY, None)


# -- running coroutines on the test's event loop ---------------------------------------


class LoopDriver:
    """Runs a fixture's coroutines, from sync fixture code, on the loop the test runs on."""

    def __init__(self, run: Callable[[Awaitable[Any]], Any], kind: str):
        self._run = run
        self.kind = kind  # "anyio", "pytest-asyncio" or "private"

    def run(self, awaitable: Awaitable[T]) -> T:
        return self._run(awaitable)

    def __repr__(self) -> str:
        return f"<LoopDriver {self.kind}>"


def _uses_anyio(request: pytest.FixtureRequest) -> bool:
    # the same test anyio's own pytest_fixture_setup applies to async fixtures
    return "anyio_backend" in request.fixturenames


def _asyncio_plugin_active(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("asyncio") and _asyncio_loop_fixtures_available


def _asyncio_loop_scope(request: pytest.FixtureRequest) -> str:
    """The loop scope pytest-asyncio runs this test in: marker ``loop_scope``, else the ini default."""
    marker = request.node.get_closest_marker("asyncio")
    scope = None
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if scope is None:
        try:
            scope = request.config.getini("asyncio_default_test_loop_scope")
        except ValueError:
            scope = None
    return scope if scope in LOOP_SCOPES else "function"


@pytest.fixture
def _dualdb_event_loop(request: pytest.FixtureRequest) -> Iterator[LoopDriver]:
    """Plumbing: the test's event loop, for the async fixtures' setup and teardown."""
    if _uses_anyio(request):
        backend = request.getfixturevalue("anyio_backend")
        name, options = (backend, {}) if isinstance(backend, str) else (backend[0], dict(backend[1]))
        if name != "asyncio":
            pytest.skip(
                f"pytest-dualdb's async fixtures need asyncio (aiosqlite and psycopg do not run on {name}); "
                "override the `anyio_backend` fixture to return 'asyncio'"
            )
        from anyio.pytest_plugin import get_runner

        with get_runner(name, options) as runner:

            def run_on_anyio(awaitable: Awaitable[T]) -> T:
                async def call() -> T:
                    return await awaitable

                return runner.run_fixture(call, {})

            yield LoopDriver(run_on_anyio, "anyio")
        return
    if _asyncio_plugin_active(request.config):
        scope = _asyncio_loop_scope(request)
        loop = request.getfixturevalue(f"_dualdb_asyncio_loop_{scope}")
        yield LoopDriver(loop.run_until_complete, "pytest-asyncio")
        return
    import asyncio

    if hasattr(asyncio, "Runner"):  # Python 3.11+
        with asyncio.Runner() as runner:
            yield LoopDriver(runner.run, "private")
        return
    loop = asyncio.new_event_loop()  # Python 3.10
    try:
        yield LoopDriver(loop.run_until_complete, "private")
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


try:
    import pytest_asyncio
except ImportError:  # pytest-asyncio is optional: anyio (or a sync test) needs none of this
    _asyncio_loop_fixtures_available = False
else:
    _asyncio_loop_fixtures_available = True

    def _make_loop_fixture(scope: str):  # noqa: ANN202
        name = f"_dualdb_asyncio_loop_{scope}"

        @pytest_asyncio.fixture(loop_scope=scope, name=name)
        async def _loop() -> asyncio.AbstractEventLoop:
            """Plumbing: pytest-asyncio's event loop of this scope."""
            import asyncio

            return asyncio.get_running_loop()

        return name, _loop

    for _scope in LOOP_SCOPES:
        _name, _fixture = _make_loop_fixture(_scope)
        globals()[_name] = _fixture
        __all__.append(_name)
    del _scope, _name, _fixture


# -- engines ---------------------------------------------------------------------------


class AsyncEngines:
    """One ``AsyncEngine`` per backend for the whole run, disposed at the end."""

    def __init__(self, state: Any):
        self.state = state
        self._engines: dict[str, Any] = {}

    def get(self, backend: Backend):  # noqa: ANN201
        engine = self._engines.get(backend.name)
        if engine is None:
            from dualdb.engines.async_engines import make_async_engine
            from dualdb.errors import AsyncDriverMissing

            try:
                engine = make_async_engine(backend, self.state.settings)
            except AsyncDriverMissing as exc:
                pytest.fail(f"pytest-dualdb: {exc}", pytrace=False)
            self.state.attach_engine(backend.name, engine)
            self._engines[backend.name] = engine
        return engine

    def close(self) -> None:
        from dualdb.engines.async_engines import dispose_all

        engines, self._engines = list(self._engines.values()), {}
        dispose_all(engines)


@pytest.fixture(scope="session")
def _dualdb_async_engines(_dualdb_state: RunState) -> Iterator[AsyncEngines]:
    """Plumbing: the run's async engines (one per backend), disposed after the last test."""
    engines = AsyncEngines(_dualdb_state)
    try:
        yield engines
    finally:
        engines.close()


@pytest.fixture(scope="session")
def db_async_engine(dualdb_backend: Backend, _dualdb_async_engines: AsyncEngines):  # noqa: ANN201
    """The SQLAlchemy ``AsyncEngine`` of the current backend (session scoped, shared by all tests).

    ``sqlite+aiosqlite`` on the SQLite leg's database file, ``postgresql+psycopg``
    (psycopg's async mode) on the PostgreSQL leg's database. Prefer
    ``db_async_session``: work done directly on this engine is *not* rolled back.
    Its pool outlives each test's event loop; both drivers allow that.
    """
    return _dualdb_async_engines.get(dualdb_backend)


# -- per-test isolation ----------------------------------------------------------------


@pytest.fixture
def db_async_connection(
    dualdb_backend: Backend,
    _dualdb_async_engines: AsyncEngines,
    _dualdb_event_loop: LoopDriver,
    _dualdb_state: RunState,
    request: pytest.FixtureRequest,
):  # noqa: ANN201
    """An ``AsyncConnection`` inside an outer transaction that is rolled back after the test.

    The async twin of ``db_connection`` (PostgreSQL sequences reset first, so
    ids match SQLite's). Works in ``@pytest.mark.asyncio`` tests (strict or
    auto mode, any ``loop_scope``) and ``@pytest.mark.anyio`` tests alike; do
    not mix it with the sync fixtures in one test (two connections, one of
    them would wait for the other's locks on SQLite).
    """
    from dualdb.engines.async_engines import rolled_back_async_connection

    _dualdb_state.provisioner.refresh_schema(dualdb_backend)
    engine = _dualdb_async_engines.get(dualdb_backend)
    context = rolled_back_async_connection(engine, dualdb_backend)
    conn, tracker = _dualdb_event_loop.run(context.__aenter__())
    try:
        yield conn
    finally:
        try:
            _dualdb_event_loop.run(context.__aexit__(None, None, None))
        finally:
            leg = _leg(request)
            note = getattr(leg, "note_harness", None)
            if note is not None and tracker is not None:
                for text in tracker.notes:
                    note(text)


@pytest.fixture
def db_async_session(db_async_connection: Any, _dualdb_event_loop: LoopDriver):  # noqa: ANN201
    """An ``AsyncSession`` on ``db_async_connection`` whose ``commit()`` is a savepoint release.

    The async twin of ``db_session``: code under test may ``await
    session.commit()``, roll back or raise freely; nothing survives the test.
    ``expire_on_commit=False``, as in almost every async application (an
    expired attribute would need implicit IO, which async SQLAlchemy forbids).
    Override a FastAPI dependency with it::

        app.dependency_overrides[get_db] = lambda: db_async_session
    """
    from dualdb.engines.async_engines import savepoint_async_session

    session = savepoint_async_session(db_async_connection)
    try:
        yield session
    finally:
        _dualdb_event_loop.run(session.close())


@pytest.fixture
def dualdb_async_sessionmaker(db_async_connection: Any, _dualdb_event_loop: LoopDriver):  # noqa: ANN201
    """An ``async_sessionmaker`` whose sessions all live inside the test's rolled-back transaction.

    The async twin of ``dualdb_sessionmaker``: hand it to application code that
    opens its own sessions (one per request, background jobs). A ``commit()`` in
    any of them is visible to the others; everything is rolled back after the
    test and sessions still open are closed. ``expire_on_commit=False``.
    """
    from dualdb.engines.async_engines import AsyncTestSessionmaker

    factory = AsyncTestSessionmaker(db_async_connection)
    try:
        yield factory
    finally:
        _dualdb_event_loop.run(factory.close_all())
