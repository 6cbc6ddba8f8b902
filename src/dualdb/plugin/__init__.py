"""pytest hooks only: options, ini keys, markers, parametrization, and handing legs to the run state.

The logic lives in plain modules (``config``, ``backends``, ``capture``,
``compare``, ``report``); the fixtures are in ``fixtures``.

Installed but unused (plain ``pytest``, no ``--dual-db``, no database test), the
plugin must cost next to nothing, as pytest-django does: this module imports
only what its hooks need at start-up (``config``, ``errors``, the fixture
*definitions*), and the run state (SQLAlchemy, psycopg, capture, reports) is
built on first use by ``state_of``. ``benchmarks/bench_idle.py`` measures it.

pytest marks every top-level package of a plugin's distribution for assertion
rewriting, so each ``dualdb`` module would be parsed, rewritten and compiled
again in every process (and xdist worker) where bytecode is not written
(``PYTHONDONTWRITEBYTECODE=1``, common in Docker images): about 0.5-1.5 s per
process for modules that have no test assertions to rewrite. The first thing
this module does is take ``dualdb`` off that list (``_skip_assertion_rewriting``),
so the rest of the package loads through Python's own import and its ``.pyc``
files. ``benchmarks/bench_startup.py`` measures it.
"""

from __future__ import annotations

import sys


def _skip_assertion_rewriting() -> None:
    """Take the ``dualdb`` package off pytest's rewrite list before its modules are imported.

    The list is private to pytest's ``AssertionRewritingHook`` (``_must_rewrite``); when a
    pytest version has no such attribute, nothing changes and the package is rewritten as
    before. The fixture modules (``pytest_plugins`` below) are marked by pytest by name and
    stay rewritten: three small modules.
    """
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        if isinstance(marked, set) and "dualdb" in marked:
            marked.discard("dualdb")
            cache = getattr(finder, "_marked_for_rewrite_cache", None)
            if isinstance(cache, dict):
                cache.clear()


_skip_assertion_rewriting()

import dataclasses  # noqa: E402 - after _skip_assertion_rewriting, like every import below
import os  # noqa: E402
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dualdb import config as config_mod
from dualdb.records import LegPayload
from dualdb.run.pairing import make_scheduler
from dualdb.plugin.usage import usage_error, usage_errors
from dualdb.plugin.stash import (
    EARLY_SERVER_KEY,
    FINISHED_KNOWN_KEY,
    LEG_KEY,
    PAIRED_KEY,
    REPORT_KEY,
    RERUN_KEY,
    SETTINGS_KEY,
    SHADOWED_KEY,
    STATE_KEY,
    settings_of,
    state_of,
)

if TYPE_CHECKING:
    from dualdb.run.state import RunState

# the fixtures, and redirect mode's hooks (idle unless --dualdb-redirect), are plugins of their own
pytest_plugins = ["dualdb.plugin.fixtures", "dualdb.plugin.async_fixtures", "dualdb.plugin.redirect"]
BACKEND_FIXTURE = "dualdb_backend"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare ``config.OPTIONS`` (the one option table) to pytest."""
    group = parser.getgroup("dualdb", "pytest-dualdb: run database tests on SQLite and PostgreSQL")
    for option in config_mod.OPTIONS:
        if option.flag and option.metavar:
            group.addoption(option.flag, dest=option.dest, metavar=option.metavar, help=option.help)
        elif option.flag:
            group.addoption(option.flag, dest=option.dest, action="store_true", help=option.help)
        if option.ini:
            ini_help = option.ini_help or option.help
            if option.ini_type:
                parser.addini(option.ini, ini_help, type=option.ini_type)
            else:
                parser.addini(option.ini, ini_help)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dualdb_known(reason, category=None, xfail=False): an acknowledged SQLite/PostgreSQL divergence; "
        "reported as known, never fails --dualdb-strict. xfail=True: the leg that fails (one engine) is "
        "reported as xfailed",
    )
    _check_value_options(config)
    with usage_errors():
        settings = config_mod.resolve(config.getoption, config.getini)
    workerinput = getattr(config, "workerinput", {})
    if workerinput.get("dualdb_pg_url"):
        # an xdist worker: use the server the controller started (one server per run)
        settings = dataclasses.replace(settings, pg_url=workerinput["dualdb_pg_url"], shared_server=True)
    if workerinput.get("dualdb_run_id"):
        # an xdist worker: clone the run's template database; the controller drops it
        settings = dataclasses.replace(settings, run_id=workerinput["dualdb_run_id"], shared_template=True)
    if settings.baseline is not None and not workerinput:
        from dualdb.report.baseline import load_baseline

        with usage_errors():
            load_baseline(settings.baseline)  # a bad baseline fails now, not after the whole run
    config.stash[SETTINGS_KEY] = settings
    config.stash[FINISHED_KNOWN_KEY] = {}
    config.stash[SHADOWED_KEY] = {}
    if not workerinput:
        _start_server_early(config, settings)
        config.pluginmanager.register(LegCollector(config), "dualdb-leg-collector")
        if settings.dual and not settings.redirect and not settings.metadata_specs and not settings.alembic_config:
            from dualdb.adoption import NO_SCHEMA

            config.issue_config_time_warning(pytest.PytestWarning(NO_SCHEMA), stacklevel=2)


def _start_server_early(config: pytest.Config, settings: config_mod.Settings) -> None:
    """A ``--dual-db`` run on our own server: start it now, in a thread, while pytest collects
    (``engines.server.early``). Its errors surface where the run first needs it, as before;
    a run that needs none stops it at unconfigure."""
    option = config.option
    if not settings.dual or settings.pg_url or any(
        getattr(option, name, False) for name in ("collectonly", "help", "showfixtures", "show_fixtures_per_test",
                                                  "markers")
    ):
        return
    from dualdb.engines.server.early import EarlyServer

    config.stash[EARLY_SERVER_KEY] = EarlyServer(
        settings.pg_binaries, settings.pg_timezone, f"{config.rootpath}|{config.inipath}", settings.rebuild
    )


def _check_value_options(config: pytest.Config) -> None:
    """``--dualdb-baseline FILE`` (a space, FILE exists) misleads pytest's rootdir and ini search: stop."""
    args = [*os.environ.get("PYTEST_ADDOPTS", "").split(), *config.invocation_params.args]
    if not any(str(arg).startswith("--dualdb-") for arg in args):
        return
    from dualdb.adoption import value_option_mistake

    mistake = value_option_mistake([str(arg) for arg in args], Path(config.invocation_params.dir))
    if mistake:
        raise pytest.UsageError(mistake)


class LegCollector:
    """Receives every leg, locally or from xdist workers, through the test reports."""

    def __init__(self, config: pytest.Config):
        self.config = config

    @property
    def state(self) -> RunState:
        return state_of(self.config)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        payload = getattr(report, "dualdb", None)  # a LegPayload: the leg ran in this process
        legs = getattr(report, "dualdb_legs", None)  # plain data: it may have crossed from an xdist worker
        if not payload and not legs:
            return  # most reports: don't build the run state for them
        if payload and report.when == "teardown":
            self.state.record_leg(payload.nodeid, payload.backend, payload)
            del report.dualdb  # recorded; the report outlives the run (terminal stats): don't pin the leg
        # a `dual` test (both engines at once), or a pair an xdist worker compared
        if legs:
            report.dualdb_legs = None  # the report outlives the run (terminal stats): keep one copy, the record
        for leg in map(LegPayload.from_dict, legs or ()):
            self.state.record_leg(leg.nodeid, leg.backend, leg)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:  # noqa: ANN001 - xdist's WorkerController
        """Legs a worker still held at its end: their siblings ran on another worker."""
        output = getattr(node, "workeroutput", None) or {}
        for where, tests in (output.get("dualdb_shadowed") or {}).items():  # each worker collected them all
            shadowed = self.config.stash[SHADOWED_KEY]
            shadowed[where] = max(shadowed.get(where, 0), tests)
        if not output.get("dualdb_legs") and not output.get("dualdb_reruns"):
            return
        for leg in map(LegPayload.from_dict, output.get("dualdb_legs") or ()):
            self.state.record_leg(leg.nodeid, leg.backend, leg)
        for leg in map(LegPayload.from_dict, output.get("dualdb_reruns") or ()):  # diverged tests the worker ran again
            self.state.record_rerun(leg)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    """``--dist load`` (xdist's default) in a dual run: both legs of a test on one worker."""
    if settings_of(config).dual and config.getvalue("dist") == "load":
        return make_scheduler(config, log)
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    """xdist controller: check the setup once, here, before workers start and each fail alike."""
    config = session.config
    if hasattr(config, "workerinput") or not config.pluginmanager.has_plugin("dsession"):
        return
    state = state_of(config)
    with usage_errors():
        state.provisioner.metadatas  # noqa: B018 - imports and validates dualdb_metadata
        state.provisioner.check_server()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # noqa: ANN001 - xdist's WorkerController
    """xdist controller: start the one local server of the run and hand its URL to each worker."""
    state = state_of(node.config)
    with usage_errors():
        url = state.provisioner.shared_server_url()
    if url:
        node.workerinput["dualdb_pg_url"] = url
    node.workerinput["dualdb_run_id"] = state.settings.run_id
    state.xdist_controller = True


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)  # None: nothing used the plugin in this run
    early = config.stash.get(EARLY_SERVER_KEY, None)
    if state is None and early is not None:
        early.discard()  # a --dual-db run without database tests
    if state is not None:
        if state.xdist_controller:
            try:
                state.provisioner.drop_run_template()
            except Exception as exc:  # report, keep tearing down
                config.issue_config_time_warning(
                    pytest.PytestWarning(f"pytest-dualdb: could not drop the run's template database: {exc}"),
                    stacklevel=2,
                )
        for problem in state.close():
            config.issue_config_time_warning(pytest.PytestWarning(f"pytest-dualdb: {problem}"), stacklevel=2)


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize database tests over the backends (only with --dual-db)."""
    if BACKEND_FIXTURE not in metafunc.fixturenames:
        return
    if any(BACKEND_FIXTURE in _argnames(m) for m in metafunc.definition.iter_markers("parametrize")):
        return  # the test chose its backends itself
    settings = settings_of(metafunc.config)
    if settings.dual:
        metafunc.parametrize(BACKEND_FIXTURE, list(settings.backends_for_run()), indirect=True, scope="session")


def _argnames(marker: pytest.Mark) -> list[str]:
    names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
    if isinstance(names, str):
        return [n.strip() for n in names.split(",")]
    return list(names)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """A serial dual run: each unit of tests runs its SQLite legs, then its PostgreSQL legs.

    After pytest's own reordering (all SQLite legs first: the backend is a
    session-scoped parameter) and any plugin's (pytest-randomly, ``--ff``), whose
    order the legs keep (``run.pairing.serial_order``). On xdist the scheduler
    keeps a test's legs together instead (``run.pairing.make_scheduler``).
    """
    if not settings_of(config).dual or hasattr(config, "workerinput") or config.pluginmanager.has_plugin("dsession"):
        return
    from dualdb.run.pairing import serial_order

    legs = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get(BACKEND_FIXTURE) if callspec is not None else None
        legs.append((item.nodeid, backend) if backend in config_mod.BACKEND_NAMES else None)
    if any(legs):
        items[:] = [items[position] for position in serial_order(legs)]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Provision the backends the selected tests need now, so a bad setup fails once, at start."""
    if session.config.option.collectonly:
        return
    settings = settings_of(session.config)
    needed: set[str] = set()
    for item in session.items:
        needed.update(backends_of(item, settings))
        if "dual" in getattr(item, "fixturenames", ()):  # `dual` runs both engines in one test
            needed.update(("sqlite", "postgresql"))
            from dualdb.plugin.fixtures import allow_dual_in_given

            allow_dual_in_given(item)
        _check_known_marker(item)
    _check_client_extra(session.items)
    if settings.dual and not settings.redirect:  # redirect mode runs the suite's own fixtures on purpose
        from dualdb.adoption import shadowed_fixtures

        session.config.stash[SHADOWED_KEY] = shadowed_fixtures(
            session.items, session.config.rootpath, BACKEND_FIXTURE
        )
    if not needed and not settings.metadata_specs:
        return  # no database test selected: don't build the run state (an idle plugin costs nothing)
    state = state_of(session.config)
    with usage_errors():
        state.provisioner.metadatas  # import errors surface before any server starts  # noqa: B018
        for name in ("sqlite", "postgresql"):
            if name in needed:
                state.backend(name)


def _check_known_marker(item: pytest.Item) -> None:
    """A ``dualdb_known`` marker with wrong arguments stops the run, like a wrong call."""
    if item.get_closest_marker("dualdb_known") is None:
        return
    from dualdb.plugin.legs import known_marker

    try:
        known = known_marker(item)
    except TypeError as exc:
        raise usage_error(f"{item.nodeid}: dualdb_known: {exc}") from None
    if known and known.xfail and "dual" in getattr(item, "fixturenames", ()):
        raise usage_error(
            f"{item.nodeid}: dualdb_known(xfail=True) marks the failing leg of a test run "
            "once per engine; a test using `dual` runs both engines in one test: use @pytest.mark.xfail"
        )


def _check_client_extra(items: list[pytest.Item]) -> None:
    """Tests using the plugin's ``client`` without FastAPI installed: one line at start, not one per test."""
    clients = [item for item in items if "client" in getattr(item, "fixturenames", ())]
    if not clients:
        return
    import importlib.util

    if importlib.util.find_spec("fastapi") is not None and importlib.util.find_spec("httpx") is not None:
        return
    from dualdb.adoption import MISSING_EXTRA_CLIENT, uses_plugin_fixture
    from dualdb.errors import MISSING_EXTRA

    ours = sum(  # tests, not legs
        uses_plugin_fixture(item, "client") and backends_of(item, settings_of(item.config)) != ["postgresql"]
        for item in clients
    )
    if ours:
        feature = MISSING_EXTRA_CLIENT.format(count=ours)
        missing = "fastapi" if importlib.util.find_spec("fastapi") is None else "httpx"
        raise usage_error(MISSING_EXTRA.format(feature=feature, package=missing,
                                                                          extra="fastapi"))


def backends_of(item: pytest.Item, state: RunState | config_mod.Settings) -> list[str]:
    """The backend(s) a database test runs on; ``[]`` for a test that uses no database fixture."""
    names = getattr(item, "fixturenames", ())
    if BACKEND_FIXTURE not in names:
        return []
    callspec = getattr(item, "callspec", None)
    if callspec is not None and BACKEND_FIXTURE in callspec.params:
        return [callspec.params[BACKEND_FIXTURE]]
    settings = state if isinstance(state, config_mod.Settings) else state.settings
    return [settings.default_backend]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):  # noqa: ANN001
    settings = settings_of(item.config)
    backends = backends_of(item, settings) if settings.dual else ()
    state = state_of(item.config) if backends else None
    if backends:
        _begin_leg(item, state, backends[0])
    try:
        return (yield)
    finally:
        if backends:
            _end_leg(item, state, backends[0])


def _begin_leg(item: pytest.Item, state: RunState, backend: str) -> None:
    """Before a leg: its recorder, the backend's environment, the test's seeds, capture on."""
    from dualdb.ids import base_nodeid
    from dualdb.capture.reseed import reseed, seed_for, seed_hypothesis

    leg = state.new_leg(backend)
    item.stash[LEG_KEY] = leg
    state.environ.enter(backend)
    seed = seed_for(base_nodeid(item.nodeid, backend))
    reseed(seed)
    # on the run state, not the item's stash: one leg runs at a time, and a stash's dict
    # grown by one more key stays grown for the whole session, on every item
    state.unseed = seed_hypothesis(getattr(item, "obj", None), seed)
    state.entropy.enter(seed)
    state.start_capture(leg)


def _end_leg(item: pytest.Item, state: RunState, backend: str) -> None:
    leg = item.stash.get(LEG_KEY, None)
    if leg is not None:
        state.stop_capture(leg)
    state.entropy.leave()
    unseed, state.unseed = state.unseed, None
    if unseed is not None:
        unseed()
    state.environ.leave(backend)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):
    """After the run: run each diverged test again on both engines (``dualdb_reruns``).

    Serially, or on the xdist worker that ran both legs of the test (the
    controller runs no tests); a pair whose legs ran on two workers is not re-run.
    """
    result = yield
    if not settings_of(session.config).dual:
        return result
    state = state_of(session.config)
    if (
        state.settings.dual and state.settings.reruns
        and not session.config.pluginmanager.has_plugin("dsession")
        and not (session.shouldfail or session.shouldstop)
    ):
        diverged = state.worker_legs.diverged if state.worker_legs is not None else state.diverged_tests()
        _rerun_diverged(session, state, diverged)
    return result


def _rerun_diverged(session: pytest.Session, state: RunState, diverged: list[str]) -> None:
    """Both legs of every diverged test, again, quietly: pytest's terminal shows the first run only.

    All SQLite legs run first, then all PostgreSQL legs, as in a unit of the run
    (``run.pairing.serial_order``), so the session-scoped backend fixtures switch once.
    """
    from _pytest.runner import runtestprotocol

    from dualdb.ids import base_nodeid

    if not diverged:
        return
    items: dict[tuple[str, str], pytest.Item] = {}
    for item in session.items:
        for backend in backends_of(item, state):
            items[(base_nodeid(item.nodeid, backend), backend)] = item
    for _ in range(state.settings.reruns):
        order = [items[(n, b)] for b in ("sqlite", "postgresql") for n in diverged if (n, b) in items]
        for position, item in enumerate(order):
            item.stash[RERUN_KEY] = True
            nextitem = order[position + 1] if position + 1 < len(order) else None
            backend = backends_of(item, state)[0]
            _begin_leg(item, state, backend)
            try:
                runtestprotocol(item, nextitem=nextitem, log=False)
            finally:
                _end_leg(item, state, backend)
                del item.stash[RERUN_KEY]




@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    leg = item.stash.get(LEG_KEY, None)
    if leg is not None:
        from dualdb.plugin.legs import apply_phase, expect_known_failure, leg_payload

        apply_phase(leg, report, call)
        expect_known_failure(item, leg, report, item.config.stash[FINISHED_KNOWN_KEY])
        if report.when == "teardown":
            state = state_of(item.config)
            state.stop_capture(leg)
            leg.finish()
            payload = leg_payload(item, leg, state)
            if item.stash.get(RERUN_KEY, False):
                state.record_rerun(payload)
            elif state.worker_legs is not None:
                report.dualdb_legs = [leg.to_dict() for leg in state.worker_legs.add(payload)]  # to the controller
            else:
                report.dualdb = payload
            del item.stash[LEG_KEY]  # the payload has it all; don't keep every leg alive
    elif PAIRED_KEY in item.stash:
        from dualdb.plugin.legs import paired_phase

        paired_phase(item, item.stash[PAIRED_KEY], report, call, state_of(item.config))
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):  # the controller collects nothing: it says what the workers found
        config.workeroutput["dualdb_shadowed"] = config.stash.get(SHADOWED_KEY, {})
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return  # nothing used the plugin in this run
    if state.worker_legs is not None:
        config.workeroutput["dualdb_legs"] = [leg.to_dict() for leg in state.worker_legs.flush()]
        config.workeroutput["dualdb_reruns"] = [leg.to_dict() for by_backend in state.reruns.values()
                                                for legs in by_backend.values() for leg in legs]
        return
    if not state.settings.dual or not state.legs:
        return
    from dualdb.report.finish import finish_report

    outcome = finish_report(state)
    config.stash[REPORT_KEY] = outcome
    state.legs.clear()  # written: pytest's closing garbage collections needn't walk them
    blocked = outcome.blocking or outcome.blocking_schema
    if state.settings.strict and blocked and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if outcome.unexpected and session.exitstatus == pytest.ExitCode.OK:
        # dualdb_known(xfail=True) legs that were both xfailed in different processes: a real failure
        session.exitstatus = pytest.ExitCode.TESTS_FAILED




def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    outcome = config.stash.get(REPORT_KEY, None)
    shadowed = config.stash.get(SHADOWED_KEY, None)
    if outcome is None and not shadowed:
        return
    terminalreporter.section("pytest-dualdb: SQLite vs PostgreSQL")
    if shadowed:
        from dualdb.adoption import shadowed_line

        terminalreporter.write_line(shadowed_line(shadowed), yellow=True, bold=True)
    if outcome is None:
        return
    for line in outcome.lines:
        terminalreporter.write_line(line)
    for line in outcome.unexpected_lines:
        terminalreporter.write_line(line, red=True)
    if settings_of(config).strict:
        for line in outcome.strict_lines():
            terminalreporter.write_line(line, red=True)

