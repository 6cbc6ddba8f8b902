"""Every key the plugin keeps on pytest's stashes, and the accessors of the run's state.

pytest-django's shape: run state lives in ``config.stash`` under keys declared
once, next to their type; hooks reach it through ``state_of(config)``, fixtures
receive it by injection (the private session fixture ``_dualdb_state`` in
``fixtures``). Neither the hook module nor the fixture modules import each
other for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dualdb.capture.recorder import LegRecorder  # noqa: F401 - named in LEG_KEY
    from dualdb.config import Settings
    from dualdb.run.state import RunState

# -- on the config: one run ------------------------------------------------------------
SETTINGS_KEY = pytest.StashKey["Settings"]()
STATE_KEY = pytest.StashKey["RunState"]()
FINISHED_KNOWN_KEY = pytest.StashKey[dict]()  # dualdb_known(xfail=True): test id -> outcome of its first leg
REPORT_KEY = pytest.StashKey[object]()  # report.finish.ReportOutcome, for the terminal summary
SHADOWED_KEY = pytest.StashKey[dict]()  # "`db_session` (tests/conftest.py:12)" -> tests it kept on one engine
EARLY_SERVER_KEY = pytest.StashKey[Any]()  # engines.server.early.EarlyServer, started at configure time

# -- on an item: one leg -----------------------------------------------------------------
LEG_KEY = pytest.StashKey["LegRecorder"]()
PAIRED_KEY = pytest.StashKey[Any]()  # the `dual` fixture's Paired, for the report
PAIRED_OUTCOME_KEY = pytest.StashKey[Any]()  # a `dual` test's outcome, folded phase by phase
RERUN_KEY = pytest.StashKey[bool]()  # this run of the item is a re-run of a diverged test


def settings_of(config: pytest.Config) -> Settings:
    """The run's settings, resolved at configure time (cheap: no database code imported)."""
    return config.stash[SETTINGS_KEY]


def state_of(config: pytest.Config) -> RunState:
    """The run state, built on first use: a run that never touches a database never imports
    SQLAlchemy, psycopg or the comparison through this plugin."""
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        from dualdb.run.pairing import WorkerLegs
        from dualdb.run.state import RunState

        workerinput = getattr(config, "workerinput", {})
        state = RunState(settings_of(config), workerinput.get("workerid", "main"))
        if workerinput:  # an xdist worker pairs legs itself and sends them on (run/pairing.py)
            state.worker_legs = WorkerLegs()
        state.provisioner.early_server = config.stash.get(EARLY_SERVER_KEY, None)
        config.stash[STATE_KEY] = state
    return state
