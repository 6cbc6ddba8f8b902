"""pytest hooks of redirect mode (registered by ``dualdb.plugin`` in every run; idle unless asked).

The controller turns ``--dualdb-redirect`` into two pytest-xdist workers with
``--dist each`` (every test on each), one per engine, told their engine through
xdist's per-worker environment (``--tx popen//env:DUALDB_REDIRECT_LEG=...``): an
environment variable is the one channel a worker can read before it imports
the suite's conftest, which is when module-level engines are created. The
controller starts (or checks) the PostgreSQL server before the workers start
and hands them its URL through the environment they inherit.

Each worker runs every test as one leg of its engine (the plugin's usual leg
protocol, ``plugin._begin_leg``/``_end_leg``) and sends each leg with its
teardown report; the controller's ``LegCollector`` pairs them by test id, and
only tests that ran a statement (or observed a value) in either leg are reported.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import pytest

from dualdb.config import setting
from dualdb.records import BackendInfo, LegPayload
from dualdb.plugin.usage import usage_error, usage_errors
from dualdb.redirect import EXTERNAL_ENV, LEG_ENV, LEGS, SERVER_ENV


def requested(config: pytest.Config) -> bool:
    return bool(setting("redirect", config.getoption, config.getini))


# -- the controller: two workers, one per engine ----------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Before xdist reads its options: distribute the run over one worker per engine."""
    if hasattr(config, "workerinput") or not requested(config) or config.getoption("collectonly"):
        return None
    _check_usage(config)
    config.option.dist = "each"
    config.option.tx = [f"popen//env:{LEG_ENV}={leg}" for leg in LEGS]
    return None


def _check_usage(config: pytest.Config) -> None:
    """One line for each way a user can ask for something redirect mode can't do."""
    if not config.pluginmanager.has_plugin("xdist"):
        raise usage_error(
            "--dualdb-redirect runs each engine in its own pytest-xdist worker: "
            "pip install pytest-xdist (and don't disable it with -p no:xdist)"
        )
    option = config.option
    numprocesses = getattr(option, "numprocesses", None)
    if numprocesses or getattr(option, "dist", "no") != "no" or getattr(option, "tx", None):
        given = f"-n {numprocesses}" if numprocesses else f"--dist {option.dist}" if option.dist != "no" else "--tx"
        raise usage_error(
            f"--dualdb-redirect already runs the suite in two xdist workers, one per engine, "
            f"side by side; remove {given} (within each engine the tests run one after the other)"
        )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """After the plugin's own: the controller's helper, or a worker's engine."""
    if hasattr(config, "workerinput"):
        _configure_worker(config)
    elif requested(config) and not config.getoption("collectonly"):
        config.pluginmanager.register(Controller(config), "dualdb-redirect-controller")


class Controller:
    """The controller's part: the server for the PostgreSQL worker, each worker's engine."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.saved_env: dict[str, str | None] = {}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self, config: pytest.Config, specs) -> None:  # noqa: ANN001
        """Before the workers start: the server they will use, in the environment they inherit."""
        from dualdb.engines import postgres
        from dualdb.plugin.stash import state_of

        state = state_of(config)
        with usage_errors():
            state.provisioner.check_server()  # starts the local server, or reaches the user's
            url = state.provisioner.shared_server_url()
        external = url is None
        if external:
            url = postgres.parse_url(state.settings.pg_url).render_as_string(hide_password=False)
        for name, value in ((SERVER_ENV, url), (EXTERNAL_ENV, "1" if external else "0")):
            self.saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:  # noqa: ANN001 - xdist's WorkerController
        node.workerinput["dualdb_redirect_leg"] = node.gateway.spec.env.get(LEG_ENV)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A worker's leg (pickled with its teardown report), back to the ``report.dualdb`` the
        plugin's ``LegCollector`` reads."""
        data = report.__dict__.pop("dualdb_leg_pickle", None)
        if data is not None:
            import pickle

            report.dualdb = pickle.loads(data)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Before the report is written: keep only the tests that touched a database in a leg."""
        from dualdb.plugin.stash import state_of

        keep_database_tests(state_of(session.config).legs)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def keep_database_tests(legs: dict[str, Mapping[str, LegPayload]]) -> None:
    """A test is a database test when it ran a statement (or observed a value) in either leg."""
    for nodeid in [n for n, pair in legs.items() if not any(leg.database_test for leg in pair.values())]:
        del legs[nodeid]


# -- a worker: one engine's leg of every test -------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Before the first conftest is imported: hook engine creation in a redirect worker."""
    leg = os.environ.pop(LEG_ENV, None)  # not inherited by pytest runs the suite itself starts
    if leg not in LEGS or "PYTEST_XDIST_WORKER" not in os.environ:
        return
    from dualdb.redirect import engines

    namespaces = None
    if leg == "postgresql":
        from dualdb.redirect.namespaces import Namespaces

        namespaces = Namespaces(
            os.environ[SERVER_ENV],
            collation=setting("pg_collation", early_config.getoption, early_config.getini),
            external=os.environ.get(EXTERNAL_ENV) == "1",
        )
    engines.install(leg, namespaces, timezone=setting("pg_timezone", early_config.getoption, early_config.getini))


def _configure_worker(config: pytest.Config) -> None:
    """A redirect worker: one engine, its settings, the captures of the suite's engines."""
    leg = getattr(config, "workerinput", {}).get("dualdb_redirect_leg")
    if not leg:
        return
    from dualdb.redirect import engines
    from dualdb.plugin.stash import SETTINGS_KEY, state_of

    hook = engines.ACTIVE
    if hook is None or hook.leg != leg:
        raise usage_error(f"this redirect worker ({leg}) started without its engine hook")
    # no parametrization: each worker is one engine; the plugin's own fixtures use that engine
    settings = config.stash[SETTINGS_KEY]
    config.stash[SETTINGS_KEY] = dataclasses.replace(settings, dual=False, default_backend=leg, redirect_leg=leg)
    state = state_of(config)
    state.worker_legs = None  # each leg travels with its report; its sibling is in the other worker
    # one engine per process: no other engine's legs to keep os.environ changes from, so the
    # worker leaves the environment alone, as the suite's own run does (copying it twice a test
    # was about a millisecond per test)
    state.environ = _SingleTimeline()
    state.extra_captures.setdefault(leg, [])
    state.extra_captures[leg] = hook.captures  # the same list: engines created later join it
    state.backend_info[leg] = _describe(hook)


class _SingleTimeline:
    """``process_state.EnvironTimelines`` for a process that runs one engine's legs only."""

    def enter(self, backend: str) -> None:
        pass

    def leave(self, backend: str) -> None:
        pass


def _describe(hook) -> BackendInfo:  # noqa: ANN001
    if hook.namespaces is not None:
        return hook.namespaces.describe()
    import sqlite3

    return BackendInfo(sqlite3.sqlite_version, "the suite's own SQLite engines")


def _leg_name(config: pytest.Config) -> str | None:
    return getattr(config, "workerinput", {}).get("dualdb_redirect_leg")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):  # noqa: ANN001, ANN201
    """Every test is a leg of this worker's engine (kept only if it touched a database)."""
    leg_name = _leg_name(item.config)
    if not leg_name:
        return (yield)
    from dualdb.redirect import engines
    from dualdb.plugin.stash import LEG_KEY
    from dualdb.plugin import _begin_leg, _end_leg
    from dualdb.plugin.stash import state_of

    state, hook = state_of(item.config), engines.ACTIVE
    for note in hook.pending_notes():
        if note not in state.warnings:
            state.warnings.append(note)
    _begin_leg(item, state, leg_name)
    hook.active_leg = item.stash[LEG_KEY]
    try:
        return (yield)
    finally:
        hook.active_leg = None
        _end_leg(item, state, leg_name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):  # noqa: ANN001, ANN201
    """The leg's payload: keyed by the test's own node id, marked when it touched a database."""
    report = yield
    payload = getattr(report, "dualdb", None)
    if payload is not None and _leg_name(item.config):
        payload.nodeid = item.nodeid
        payload.database_test = touched_database(payload)
        # one bytes value instead of a tree of a few hundred strings and numbers: execnet
        # serialises the report's attributes object by object in Python, pickle in C. The
        # leg is plain data (the same types arrive), read back by ``Controller.pytest_runtest_logreport``
        import pickle

        report.dualdb_leg_pickle = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        del report.dualdb
    return report


def touched_database(payload: LegPayload) -> bool:
    """Whether a leg read or wrote data, or observed a value.

    The suite's own ``create_all``/``drop_all`` in an autouse fixture runs on
    every test; DDL and transaction control alone don't make a database test.
    """
    from dualdb.sql import is_compared_verb, statement_verb

    if payload.observations:
        return True
    return any(is_compared_verb(statement_verb(s.sql)) for s in payload.statements)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _leg_name(config):
        return
    from dualdb.redirect import engines

    for problem in engines.uninstall():
        config.issue_config_time_warning(pytest.PytestWarning(f"pytest-dualdb: {problem}"), stacklevel=2)
