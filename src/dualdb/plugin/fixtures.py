"""The fixtures pytest-dualdb gives to tests. Docstrings are written for ``pytest --fixtures``.

Any test that uses one of them (directly or through its own fixtures) is a
*database test*: with ``--dual-db`` it runs once per backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable

import pytest

from dualdb.config import load_object
from dualdb.errors import DualdbError
from dualdb.plugin.stash import LEG_KEY, PAIRED_KEY, settings_of, state_of

if TYPE_CHECKING:  # importing this module must stay cheap: pytest imports it in every run (see plugin)
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session, sessionmaker

    from dualdb.engines.provision import Backend
    from dualdb.run.state import RunState

@pytest.fixture(scope="session")
def _dualdb_state(request: pytest.FixtureRequest) -> RunState:
    """Plumbing: the run's state (settings, backends, legs), injected into the fixtures that need it."""
    return state_of(request.config)


@pytest.fixture(scope="session")
def dualdb_backend(request: pytest.FixtureRequest, _dualdb_state: RunState) -> Backend:
    """The backend this test runs on: ``.name`` is ``"sqlite"`` or ``"postgresql"``.

    Also ``.engine``, ``.url`` (password masked) and ``.version``. With
    ``--dual-db`` every test using a database fixture runs once per backend;
    without it, on the ``dualdb_backend`` ini value (default ``sqlite``).
    """
    state = _dualdb_state
    name = getattr(request, "param", None) or state.settings.default_backend
    try:
        return state.backend(name)
    except DualdbError as exc:
        pytest.exit(f"pytest-dualdb: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def db_engine(dualdb_backend: Backend) -> Engine:
    """The SQLAlchemy ``Engine`` of the current backend (session scoped, shared by all tests).

    Prefer ``db_session`` or ``db_connection``: work done directly on this
    engine is *not* rolled back after the test.
    """
    return dualdb_backend.engine


@pytest.fixture
def db_connection(
    dualdb_backend: Backend, _dualdb_state: RunState, request: pytest.FixtureRequest
) -> Iterator[Connection]:
    """A ``Connection`` inside an outer transaction that is rolled back after the test.

    Cheap (a pooled connection, ~2 ms per test). Anything the test writes,
    including savepoints it releases, disappears at the end.
    """
    from dualdb.engines import isolation

    _dualdb_state.provisioner.refresh_schema(dualdb_backend)
    with isolation.rolled_back_connection(dualdb_backend) as (conn, tracker):
        try:
            yield conn
        finally:
            leg = request.node.stash.get(LEG_KEY, None)
            if leg is not None:
                for note in tracker.notes:
                    leg.note_harness(note)


@pytest.fixture
def db_session(db_connection: Connection) -> Iterator[Session]:
    """An ORM ``Session`` on ``db_connection`` whose ``commit()`` is a savepoint release.

    Code under test may ``commit()``, ``rollback()``, flush or raise freely;
    nothing survives the test. For applications that open several sessions
    per test, use ``dualdb_sessionmaker`` instead.
    """
    from dualdb.engines import isolation

    session = isolation.savepoint_session(db_connection)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def dualdb_sessionmaker(db_connection: Connection) -> Iterator[sessionmaker]:
    """A ``sessionmaker`` whose sessions all live inside the test's rolled-back transaction.

    Hand it to application code that makes its own sessions (factories,
    services, ``get_db``). A ``commit()`` in any of them is visible to the
    others and survives another session's ``close()``/``rollback()``; a
    ``rollback()`` undoes that session's own uncommitted work (see "How
    isolation works" in the README for the one case it cannot). Everything
    is rolled back after the test; sessions still open are closed.
    """
    from dualdb.engines import isolation

    factory = isolation.TestSessionmaker(db_connection)
    try:
        yield factory
    finally:
        factory.close_all()


@pytest.fixture
def db_fresh_engine(
    dualdb_backend: Backend, _dualdb_state: RunState, request: pytest.FixtureRequest
) -> Iterator[Engine]:
    """A plain ``Engine`` on a brand-new database of its own, with the schema created.

    For tests that need several connections and real commits (isolation,
    locking). Nothing wraps it: it behaves like ``create_engine(url)`` in the
    application. The database is dropped after the test. Costs ~50-200 ms on
    PostgreSQL (``CREATE DATABASE ... TEMPLATE``); prefer ``db_session`` otherwise.
    """
    engine, cleanup = _dualdb_state.provisioner.fresh_engine(dualdb_backend.name)
    leg = request.node.stash.get(LEG_KEY, None)
    capture = None
    if leg is not None:  # its statements are evidence too (locking and isolation tests)
        from dualdb.engines.instrument import instrument

        # nothing wraps this engine: no savepoints to track, errors as the application gets them
        capture = instrument(engine, dualdb_backend, savepoints=False, notes=False)
        capture.start(leg)
    try:
        yield engine
    finally:
        if capture is not None:
            capture.stop()
        cleanup()


@pytest.fixture
def observe(dualdb_backend: Backend, request: pytest.FixtureRequest) -> Callable[[str, Any], None]:
    """``observe(label, value)``: record a value to compare across the two backends.

    Use it on what the application returns (a list of names, a response
    body): a test whose legs both pass but observe different values is
    reported as diverged (kind ``value``). Values are normalised first, so
    ``Decimal('1.50')`` equals ``1.5`` and dict key order does not matter.
    """
    leg = request.node.stash.get(LEG_KEY, None)
    if leg is None:
        return lambda label, value: None
    return leg.observe


@pytest.fixture
def client(request: pytest.FixtureRequest, dualdb_sessionmaker: sessionmaker, observe: Callable[[str, Any], None]):
    """A FastAPI ``TestClient`` on the app named by ini ``dualdb_fastapi_app``.

    Its ``get_db`` dependency (ini ``dualdb_fastapi_get_db``) yields a session
    per request from ``dualdb_sessionmaker``, inside the test's rolled-back
    transaction; every response (status and JSON body) is observed, so an
    endpoint returning different data on the two engines is reported. A
    ``client`` fixture in your own conftest takes precedence over this one.
    """
    try:
        from dualdb.contrib.fastapi import ObservingClient, override_get_db
    except DualdbError as exc:  # MissingExtra: FastAPI is an extra
        pytest.fail(f"pytest-dualdb: {exc}", pytrace=False)

    settings = settings_of(request.config)
    app_spec, get_db_spec = settings.fastapi_app, settings.fastapi_get_db
    if not app_spec or not get_db_spec:
        pytest.fail(
            "the `client` fixture needs ini keys dualdb_fastapi_app = module:app and "
            "dualdb_fastapi_get_db = module:get_db (or define your own `client` fixture)",
            pytrace=False,
        )
    try:
        app = load_object(app_spec, "dualdb_fastapi_app")
        get_db = load_object(get_db_spec, "dualdb_fastapi_get_db")
    except DualdbError as exc:
        pytest.fail(f"pytest-dualdb: {exc}", pytrace=False)
    with override_get_db(app, get_db, dualdb_sessionmaker):
        with ObservingClient(app, observe) as test_client:
            yield test_client


@pytest.fixture
def dual(request: pytest.FixtureRequest, _dualdb_state: RunState) -> Iterator[Any]:
    """SQLite and PostgreSQL side by side in one test, for differential properties (Hypothesis).

    ``dual.run(fn, *args)`` calls ``fn(session, *args)`` on SQLite, then on
    PostgreSQL, each with its own ``Session``, and returns both results
    (``.sqlite``, ``.postgresql``; an exception becomes a ``Raised``).
    ``dual.assert_same(fn, *args, ordered=True)`` fails with a side-by-side
    diff when the normalised results differ or only one engine raised.

    Each Hypothesis example runs in its own savepoint on each engine (ids
    restart too), so examples never see each other's rows; for that reason the
    plugin lifts Hypothesis's function-scoped-fixture health check for tests
    whose only function-scoped argument is ``dual`` (and skips the costly
    ``explain`` phase; see ``allow_dual_in_given``). Works with or without
    ``--dual-db`` (the test runs once, on both engines); with it, a
    divergence is one report entry holding the minimal example. Costs a few
    ms per example. Strategies: ``dualdb.contrib.strategies``.
    """
    from dualdb.dual.runner import Paired

    state = _dualdb_state
    try:
        paired = Paired.from_run_state(state, record=state.settings.dual)
    except DualdbError as exc:
        pytest.exit(f"pytest-dualdb: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    request.node.stash[PAIRED_KEY] = paired
    try:
        yield paired
    finally:
        paired.close()


def allow_dual_in_given(item: pytest.Item) -> None:
    """Fit a ``@given`` test that takes ``dual`` to it: two Hypothesis settings change.

    * The function-scoped-fixture health check is lifted: it warns that a
      fixture is not reset between examples, and ``dual`` resets itself per
      example. Any other function-scoped argument of the test keeps it.
    * The ``explain`` phase is dropped: it reruns the failing test hundreds of
      times (two database round trips each, minutes for a mapped row) to
      report which lines only failing examples ran — ``dualdb``'s own.
    """
    fn = getattr(item, "obj", None)
    fn = getattr(fn, "__func__", fn)
    settings = getattr(fn, "_hypothesis_internal_use_settings", None)
    info = getattr(item, "_fixtureinfo", None)
    if settings is None or info is None:
        return
    from hypothesis import HealthCheck, Phase, is_hypothesis_test
    from hypothesis import settings as Settings

    if not is_hypothesis_test(fn):
        return
    changes: dict[str, Any] = {}
    if Phase.explain in settings.phases:
        changes["phases"] = [phase for phase in settings.phases if phase is not Phase.explain]
    params = getattr(getattr(item, "callspec", None), "params", {})
    others = [
        name
        for name in set(info.argnames) - {"dual"} - set(params)
        if (info.name2fixturedefs.get(name) or [None])[-1] is not None
        and info.name2fixturedefs[name][-1].scope == "function"
    ]
    if not others and HealthCheck.function_scoped_fixture not in settings.suppress_health_check:
        changes["suppress_health_check"] = [*settings.suppress_health_check, HealthCheck.function_scoped_fixture]
    if changes:
        fn._hypothesis_internal_use_settings = Settings(parent=settings, **changes)
